"""Query helpers shared by the selector modules (private to the package): the filter's date range,
age group, channel and segment applied to a rollup, and values rounded for JSON."""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum

from customers.models import Customer
from customers.selectors import customer_age_groups
from insights.copy_models import MonthCopy, MonthCopyNote, PeopleMonthly
from insights.filters import MetricFilter
from insights.models import CustomerDaily, DailyPeople, EventDaily, Session, SessionDaily
from insights.month_copies import SOURCES, source_zone
from insights.people import as_int, bitmap

TOP_N = 10
CLOSED_CART_COLUMNS = ("carts_converted", "carts_abandoned", "carts_emptied")
MONEY_ACTIONS = ("purchase", "refund")  # the event rollup rows that hold money


def net_revenue() -> Sum:
    """Σ net revenue of rollup rows holding revenue, discounts and refunds (docs/money.md)."""
    return Sum(F("revenue") - F("discounts") - F("refunds"))


def net_revenue_of(condition: Q) -> Sum:
    """``net_revenue`` of the rows meeting ``condition``."""
    return Sum(F("revenue") - F("discounts") - F("refunds"), filter=condition)


def as_money(value: Any) -> float:
    return round(float(value or 0), 2)


def as_count(value: Any) -> int:
    return int(value or 0)


def iso_or_none(value: Any) -> str | None:
    return value.isoformat() if value else None


def within_store_days(qs: QuerySet, f: MetricFilter, field: str = "day") -> QuerySet:
    """Rows of a daily rollup inside the filter's store days (end inclusive)."""
    if f.start is not None:
        qs = qs.filter(**{f"{field}__gte": f.start})
    if f.end is not None:
        qs = qs.filter(**{f"{field}__lte": f.end})
    return qs


def within_utc_hours(qs: QuerySet, f: MetricFilter, field: str = "hour") -> QuerySet:
    """Rows of an hourly rollup (or timestamps) inside the filter's store days, as UTC bounds."""
    lo, hi = f.utc_bounds()
    if lo is not None:
        qs = qs.filter(**{f"{field}__gte": lo})
    if hi is not None:
        qs = qs.filter(**{f"{field}__lt": hi})
    return qs


def of_age_group(qs: QuerySet, f: MetricFilter) -> QuerySet:
    return qs.filter(age_group=f.age_group) if f.age_group else qs


