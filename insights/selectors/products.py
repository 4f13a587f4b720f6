"""Products: most viewed, top revenue, most abandoned, abandonment rate, conversion and refund rate (with a
channel: of its sessions, from ``ProductChannelDaily``; no refunds, which have no channel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet, Sum

from insights.filters import MetricFilter
from insights.models import ProductChannelDaily, ProductDaily
from insights.selectors._common import (
    TOP_N,
    as_count,
    as_money,
    days_in_period,
    of_age_group,
    of_channel,
    period_sums_by,
)
from insights.stats import rate
from products.models import Product

Row = dict[str, Any]


SESSION_COLUMNS = ("views", "units", "revenue", "view_sessions", "cart_sessions", "purchase_sessions",
                   "carts_abandoned", "revenue_left")
REFUND_COLUMNS = ("refunds", "refunded_units")  # by the refund's day, with no channel


def _product_days(f: MetricFilter, product_pk: int | None = None) -> tuple[QuerySet, tuple[str, ...]]:
    """The day × product rollup of the filter's days and age group, or with a channel its channel's split
    (``ProductChannelDaily``, without refunds), and the columns it holds."""
    qs: QuerySet
    columns: tuple[str, ...]
    if f.channel:
        qs, columns = ProductChannelDaily.objects.filter(channel=f.channel), SESSION_COLUMNS
    else:
        qs, columns = ProductDaily.objects.all(), (*SESSION_COLUMNS, *REFUND_COLUMNS)
    if product_pk is not None:
        qs = qs.filter(product_id=product_pk)
    return days_in_period(qs, f), columns


def product_rows(f: MetricFilter) -> list[Row]:
    """Per product in the period: views, units, revenue, viewing/adding/buying sessions, abandoned carts,
    refunds (None with a channel: refunds are not attributed to one)."""
    columns = SESSION_COLUMNS if f.channel else (*SESSION_COLUMNS, *REFUND_COLUMNS)

    def narrow(qs: QuerySet) -> QuerySet:
        qs = of_channel(of_age_group(qs, f), f)
        return qs.filter(product_id__in=Product.objects.filter(category=f.category).values("pk")) if f.category else qs

    # whole closed months from the rollup's month copy (insights.month_copies)
    rows = period_sums_by(f, "product_channel_days" if f.channel else "product_days", narrow, "product_id", columns)
    for r in rows:
        for c in REFUND_COLUMNS:
            r.setdefault(c, None)
    return rows


def _abandonment(r: Row) -> Row:
    return {"carts": as_count(r["cart_sessions"]), "abandoned_carts": as_count(r["carts_abandoned"]),
            "rate": rate(as_count(r["carts_abandoned"]), as_count(r["cart_sessions"]))}


def _conversion(r: Row) -> Row:
    views, carts = as_count(r["view_sessions"]), as_count(r["cart_sessions"])
    purchases = as_count(r["purchase_sessions"])
    return {"view_sessions": views, "cart_sessions": carts, "purchase_sessions": purchases,
            "cart_to_view": rate(carts, views), "purchase_to_view": rate(purchases, views)}


def _refunds(r: Row) -> Row:
    """Refund rate = units refunded / units sold in the period (refunds by their own day)."""
    return {"units": as_count(r["units"]), "refunded_units": as_count(r["refunded_units"]),
            "refunds": as_money(r["refunds"]), "rate": rate(as_count(r["refunded_units"]), as_count(r["units"]))}


# list → (the row value it is ranked by (rows without it are left out), the figures each entry shows)
RANKINGS: dict[str, tuple[str, Callable[[Row], Row]]] = {
    "most_viewed": ("views", lambda r: {"views": as_count(r["views"])}),
    "top_revenue": ("revenue", lambda r: {"revenue": as_money(r["revenue"]), "units": as_count(r["units"])}),
    "most_abandoned": ("carts_abandoned", lambda r: {"abandoned_carts": as_count(r["carts_abandoned"])}),
    "abandonment_rate": ("abandon_rate", _abandonment),
    "conversion": ("view_sessions", _conversion),
    "refund_rate": ("refund_rate", _refunds),
}
# ranked by a rate: only products with carts (abandonment), with units refunded (refunds)
RANKING_REQUIRES = {"abandonment_rate": "cart_sessions", "refund_rate": "refunded_units"}


def products_stats(f: MetricFilter) -> dict[str, Any]:
    """The top ``TOP_N`` products of each list in ``RANKINGS`` (ties: the older product first)."""
    rows = product_rows(f)
    for r in rows:
        r["abandon_rate"] = rate(r["carts_abandoned"] or 0, r["cart_sessions"] or 0) or 0.0
        r["refund_rate"] = rate(r["refunded_units"] or 0, r["units"] or 0) or 0.0
    info = {p["pk"]: p for p in Product.objects.filter(pk__in=[r["product_id"] for r in rows])
            .values("pk", "external_id", "title", "category")}

    def head(r: Row) -> Row:
        p: Row = dict(info.get(r["product_id"]) or {})
        return {"product_id": p.get("external_id"), "pk": r["product_id"], "title": p.get("title", ""),
                "category": p.get("category", "")}

    out = {}
    for name, (key, figures) in RANKINGS.items():
        required = RANKING_REQUIRES.get(name, key)
        picked = sorted((r for r in rows if r[required]), key=lambda r: (-(r[key] or 0), r["product_id"]))[:TOP_N]
        out[name] = [{**head(r), **figures(r)} for r in picked]
    return out


def product_figures(f: MetricFilter, product_pk: int) -> Row:
    """One product's figures in the period (its own page): views, units, revenue, conversion, abandonment."""
    qs, _columns = _product_days(f, product_pk)
    r = qs.aggregate(**{c: Sum(c) for c in SESSION_COLUMNS})
    return {"views": as_count(r["views"]), "units": as_count(r["units"]), "revenue": as_money(r["revenue"]),
            "revenue_left": as_money(r["revenue_left"]), **_conversion(r), "abandonment": _abandonment(r)}
