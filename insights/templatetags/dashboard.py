"""Template helpers for the dashboard pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from insights.charts import format_value
from insights.charts.common import currency

register = template.Library()


@register.simple_tag
def currency_symbol() -> str:
    """The store currency's symbol (``<html data-currency>``, read by dashboard.js)."""
    return currency()


@register.simple_tag(takes_context=True)
def chart(context: Any, name: str, label: str = "") -> str:
    """A chart container plus its figure as inert JSON; static/js/dashboard.js draws it."""
    figure = (context.get("charts") or {}).get(name)
    if figure is None:
        return ""
    return format_html(
        '<div class="chart" id="chart-{0}" data-figure="figure-{0}" role="img" aria-label="{1}"></div>'
        '<script type="application/json" id="figure-{0}">{2}</script>',
        name, label or name.replace("_", " "), _SafeJson(figure),
    )


class _SafeJson(str):
    """Already made safe for a JSON script element by the view (no <, >, & left)."""

    def __html__(self) -> str:
        return str(self)


@register.filter
def money(value: Any) -> str:
    return format_value(value, "money")


@register.filter
def percent(value: Any) -> str:
    return format_value(value, "percent")


@register.filter
def integer(value: Any) -> str:
    return format_value(value, "int")


@register.filter
def isodate(value: Any) -> str:
    """ISO-8601 timestamps from the selectors, shown as 'YYYY-MM-DD HH:MM'."""
    if not value:
        return "—"
    text = str(value)
    return text[:16].replace("T", " ") if len(text) >= 16 else text


@register.simple_tag(takes_context=True)
def export_link(context: Any, table: str) -> str:
    """An 'Export CSV' link for users who may export (the view checks again)."""
    if not context.get("can_export"):
        return ""
    query = context.get("query") or ""
    return format_html('<a class="export" href="/export/{}.csv?{}" download>Export CSV</a>', table, query)


@register.simple_tag(takes_context=True)
def chart_card(context: Any, heading: str, name: str, label: str, export: str = "", small: Any = None,
               hint: str = "") -> str:
    """A card of one chart: its heading (with ``small`` print after it), an 'Export CSV' link for the
    ``export`` table, the chart (see :func:`chart`) and a ``hint`` under it."""
    small_html = format_html(" <small>{}</small>", small) if small else ""
    hint_html = format_html('\n  <p class="hint">{}</p>', hint) if hint else ""
    return format_html('<section class="card">\n  <div class="cardhead"><h2>{}{}</h2>{}</div>\n  {}{}\n</section>',
                       heading, small_html, export_link(context, export) if export else "", chart(context, name, label),
                       hint_html)


@register.filter
def label(value: Any) -> str:
    """'add_to_cart' → 'Add to cart'."""
    return str(value).replace("_", " ").capitalize() if value is not None else "—"


@register.filter
def cell(value: Any) -> str:
    """A selector value for a generic table cell: ISO timestamps shortened, booleans as Yes/No."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:,.2f}"
    text = str(value)
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":
        return text[:16].replace("T", " ")
    return text


@register.simple_tag(takes_context=True)
def nav_href(context: Any, path: str, target: str) -> str:
    """The navigation's link to dashboard page ``target`` at ``path``, with the filters it keeps from this
    page (``nav_queries``, built by the view from ``insights.page_filters``)."""
    query = (context.get("nav_queries") or {}).get(target, "")
    return path + ("?" + query if query else "")