def days_in_period(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """A daily rollup with an age-group column, restricted to the filter's days and age group."""
    return of_age_group(within_store_days(qs, f), f)


def hours_in_period(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """An hourly rollup with an age-group column, restricted to the filter's days and age group."""
    return of_age_group(within_utc_hours(qs, f), f)


def of_channel(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """Rows of the filter's traffic channel (tables with the session's ``channel``); all without one."""
    return qs.filter(channel=f.channel) if f.channel else qs


def channel_cut(f: MetricFilter, segment_pks: list[int] | None) -> MetricFilter:
    """The filter as a panel applies it: a segment's figures come from the day × customer rollup, which
    has no channel, so with a segment the channel is dropped (``insights.selectors.channel_scope`` says so)."""
    return replace(f, channel=None) if segment_pks is not None and f.channel else f


def channel_unknowns(f: MetricFilter) -> frozenset[str]:
    """The figures a channel's session rollups cannot give for this filter (shown as None, not 0): events
    by action or category (the sessions' events are kept on whole-session rows), and a category's
    discounts, hence its net revenue (order discounts are not split by line). Empty without a channel."""
    if not f.channel:
        return frozenset()
    unknown = {"events"} if f.actions or f.category else set()
    return frozenset(unknown | ({"discounts", "revenue"} if f.category else set()))


def channel_sessions(f: MetricFilter) -> QuerySet:
    """The stored sessions of the filter's channel (and age group) that started in its store days: the
    channel's people (``insights_sess_chan_start_idx``)."""
    return of_age_group(within_utc_hours(of_channel(Session.objects.all(), f), f, field="started_at"), f)


def of_actions(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """Event rows of the filter's actions (all actions without one): what event counts count."""
    return qs.filter(action__in=f.actions) if f.actions else qs


def event_days(f: MetricFilter) -> QuerySet:
    """The day × action rollup for the filter's days, age group and category."""
    return of_category_events(within_store_days(EventDaily.objects.all(), f), f)


def of_category_events(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """Rows of the event rollup (or its month copy) in the filter's age group and category."""
    qs = of_age_group(qs, f)
    return qs.filter(category=f.category) if f.category else qs


def of_category_sessions(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """Rows of the session or cart-value rollup (or their month copies) of the filter's category (""
    for every session or cart), age group and channel."""
    return of_channel(of_age_group(qs.filter(category=f.category or ""), f), f)


def session_days(f: MetricFilter) -> QuerySet:
    """The day × session rollup for the filter's days, age group and channel: the rows of whole sessions
    (category "") or, with a category, of the sessions that touched it."""
    return of_category_sessions(within_store_days(SessionDaily.objects.all(), f), f)


def column_sums(qs: QuerySet, columns: Iterable[str]) -> dict[str, Any]:
    columns = list(columns)
    row = qs.aggregate(**{c: Sum(c) for c in columns})
    return {c: row[c] or 0 for c in columns}


def sums_by(qs: QuerySet, group: str, columns: Iterable[str]) -> QuerySet:
    """One row per value of ``group`` with the sums of ``columns``."""
    return qs.values(group).annotate(**{c: Sum(c) for c in columns})


def closed_carts(row: dict[str, Any]) -> int:
    return sum(as_count(row[c]) for c in CLOSED_CART_COLUMNS)


def customer_days(f: MetricFilter, segment_pks: list[int] | None) -> QuerySet:
    """The day × customer rollup for the filter's days, restricted to the segment's customers (or, without a
    segment, to the filter's age group)."""
    qs = within_store_days(CustomerDaily.objects.all(), f)
    if segment_pks is not None:
        qs = qs.filter(customer_id__in=segment_pks)
    elif f.age_group:
        qs = qs.filter(customer_id__in=Customer.objects.filter(age_group=f.age_group).values("pk"))
    return qs


def segment_sums_by_age_group(days: QuerySet, segment_pks: list[int],
                              columns: Iterable[str]) -> dict[str, dict[str, int]]:
    """Sums of ``columns`` over a segment's day × customer rows, per age group of its customers."""
    columns = list(columns)
    age_groups = customer_age_groups(customer_pks=segment_pks)
    by_age: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in sums_by(days, "customer_id", columns):
        sums = by_age[age_groups.get(row["customer_id"], "unknown")]
        for column in columns:
            sums[column] += row[column] or 0
    return by_age


def category_rows(qs: QuerySet, f: MetricFilter) -> QuerySet:
    """The per-category rows of the session rollup or its month copy (only the filter's category, if any),
    in the filter's age group and channel."""
    qs = of_channel(of_age_group(qs.exclude(category=""), f), f)
    return qs.filter(category=f.category) if f.category else qs


def category_session_days(f: MetricFilter) -> QuerySet:
    """The per-category rows of the day × category session rollup in the filter's days."""
    return category_rows(within_store_days(SessionDaily.objects.all(), f), f)


def age_group_mask(f: MetricFilter) -> int | None:
    """The filter's age group's customers as a bitmap (``insights.people``), or None without one."""
    if not f.age_group:
        return None
    return as_int(bitmap(Customer.objects.filter(age_group=f.age_group).values_list("pk", flat=True)))


def people_bits(f: MetricFilter, kind: str, mask: int | None = None) -> int:
    """The customers of ``kind`` (``insights.people``: "v" active, "p" buying, "a" anonymous among them)
    on any of the filter's store days, as one bitmap, cut to ``mask`` (``age_group_mask``) if given: whole
    closed months from their month copy (``insights.month_copies``), the other days day by day."""
    bits = 0
    months = copied_months("people", f)
    days = DailyPeople.objects.filter(kind=kind)
    parts: list[QuerySet] = ([days.filter(q) for q in outside_parts("people", f, months)] if months
                             else [within_store_days(days, f)])
    if months:
        parts.append(PeopleMonthly.objects.filter(kind=kind, month__in=[month for month, _, _ in months]))
    for qs in parts:
        for part_bits in qs.values_list("bits", flat=True):
            bits |= as_int(part_bits)
    return bits if mask is None else bits & mask


def people_counts_of(f: MetricFilter) -> dict[str, int]:
    """Distinct people in the period (docs/metrics.md), in the filter's age group: ``active`` and
    ``purchasing`` customers (anonymous visitors included), and ``identified`` / ``identified_buyers``
    (without them). One read of each kind's bitmaps and one age-group mask."""
    mask = age_group_mask(f)
    active, buying, anonymous = (people_bits(f, kind, mask) for kind in ("v", "p", "a"))
    return {"active": active.bit_count(), "purchasing": buying.bit_count(),
            "identified": (active & ~anonymous).bit_count(), "identified_buyers": (buying & ~anonymous).bit_count()}


# --- Month copies (insights.month_copies) --------------------------------------------------------------

Months = list[tuple[dt.date, dt.datetime, dt.datetime]]


def _copy_bounds(kind: str, f: MetricFilter) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The filter's period as a copy's months are cut: UTC hours of its store days for an hourly rollup,
    its store days as UTC midnights for a day rollup."""
    if kind == "hour":
        return f.utc_bounds()
    return (dt.datetime.combine(f.start, dt.time(), tzinfo=dt.UTC) if f.start else None,
            dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) if f.end else None)


def copied_months(source: str, f: MetricFilter) -> Months:
    """The months of ``f`` a rollup's month copy may be read for: months whose every row lies inside its
    period (whole months inside it, or a partial one whose rows all are: a store's first or last month),
    copied in the current time zone, with no note of a later write overlapping them (PostgreSQL; else
    none). A note stands for any row written since the copy, so the copy's first and last row still hold."""
    if connection.vendor != "postgresql" or (f.start and f.end and (f.end - f.start).days < 27):
        return []  # (a period shorter than 28 days reads its few days from the rollups)
    lo, hi = _copy_bounds(SOURCES[source].kind, f)
    copies, notes = MonthCopy._meta.db_table, MonthCopyNote._meta.db_table
    # a copy made before its rows' first and last time were kept: its month's bounds
    first, last = "COALESCE(c.first, c.lo)", "COALESCE(c.last, c.hi - interval '1 microsecond')"
    sql = (f"SELECT c.month, c.lo, c.hi FROM {copies} c WHERE c.source = %s AND c.time_zone = %s"
           f"{f' AND {first} >= %s' if lo else ''}{f' AND {last} < %s' if hi else ''} AND NOT EXISTS (SELECT 1 FROM "
           f"{notes} n WHERE n.source = c.source AND n.day >= (c.lo AT TIME ZONE 'UTC')::date "
           f"AND n.day <= ((c.hi - interval '1 second') AT TIME ZONE 'UTC')::date) ORDER BY c.lo")
    with connection.cursor() as cur:
        cur.execute(sql, [source, source_zone(SOURCES[source])[1], *(b for b in (lo, hi) if b)])
        return cur.fetchall()


def outside_copies(source: str, f: MetricFilter, months: Months) -> Q | None:
    """The filter's hours or days (the rollup's time column) less the copied ``months`` (ordered, inside
    it), or None when nothing is left."""
    parts = outside_parts(source, f, months)
    return reduce(operator.or_, parts) if parts else None


def outside_parts(source: str, f: MetricFilter, months: Months) -> list[Q]:
    """``outside_copies`` as its ranges, one condition each (an index range scan each, where PostgreSQL
    would filter a whole index by their OR)."""
    kind, column = SOURCES[source].kind, SOURCES[source].column
    cursor, end = _copy_bounds(kind, f)
    gaps: list[tuple[dt.datetime | None, dt.datetime | None]] = []
    for _month, lo, hi in months:
        gaps.append((cursor, lo))
        cursor = hi
    gaps.append((cursor, end))
    return [Q(**{f"{column}__{op}": (v if kind == "hour" else v.date()) for op, v in (("gte", a), ("lt", b))
                 if v is not None})
            for a, b in gaps if a is None or b is None or a < b]


def _period_parts(f: MetricFilter, source: str) -> list[QuerySet]:
    """A day rollup with a month copy (``insights.month_copies.SOURCES``) over the filter's days: its rows
    of the days outside the copied months, and the copy's rows of those months (the copy has the rollup's
    columns, ``month`` for ``day``)."""
    rollup = SOURCES[source]
    months = copied_months(source, f)
    days = outside_copies(source, f, months)
    parts = [] if days is None else [rollup.table._default_manager.filter(days)]
    if months:
        parts.append(rollup.copy._default_manager.filter(month__in=[m for m, _, _ in months]))
    return parts


def period_column_sums(f: MetricFilter, source: str, narrow: Callable[[QuerySet], QuerySet],
                       columns: Iterable[str]) -> dict[str, Any]:
    """``column_sums`` over the filter's days of a day rollup with a month copy: whole copied months from
    the copy, the other days from the rollup; ``narrow`` applies everything but the period."""
    columns = list(columns)
    out: dict[str, Any] = dict.fromkeys(columns, 0)
    for qs in _period_parts(f, source):
        for column, value in column_sums(narrow(qs), columns).items():
            out[column] += value
    return out


def period_sums_by(f: MetricFilter, source: str, narrow: Callable[[QuerySet], QuerySet], group: str,
                   columns: Iterable[str]) -> list[dict[str, Any]]:
    """``sums_by`` over the filter's days of a day rollup with a month copy, as ``period_column_sums``."""
    columns = list(columns)
    out: dict[Any, dict[str, Any]] = {}
    for qs in _period_parts(f, source):
        for row in sums_by(narrow(qs), group, columns):
            sums = out.setdefault(row[group], {group: row[group], **dict.fromkeys(columns, 0)})
            for column in columns:
                sums[column] += row[column] or 0
    return list(out.values())
