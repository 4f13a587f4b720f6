"""What experiments add to insights pages (``insights.extensions``, ``insights.customer_scopes``): the
experiments' sentences and recommendation on the Insights page, each experiment's start and end on the
overview's trend, and the experiment/variant filter of the funnel, carts and acquisition pages."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string

from experiments.selectors import ExposureScope, experiment_list
from insights.customer_scopes import register_customer_scope, scope_choices
from insights.extensions import register_page_extension

TREND = "events_over_time"


def insights_page(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    items = [{"name": e.name, "sentences": [s for s in r.sentences if not s.startswith("Day ")],
              "young": r.young, "recommendation": r.recommendation}
             for e, r in experiment_list() if r.variants]
    if not items:
        return {}
    return {"fragments": [render_to_string("experiments/_insights.html", {"items": items}, request=request)]}


def _marks(first: str, last: str) -> list[tuple[str, str]]:
    """(ISO time, label) of every experiment start and end between the trend's first and last point."""
    marks = []
    for e, _ in experiment_list():
        for when, what in ((e.started_at, "starts"), (e.ended_at, "ends")):
            if when is not None and first[:10] <= when.date().isoformat() <= last[:10]:
                marks.append((when.isoformat(), f"{e.name} {what}"))
    return marks


def overview_page(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    charts = dict(context.get("charts") or {})
    raw = charts.get(TREND)
    if not raw:
        return {}
    figure = json.loads(raw)
    xs = [str(x) for trace in figure.get("data", []) for x in (trace.get("x") or [])]
    if not xs:
        return {}
    layout = figure.setdefault("layout", {})
    for when, label in _marks(min(xs), max(xs)):
        layout.setdefault("shapes", []).append({"type": "line", "xref": "x", "yref": "paper", "x0": when, "x1": when,
                                                "y0": 0, "y1": 1, "line": {"dash": "dot", "width": 1}})
        layout.setdefault("annotations", []).append({"x": when, "xref": "x", "y": 1, "yref": "paper", "text": label,
                                                     "showarrow": False, "yanchor": "bottom", "font": {"size": 10}})
    text = json.dumps(figure).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {"charts": {**charts, TREND: text}}


def filter_choices(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The filter bar's experiment and variant choices (the variants of the chosen experiment, else all)."""
    choices = scope_choices()
    chosen = getattr(context.get("filter"), "experiment", None)
    variants = sorted({v for name, vs in choices for v in vs if chosen is None or name == chosen})
    return {"experiment_choices": [name for name, _ in choices], "variant_choices": variants}


def register() -> None:
    register_page_extension("insights", insights_page)
    register_page_extension("overview", overview_page)
    for page in ("funnel", "carts", "acquisition"):
        register_page_extension(page, filter_choices)
    register_customer_scope(ExposureScope())
