"""The KPI row (docs/metrics.md) for a period and the period of equal length before it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Sum

from events.models import Action
from insights.filters import MetricFilter
from insights.selectors._common import (
    CLOSED_CART_COLUMNS,
    age_group_mask,
    as_count,
    as_money,
    channel_cut,
    channel_sessions,
    channel_unknowns,
    closed_carts,
    column_sums,
    customer_days,
    of_actions,
    of_category_events,
    of_category_sessions,
    people_bits,
    period_column_sums,
    session_days,
)
from insights.selectors.channel_people import channel_people
from insights.selectors.freshness import previous_period_comparison, sample_rates_note
from insights.selectors.revenue_source import revenue_source_stats
from insights.selectors.rfm import segment_customer_pks
from insights.selectors.segment_days import segment_days, segment_people, segment_rollup_applies
from insights.stats import rate

KPI_KEYS = ("events", "customers", "sessions", "revenue", "orders", "aov", "cart_conversion_rate",
            "cart_abandonment_rate", "session_conversion_rate", "avg_clv", "net_revenue", "gross_revenue",
            "discounts", "refunds")
MONEY_COLUMNS = ("revenue", "discounts", "refunds")  # gross, and what net takes from it
SESSION_COLUMNS = ("sessions", "purchasing_sessions", "orders", *CLOSED_CART_COLUMNS, "revenue_left")


def kpi_figures(f: MetricFilter, segment_pks: list[int] | None, *,
                with_customer_counts: bool = True) -> dict[str, Any]:
    """The KPI row (docs/metrics.md) plus ``carts_closed`` and ``revenue_left`` (for the insight sentences;
    ``kpis_stats`` leaves them out). ``with_customer_counts=False`` leaves out the two distinct-customer
    counts (customers, avg_clv: the costly part, a scan of day × customer) for callers that need neither.
    ``segment_pks``: the filter's segment customers (``segment_customer_pks``: the same for a period and
    the previous one)."""
    f = channel_cut(f, segment_pks)
    customers: int | None
    buyers: int | None
    # the day × customer rows only where read (a segment's thousands of pks make even an unread filter cost)
    if segment_pks is not None and segment_rollup_applies(f):
        sums, customers, buyers = _segment_rollup_totals(f, segment_pks, with_customer_counts=with_customer_counts)
    elif segment_pks is not None:
        sums, customers, buyers = _segment_totals(customer_days(f, segment_pks))
    elif f.channel:
        sums, customers, buyers = _channel_totals(f, with_customer_counts=with_customer_counts)
    else:
        sums, customers, buyers = _store_totals(f, customer_days(f, None), with_customer_counts=with_customer_counts)
    # Revenue is net (docs/money.md) (gross − discounts − refunds); AOV and CLV use it. Within a channel,
    # refunds are not attributed (None: revenue is before refunds) and a category's discounts are unknown.
    revenue = None if sums["discounts"] is None else sums["revenue"] - sums["discounts"] - (sums["refunds"] or 0)
    orders, closed = sums["orders"], closed_carts(sums)
    return {
        "events": _count_or_none(sums["events"]),
        "customers": as_count(customers) if with_customer_counts else None,
        "sessions": as_count(sums["sessions"]),
        "revenue": _money_or_none(revenue),
        "net_revenue": _money_or_none(revenue),
        "gross_revenue": as_money(sums["revenue"]),
        "discounts": _money_or_none(sums["discounts"]),
        "refunds": _money_or_none(sums["refunds"]),
        "orders": as_count(orders),
        "aov": round(float(revenue) / orders, 2) if orders and revenue is not None else None,
        "cart_conversion_rate": rate(sums["carts_converted"], closed),
        "cart_abandonment_rate": rate(sums["carts_abandoned"], closed),
        "session_conversion_rate": rate(sums["purchasing_sessions"], sums["sessions"]),
        "avg_clv": round(float(revenue) / buyers, 2) if buyers and revenue is not None else None,
        "carts_closed": as_count(closed),
        "revenue_left": as_money(sums["revenue_left"]),
    }


def _count_or_none(value: Any) -> int | None:
    return None if value is None else as_count(value)


def _money_or_none(value: Any) -> float | None:
    return None if value is None else as_money(value)


def _channel_totals(f: MetricFilter, *,
                    with_customer_counts: bool) -> tuple[dict[str, Any], int | None, int | None]:
    """The KPI sums of the channel's sessions (day × session rollup, by the session's start): their events
    and their orders' revenue and discounts; refunds are None (not attributed to a channel). Events are None
    with an action filter or a category (kept on whole-session rows only), and so are discounts with a
    category. People: distinct customers and buyers of the channel's sessions (the Session table)."""
    sums = column_sums(session_days(f), (*SESSION_COLUMNS, "events", "revenue", "discounts"))
    sums["refunds"] = None
    for name in channel_unknowns(f) & {"events", "discounts"}:  # revenue (gross) stays: the lines' own
        sums[name] = None
    customers = buyers = None
    if with_customer_counts:
        people = channel_people(f)  # a long period's whole months as bitmaps (None: counted from the sessions)
        if people is not None:
            active = buying = 0
            for age_active, age_buying in people.values():  # (a customer may have sessions in two age groups)
                active, buying = active | age_active, buying | age_buying
            customers, buyers = active.bit_count(), buying.bit_count()
        else:
            sessions = channel_sessions(f)
            customers = sessions.values("customer_id").distinct().count()
            buyers = sessions.filter(purchased=True).values("customer_id").distinct().count()
    return sums, customers, buyers


