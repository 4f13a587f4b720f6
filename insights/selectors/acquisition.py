"""Acquisition (docs/metrics.md): sessions, session conversion with its Wilson 95%
interval, revenue, AOV and cart abandonment by channel, by source / medium and by campaign, read from
the ``traffic_daily`` rollup (store day × channel × source × medium × campaign, by the session's start).

Attribution: *last touch* = the revenue of orders by their own session's channel (the same rollup);
*first touch* = the period's buyers' revenue by the channel of their first session ever (the day ×
customer rollup's buyer rows joined to the first-touch channel kept on ``CustomerTotals``).

Revenue here is net of the orders' discounts; refunds are counted on the refund's day with no channel,
so they are not attributed (``notes`` says so). The channel filter is honoured everywhere on this page
except the people counts; age group, category and segment have no traffic dimension and are ignored
(``ignored_filters``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import F, QuerySet, Sum

from insights.channels import CHANNELS
from insights.copy_models import FirstTouchMonthly
from insights.customer_scopes import scope_customer_query
from insights.filters import MetricFilter
from insights.models import CartState, CustomerDaily, CustomerTotals, Session, TrafficDaily
from insights.people import as_int, bitmap
from insights.selectors._common import (
    as_count,
    as_money,
    copied_months,
    outside_parts,
    people_bits,
    people_counts_of,
    within_store_days,
    within_utc_hours,
)
from insights.stats import rate, wilson_interval

TOP_ROWS = 20
FIRST_TOUCH = "first_touch"  # the month copy of first-touch revenue (insights.month_copies)
Pks = QuerySet | list[int]  # an experiment's visitors (insights.customer_scopes)
ANON_PREFIX = "anon:"  # customers created for an anonymous id (events.services: ``anon:<id>``)
_COUNTERS = ("sessions", "purchasing_sessions", "orders", "carts_converted", "carts_abandoned", "carts_emptied")
NOTES = ("Revenue is net of order discounts; refunds are counted on the refund's day with no channel, "
         "so they are not attributed to one.",)


def _traffic_rows(f: MetricFilter) -> QuerySet:
    qs = within_store_days(TrafficDaily.objects.all(), f)
    return qs.filter(channel=f.channel) if f.channel else qs


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """One group's counters as the page shows them (rates with their intervals)."""
    sessions, buying = as_count(row["sessions"]), as_count(row["purchasing_sessions"])
    orders = as_count(row["orders"])
    revenue = as_money(row["revenue"]) - as_money(row["discounts"])
    closed = sum(as_count(row[c]) for c in ("carts_converted", "carts_abandoned", "carts_emptied"))
    low, high = wilson_interval(buying, sessions)
    abandoned = as_count(row["carts_abandoned"])
    a_low, a_high = wilson_interval(abandoned, closed)
    return {
        "sessions": sessions, "purchasing_sessions": buying, "conversion": rate(buying, sessions),
        "conversion_low": low, "conversion_high": high, "orders": orders, "net_revenue": round(revenue, 2),
        "aov": round(revenue / orders, 2) if orders else None, "carts_closed": closed,
        "carts_abandoned": abandoned, "cart_abandonment": rate(abandoned, closed),
        "cart_abandonment_low": a_low, "cart_abandonment_high": a_high,
    }


def _scoped_sessions(f: MetricFilter, pks: Pks) -> QuerySet:
    """The sessions of these customers started in the period (what ``traffic_daily`` adds up)."""
    qs = within_utc_hours(Session.objects.filter(customer_id__in=pks), f, field="started_at")
    return qs.filter(channel=f.channel) if f.channel else qs


_SCOPED = ("customer_id", "customer__external_id", "channel", "source", "medium", "campaign", "purchased",
           "order_count", "revenue", "discounts", "cart__state")


