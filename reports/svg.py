"""A Plotly figure (from the insights chart builders) drawn as SVG with matplotlib, for PDF reports
(docs/alerts-and-reports.md#pdf-reports): lines, markers, bars, funnels and heatmaps, with their
axis titles and legend. Interactive details (hover, colours per point) are left out."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 8})  # text stays text: pdftotext reads it


def _values(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, dict) and "bdata" in v:  # plotly's typed arrays
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(np.asarray(v, dtype=object).ravel()) if not isinstance(v, list) else v


def _axis(values: list[Any]) -> list[Any]:
    out = []
    for x in values:
        if isinstance(x, str) and len(x) >= 10 and x[4:5] == "-" and x[7:8] == "-":
            try:
                out.append(dt.datetime.fromisoformat(x))
                continue
            except ValueError:
                pass
        out.append(x)
    return out


def _colour(trace: dict[str, Any], key: str) -> Any:
    c = (trace.get(key) or {}).get("color")
    return c if isinstance(c, str) else None


def _draw(ax: Any, trace: dict[str, Any], index: int, bars: int) -> None:
    kind, name = trace.get("type", "scatter"), trace.get("name")
    x, y = _axis(_values(trace.get("x"))), _axis(_values(trace.get("y")))
    if kind == "heatmap":
        z = np.array([[np.nan if v is None else v for v in row] for row in trace.get("z") or []], dtype=float)
        if z.size:
            ax.imshow(z, aspect="auto", cmap="Blues")
            ax.set_xticks(range(len(x)), [str(v) for v in x], rotation=90)
            ax.set_yticks(range(len(y)), [str(v) for v in y])
    elif kind in ("bar", "funnel"):
        horizontal = kind == "funnel" or trace.get("orientation") == "h"
        width = 0.8 / max(bars, 1)
        labels, values = (y, x) if horizontal else (x, y)
        pos = np.arange(len(labels)) + (index - (bars - 1) / 2) * width
        values = [0 if v is None else v for v in values]
        (ax.barh if horizontal else ax.bar)(pos, values, width, label=name, color=_colour(trace, "marker"))
        (ax.set_yticks if horizontal else ax.set_xticks)(np.arange(len(labels)), [str(v)[:28] for v in labels])
    else:
        mode = trace.get("mode") or "lines"
        y = [np.nan if v is None else v for v in y]
        style = ("-" if "lines" in mode else "") + ("o" if "markers" in mode else "")
        ax.plot(x, y, style or "-", label=name, markersize=3, color=_colour(trace, "line") or _colour(trace, "marker"))


def figure_svg(figure: Any, *, width: float = 7.0, height: float = 2.8) -> str:
    """The SVG text of a Plotly figure (a ``go.Figure`` or its dict)."""
    fig = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else figure
    traces = [dict(t) for t in fig.get("data") or []]
    layout = fig.get("layout") or {}
    chart, ax = plt.subplots(figsize=(width, height))
    try:
        bars = sum(1 for t in traces if t.get("type") in ("bar", "funnel"))
        for i, t in enumerate(traces):
            _draw(ax, t, i if t.get("type") in ("bar", "funnel") else 0, bars)
        for axis, setter in (("xaxis", ax.set_xlabel), ("yaxis", ax.set_ylabel)):
            title = (layout.get(axis) or {}).get("title")
            setter((title or {}).get("text", "") if isinstance(title, dict) else (title or ""))
        if not traces:
            notes = [a.get("text", "") for a in layout.get("annotations") or []]
            ax.text(0.5, 0.5, " ".join(notes) or "No data", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        if sum(1 for t in traces if t.get("name")) > 1:
            ax.legend(fontsize=7, frameon=False)
        if any(isinstance(v, dt.datetime) for t in traces for v in _axis(_values(t.get("x")))[:1]):
            chart.autofmt_xdate()
        chart.tight_layout()
        out = io.StringIO()
        chart.savefig(out, format="svg")
        return out.getvalue()
    finally:
        plt.close(chart)
