"""Plotly figures for the model report. PURE: report data in, figure dicts out (JSON for Plotly.js)."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from insights.charts import label_text  # Plotly renders HTML in figure text: every label is escaped

_LAYOUT: dict[str, Any] = {"margin": {"l": 50, "r": 20, "t": 40, "b": 50}, "height": 320,
                           "template": "plotly_white"}


def _dict(fig: go.Figure) -> dict[str, Any]:
    return json.loads(fig.to_json())


def calibration_figure(calibration: list[dict]) -> dict[str, Any]:
    """Predicted probability vs observed conversion per bin, with the diagonal of perfect calibration."""
    rows = [r for r in calibration if r["carts"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "#999"}))
    fig.add_trace(go.Scatter(
        x=[r["mean_predicted"] for r in rows], y=[r["observed_rate"] for r in rows], mode="lines+markers",
        name="chosen model", text=[f"{r['carts']} carts" for r in rows],
        marker={"size": [max(6, min(22, r["carts"] ** 0.5)) for r in rows]}))
    fig.update_layout(title="Calibration on the holdout", xaxis_title="predicted probability",
                      yaxis_title="observed conversion", xaxis_range=[0, 1], yaxis_range=[0, 1], **_LAYOUT)
    return _dict(fig)


def importances_figure(importances: list[dict], top: int = 15) -> dict[str, Any]:
    rows = list(reversed(importances[:top]))
    fig = go.Figure(go.Bar(x=[r["importance"] for r in rows], y=[label_text(r["feature"]) for r in rows],
                           orientation="h", error_x={"type": "data", "array": [r["std"] for r in rows]}))
    fig.update_layout(title="Permutation importance (holdout ROC AUC drop)", xaxis_title="ROC AUC drop",
                      **{**_LAYOUT, "height": max(320, 24 * len(rows) + 80)})
    return _dict(fig)


def _plotly_time(iso: str) -> str:
    """An ISO 8601 UTC time as Plotly reads a date ("YYYY-MM-DD HH:MM:SS"; an offset would make it a label)."""
    return iso[:19].replace("T", " ")


def versions_figure(history: list[dict]) -> dict[str, Any]:
    """One point per training on a date axis (UTC): the chosen model's and the logistic baseline's holdout
    ROC AUC, with the chosen family in the hover text."""
    fig = go.Figure()
    x = [_plotly_time(h["trained_at"]) for h in history]
    fig.add_trace(go.Scatter(x=x, y=[h["roc_auc"] for h in history], mode="lines+markers", name="chosen model",
                             text=[label_text(f"v{h['pk']} {h.get('family_label') or ''}"
                                              f"{' (active)' if h['is_active'] else ''}") for h in history]))
    fig.add_trace(go.Scatter(x=x, y=[h["baseline_roc_auc"] for h in history], mode="lines+markers",
                             name="logistic baseline", line={"dash": "dash"}))
    fig.update_layout(title="Holdout ROC AUC by training", yaxis_title="ROC AUC", yaxis_range=[0.4, 1],
                      xaxis={"type": "date", "title": "trained (UTC)"}, **_LAYOUT)
    return _dict(fig)


def families_calibration_figure(families: dict[str, dict]) -> dict[str, Any]:
    """Holdout calibration of every family (after its calibration on the validation slice)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "#999"}))
    for report in families.values():
        rows = [r for r in report["calibration"] if r["carts"]]
        fig.add_trace(go.Scatter(x=[r["mean_predicted"] for r in rows], y=[r["observed_rate"] for r in rows],
                                 mode="lines+markers", name=label_text(report["label"]),
                                 text=[f"{r['carts']} rows" for r in rows]))
    fig.update_layout(title="Calibration on the holdout, per family", xaxis_title="predicted probability",
                      yaxis_title="observed rate", xaxis_range=[0, 1], yaxis_range=[0, 1], **_LAYOUT)
    return _dict(fig)


def baseline_figure(metrics: dict) -> dict[str, Any]:
    names = [label_text(metrics.get("choice", {}).get("label", "chosen model")), "logistic regression", "base rate"]
    parts = [metrics["model"], metrics["baselines"]["logistic_regression"], metrics["baselines"]["base_rate"]]
    fig = go.Figure()
    for key, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("brier", "Brier (lower is better)")):
        fig.add_trace(go.Bar(name=label, x=names, y=[p.get(key) for p in parts]))
    fig.update_layout(title="Model vs baselines (holdout)", barmode="group", yaxis_range=[0, 1], **_LAYOUT)
    return _dict(fig)


def clv_holdout_figure(holdout: dict[str, Any]) -> dict[str, Any]:
    """Predicted CLV's holdout check: mean repeat orders in the holdout, expected vs actual, by the number of
    repeat orders in the calibration period (Fader, Hardie & Lee 2005, Figure 4)."""
    rows = holdout["rows"]
    groups = [r["repeat_orders"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=groups, y=[r["actual"] for r in rows], name="actual",
                         text=[f"{r['customers']} customers" for r in rows]))
    fig.add_trace(go.Bar(x=groups, y=[r["predicted"] for r in rows], name="BG/NBD expected"))
    fig.update_layout(title=f"Repeat orders in the {holdout['holdout_days']}-day holdout",
                      xaxis_title="repeat orders before the holdout", yaxis_title="orders per customer",
                      barmode="group", **_LAYOUT)
    return _dict(fig)