def _scoped_tables(f: MetricFilter, pks: Pks) -> dict[str, Any]:
    """With an experiment filter: its visitors' sessions of the period read once, added up by channel,
    by source / medium and by campaign (the channel filter applied), and the people among them."""
    groups: dict[str, dict[tuple, dict[str, Any]]] = {"channel": {}, "source_medium": {}, "campaign": {}}
    visitors, identified, buyers = set(), set(), set()
    for customer, external, channel, source, medium, campaign, purchased, orders, revenue, discounts, cart in \
            _scoped_sessions(replace(f, channel=None), pks).values_list(*_SCOPED).iterator(chunk_size=5000):
        visitors.add(customer)
        if not external.startswith(ANON_PREFIX):
            identified.add(customer)
            if purchased:
                buyers.add(customer)
        if f.channel and channel != f.channel:
            continue
        for name, key in (("channel", (channel,)), ("source_medium", (source, medium)), ("campaign", (campaign,))):
            row = groups[name].setdefault(key, dict.fromkeys((*_COUNTERS, "revenue", "discounts"), 0))
            row["sessions"] += 1
            row["purchasing_sessions"] += bool(purchased)
            row["orders"] += orders
            row["revenue"] += revenue
            row["discounts"] += discounts
            if cart in (CartState.CONVERTED, CartState.ABANDONED, CartState.EMPTIED):
                row[f"carts_{cart}"] += 1
    out: dict[str, Any] = {name: [] for name in groups}
    for name, by in (("channel", ("channel",)), ("source_medium", ("source", "medium")), ("campaign", ("campaign",))):
        out[name] = [{**dict(zip(by, key, strict=True)), **_figures(r)} for key, r in groups[name].items()
                     if name != "campaign" or key != ("",)]
    out["people"] = {"visitors": len(visitors), "customers": len(identified), "buyers": len(buyers)}
    return out


def _grouped(f: MetricFilter, by: Iterable[str], *, exclude_blank: str | None = None) -> list[dict[str, Any]]:
    qs = _traffic_rows(f)
    if exclude_blank:
        qs = qs.exclude(**{exclude_blank: ""})
    rows = qs.values(*by).annotate(**{c: Sum(c) for c in (*_COUNTERS, "revenue", "discounts")})
    return [{**{k: r[k] for k in by}, **_figures(r)} for r in rows]