def _segment_totals(days: QuerySet) -> tuple[dict[str, Any], int, int]:
    """The sums over a segment's day × customer rows and its active and buying customers, in one pass
    grouped by customer."""
    columns = ("events", *MONEY_COLUMNS, *SESSION_COLUMNS)
    rows = list(days.values("customer_id").annotate(**{f"t_{c}": Sum(c) for c in columns}))
    sums = {c: sum(r[f"t_{c}"] or 0 for r in rows) for c in columns}
    return sums, sum(1 for r in rows if r["t_events"]), sum(1 for r in rows if r["t_revenue"])


def _segment_rollup_totals(f: MetricFilter, segment_pks: list[int], *,
                           with_customer_counts: bool) -> tuple[dict[str, Any], int | None, int | None]:
    """The sums of the segment's day rows (segment × day rollup) and, if asked, its active and buying
    customers (the people bitmaps cut to the segment)."""
    sums = column_sums(segment_days(f), ("events", *MONEY_COLUMNS, *SESSION_COLUMNS))
    customers, buyers = segment_people(f, segment_pks) if with_customer_counts else (None, None)
    return sums, customers, buyers


def _store_totals(f: MetricFilter, days: QuerySet, *,
                  with_customer_counts: bool) -> tuple[dict[str, Any], int | None, int | None]:
    """The sums from the day × action and day × session rollups, and (if asked) the active and buying
    customers: the distinct customers of the period's people bitmaps (``insights.people``)."""
    customers = buyers = None
    if with_customer_counts:
        mask = age_group_mask(f)
        customers, buyers = people_bits(f, "v", mask).bit_count(), people_bits(f, "p", mask).bit_count()
    # whole closed months from the rollups' month copies (insights.month_copies)
    sums = period_column_sums(f, "session_days", lambda qs: of_category_sessions(qs, f), SESSION_COLUMNS)
    sums |= period_column_sums(f, "event_days", lambda qs: of_actions(of_category_events(qs, f), f), ["events"])
    sums |= period_column_sums(f, "event_days", lambda qs: of_category_events(qs, f).filter(
        action__in=(Action.PURCHASE, Action.REFUND)), MONEY_COLUMNS)
    return sums, customers, buyers


def _published(figures: dict[str, Any]) -> dict[str, Any]:
    """The KPI row as the API and the cards show it (without the sentences' extra figures)."""
    return {k: figures[k] for k in KPI_KEYS}


def kpis_stats(f: MetricFilter, *, with_revenue_source: bool = True) -> dict[str, Any]:
    """The KPI row for ``f`` and, under ``previous``, for the period of equal length before it, with
    ``previous["comparison"]`` (``previous_period_comparison``) saying whether the two may be compared,
    ``money_note``: a sentence when the period's money was converted with sample exchange rates
    (``sample_rates_note``), else None, and ``revenue_source``: whether revenue is browser-reported and
    the period's browser orders counted nowhere (``revenue_source_stats``; a scan of the period's browser
    purchases: ``with_revenue_source=False`` leaves it out, for the live cards)."""
    segment_pks = segment_customer_pks(f)
    out = _published(kpi_figures(f, segment_pks))
    out["money_note"] = sample_rates_note(f)
    if with_revenue_source:
        out["revenue_source"] = revenue_source_stats(f)
    out["previous"] = (_published(kpi_figures(f.previous(), segment_pks)) if f.has_range
                       else {k: None for k in KPI_KEYS})
    out["previous"]["comparison"] = previous_period_comparison(f)
    return out
