"""Segment-filtered figures from the segment × day rollup (``SegmentDaily``, kept with the RFM scores by
``insights.segment_store``; docs/metrics.md#rfm-segments): sums of a segment's day rows, by day or age
group, and its distinct active and buying customers from the people bitmaps (``insights.people``) cut
to the segment's customers. They equal the per-customer sums over the segment's day × customer rows
(``insights.selectors._common.customer_days``) as of the last refresh; those remain for a segment cut to
an A/B experiment's visitors, which the rollup has no dimension for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from insights.filters import MetricFilter
from insights.kept_models import SegmentDaily
from insights.people import as_int, bitmap
from insights.selectors._common import of_age_group, people_bits, sums_by, within_store_days
from insights.selectors.rfm import segment_rows

# Read the rollup for a segment filter (False: the per-customer sums; the tests compare the two).
ROLLUP_READS = True


def segment_rollup_applies(f: MetricFilter) -> bool:
    """Whether ``f``'s figures come from the segment × day rollup: a segment, without an experiment."""
    return ROLLUP_READS and bool(f.segment) and not f.experiment


def segment_days(f: MetricFilter) -> QuerySet:
    """The segment × day rows of the filter's segment, store days and age group."""
    return of_age_group(within_store_days(SegmentDaily.objects.filter(segment=f.segment), f), f)


def segment_age_sums(f: MetricFilter, columns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Sums of ``columns`` per age group of the segment's customers (only the groups with rows)."""
    columns = list(columns)
    return {r["age_group"]: {c: r[c] or 0 for c in columns} for r in sums_by(segment_days(f), "age_group", columns)}


def _mask(pks: Iterable[int]) -> int:
    return as_int(bitmap(pks))


def segment_people(f: MetricFilter, segment_pks: list[int]) -> tuple[int, int]:
    """The segment's (and age group's) customers (``segment_pks``: ``segment_customer_pks(f)``) active in
    the period, and those who bought in it."""
    mask = _mask(segment_pks)
    return people_bits(f, "v", mask).bit_count(), people_bits(f, "p", mask).bit_count()


def active_by_age(f: MetricFilter, members: Iterable[tuple[int, str | None]]) -> dict[str, int]:
    """Of ``members`` ((customer pk, age group) pairs), those active in the period, per age group: the
    period's people bitmap cut to each group's customers."""
    groups: dict[str, list[int]] = {}
    for pk, age_group in members:
        groups.setdefault(age_group or "unknown", []).append(pk)
    active = people_bits(f, "v")
    return {g: (active & _mask(pks)).bit_count() for g, pks in groups.items()}


def active_customers_by_age(f: MetricFilter, customers: QuerySet) -> dict[str, int]:
    """``active_by_age`` of ``customers`` (a ``Customer`` queryset). On PostgreSQL counted where they are
    stored, each customer's bit read from the period's people bitmap (``get_bit``: bit n is bit n % 8 of
    byte n // 8, ``insights.people``), instead of every customer's pk and age group fetched."""
    if connection.vendor != "postgresql":
        return active_by_age(f, customers.values_list("pk", "age_group"))
    active = people_bits(f, "v")
    if not active:
        return {}
    bits = active.to_bytes((active.bit_length() + 7) // 8, "little")
    inner, params = customers.order_by().values("pk", "age_group").query.sql_with_params()
    sql = (f"SELECT COALESCE(NULLIF(c.age_group, ''), 'unknown'), COUNT(*) FROM ({inner}) c "
           f"WHERE CASE WHEN c.pk < %s THEN get_bit(%s, CAST(c.pk AS integer)) ELSE 0 END = 1 GROUP BY 1")
    with connection.cursor() as cur:
        cur.execute(sql, [*params, len(bits) * 8, bits])
        return {age_group: int(n) for age_group, n in cur.fetchall()}


def segment_active_by_age(f: MetricFilter) -> dict[str, int]:
    """The segment's customers active in the period, per age group."""
    return active_by_age(f, segment_rows(f).values_list("customer_id", "customer__age_group"))