def channel_rows(f: MetricFilter, scoped: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every channel with sessions in the period, most sessions first (``scoped``: an experiment's)."""
    rows = _grouped(f, ("channel",)) if scoped is None else scoped
    rows.sort(key=lambda r: (-r["sessions"], CHANNELS.index(r["channel"]) if r["channel"] in CHANNELS else 99))
    return rows


def _top(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (-r["sessions"], -r["net_revenue"]))
    return rows[:TOP_ROWS]


def _first_touch_rows(days: QuerySet) -> list[tuple[str, Any, int]]:
    """(first-touch channel, revenue net of discounts, buyers) of these buyer days: each buyer's sum joined
    to the first-touch channel kept on ``CustomerTotals`` ("" and no row read as Direct)."""
    buyers_sql, params = days.values("customer_id").annotate(r=Sum(F("revenue") - F("discounts"))).values_list(
        "customer_id", "r").query.sql_with_params()
    totals = CustomerTotals._meta.db_table
    sql = (f"SELECT COALESCE(NULLIF(t.first_channel, ''), 'Direct') AS ch, SUM(b.r), COUNT(*)"
           f" FROM ({buyers_sql}) b LEFT JOIN {totals} t ON t.customer_id = b.customer_id GROUP BY ch")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _first_touch_buyers(f: MetricFilter) -> dict[str, int]:
    """The period's buyers per first-touch channel: its buyers' bitmap (``insights.people``) cut by each
    channel's customers (those of Direct: every buyer in no other channel)."""
    bought, others, out = people_bits(f, "p"), 0, {}
    totals = CustomerTotals.objects.filter(revenue__gt=0).exclude(first_channel__in=("", "Direct"))
    for row in totals.values("first_channel").annotate(pks=ArrayAgg("customer_id")):
        channel = as_int(bitmap(row["pks"]))
        out[row["first_channel"]], others = (bought & channel).bit_count(), others | channel
    out["Direct"] = (bought & ~others).bit_count()
    return out


def first_touch_revenue(f: MetricFilter, pks: Pks | None = None) -> dict[str, dict[str, Any]]:
    """The period's buyers' revenue (net of discounts) and buyers by the channel of their first session.
    Over a long period (no ``pks``) the revenue of whole closed months comes from their copy
    (``insights.month_copies``) and the buyers from the people bitmaps."""
    buyer_days = CustomerDaily.objects.filter(revenue__gt=0)
    months = copied_months(FIRST_TOUCH, f) if pks is None else []
    if not months:
        days = within_store_days(buyer_days, f)
        rows = _first_touch_rows(days if pks is None else days.filter(customer_id__in=pks))
        return {channel: {"revenue": as_money(revenue), "customers": as_count(n)} for channel, revenue, n in rows
                if not f.channel or channel == f.channel}
    revenue: dict[str, Any] = defaultdict(int)
    copies = FirstTouchMonthly.objects.filter(month__in=[month for month, _, _ in months])
    for channel, amount in copies.values("channel").annotate(r=Sum("revenue")).values_list("channel", "r"):
        revenue[channel] += amount
    for outside in outside_parts(FIRST_TOUCH, f, months):  # (one range at a time: an index range scan each)
        for channel, amount, _ in _first_touch_rows(buyer_days.filter(outside)):
            revenue[channel] += amount
    return {channel: {"revenue": as_money(revenue[channel]), "customers": n}
            for channel, n in _first_touch_buyers(f).items() if n and (not f.channel or channel == f.channel)}


def attribution_rows(f: MetricFilter, channels: list[dict[str, Any]],
                     pks: Pks | None = None) -> list[dict[str, Any]]:
    first = first_touch_revenue(f, pks)
    last = {r["channel"]: r for r in channels}
    names = [c for c in CHANNELS if c in first or c in last]
    return [{"channel": c, "last_touch_revenue": last[c]["net_revenue"] if c in last else 0.0,
             "last_touch_orders": last[c]["orders"] if c in last else 0,
             "first_touch_revenue": first.get(c, {}).get("revenue", 0.0),
             "first_touch_buyers": first.get(c, {}).get("customers", 0)} for c in names]


def people_counts(f: MetricFilter) -> dict[str, int]:
    """People in the period (docs/metrics.md): visitors = distinct people seen (customers and anonymous ids not
    yet linked to one); customers = the identified ones; buyers = customers with an order (the people
    bitmaps, ``insights.people``)."""
    people = people_counts_of(replace(f, age_group=None))  # like the page, not by age group (ignored_filters)
    return {"visitors": people["active"], "customers": people["identified"], "buyers": people["identified_buyers"]}


def acquisition_stats(f: MetricFilter) -> dict[str, Any]:
    """The Acquisition page and ``GET /api/v1/metrics/acquisition``; with an experiment filter, from its
    visitors' sessions (``insights.customer_scopes``)."""
    pks = scope_customer_query(f)  # a subquery; age group is ignored here, as everywhere on the page
    scoped = _scoped_tables(f, pks) if pks is not None else None
    channels = channel_rows(f, scoped["channel"] if scoped else None)
    ignored = [name for name in ("age_group", "category", "segment") if getattr(f, name)]
    if f.actions:
        ignored.append("action")
    return {
        "channel": f.channel,
        "experiment": f.experiment,
        "variant": f.variant,
        "channels": channels,
        "source_medium": _top(scoped["source_medium"] if scoped else _grouped(f, ("source", "medium"))),
        "campaigns": _top(scoped["campaign"] if scoped else _grouped(f, ("campaign",), exclude_blank="campaign")),
        "attribution": attribution_rows(f, channels, pks),
        "people": people_counts(f) if scoped is None else scoped["people"],
        "people_ignore_channel": bool(f.channel),
        "ignored_filters": ignored,
        "notes": list(NOTES),
    }
