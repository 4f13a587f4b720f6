"""Product affinity (docs/metrics.md): pairs bought together (orders) and pairs added to the same cart, over
the baskets of the period. support(A,B) = share of baskets holding both; confidence(A→B) =
support(A,B) / support(A); lift = confidence(A→B) / support(B). Pairs in fewer than ``min_baskets``
baskets are not shown.

Read from the kind × day × pair rollup (``ProductPairDaily``), or, when the period holds every day with
baskets (all history), from the all-time pair rollup (``ProductPairTotal``: the same sums, kept as the
daily rows are). Filters: the date range (baskets by the session's start day); category keeps pairs with
a product in it. Age group and RFM segment do not
apply (the pair rollup has no customer dimension; the answer lists what was ignored); actions neither.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min, Sum

from insights.filters import MetricFilter
from insights.models import ProductPairDaily, ProductPairTotal
from insights.rollup_store import sql_param_adapter
from insights.selectors._common import TOP_N, within_store_days
from products.models import Product

MIN_PAIR_BASKETS = 5
PAIRS_WORK_MEM = "32MB"
KINDS = {"orders": "o", "carts": "c"}

Row = dict[str, Any]


def count_param(params: Any, name: str) -> int | None:
    """A positive whole-number query parameter (``product``, ``min_orders``), None when absent; ValueError
    (its message for the user) when it is not one."""
    raw = params.get(name)
    if not raw:
        return None
    if not str(raw).isdigit() or not 0 < int(raw) <= 1_000_000:
        raise ValueError(f"{name} must be a whole number from 1 to 1000000, not {str(raw)[:20]!r}")
    return int(raw)


_RANKED_ALL_TIME = """
WITH p AS (
  SELECT product_a AS a, product_b AS b, baskets AS n FROM {pairs}
  WHERE kind = %s AND product_a < product_b{one} AND baskets >= %s
), s AS (
  SELECT product_a AS a, baskets AS n FROM {pairs} WHERE kind = %s AND product_a = product_b
)
SELECT p.a, p.b, p.n, sa.n, sb.n FROM p JOIN s sa ON sa.a = p.a JOIN s sb ON sb.a = p.b{category}
ORDER BY {order}, p.a, p.b LIMIT %s
"""

_RANKED_PAIRS = """
WITH p AS (
  SELECT product_a AS a, product_b AS b, SUM(baskets) AS n FROM {pairs}
  WHERE kind = %s{days} AND product_a < product_b{one}
  GROUP BY product_a, product_b HAVING SUM(baskets) >= %s
), s AS (
  SELECT product_a AS a, SUM(baskets) AS n FROM {pairs}
  WHERE kind = %s{days} AND product_a = product_b GROUP BY product_a
)
SELECT p.a, p.b, p.n, sa.n, sb.n FROM p JOIN s sa ON sa.a = p.a JOIN s sb ON sb.a = p.b{category}
ORDER BY {order}, p.a, p.b LIMIT %s
"""


def covers_every_day(f: MetricFilter, kind: str) -> bool:
    """Whether the filter's days hold every day with baskets of ``kind`` (all history): then the all-time
    rollup answers (two index look-ups: the first and the last day)."""
    if f.start is None and f.end is None:
        return True
    span = ProductPairDaily.objects.filter(kind=kind).aggregate(lo=Min("day"), hi=Max("day"))
    return ((span["lo"] is None or f.start is None or span["lo"] >= f.start)
            and (span["hi"] is None or f.end is None or span["hi"] <= f.end))


def _baskets(f: MetricFilter, kind: str, all_time: bool) -> int:
    if all_time:
        rows = ProductPairTotal.objects.filter(kind=kind, product_a=0, product_b=0)
    else:
        rows = within_store_days(ProductPairDaily.objects.filter(kind=kind, product_a=0, product_b=0), f)
    return int(rows.aggregate(n=Sum("baskets"))["n"] or 0)


def _ranked_sql(f: MetricFilter, kind: str, product_pk: int | None, all_time: bool,
                bounds: tuple[int, int]) -> tuple[str, list[Any]]:
    """The ranking statement and its parameters; ``bounds``: the minimum baskets and the limit."""
    min_baskets, limit = bounds
    q = connection.ops.quote_name
    day_sql, day_params = "", list[Any]()
    if not all_time and f.start is not None:
        day_sql, day_params = day_sql + " AND day >= %s", [*day_params, f.start]
    if not all_time and f.end is not None:
        day_sql, day_params = day_sql + " AND day <= %s", [*day_params, f.end]
    one_sql, one_params = ("", []) if product_pk is None else (" AND (product_a = %s OR product_b = %s)",
                                                               [product_pk, product_pk])
    category_sql, category_params = "", []
    if f.category:
        products = q(Product._meta.db_table)
        category_sql = (f" JOIN {products} pa ON pa.id = p.a JOIN {products} pb ON pb.id = p.b"
                        " WHERE (pa.category = %s OR pb.category = %s)")
        category_params = [f.category, f.category]
    order = "p.n DESC" if product_pk is not None else "p.n * 1.0 / (sa.n * sb.n) DESC, p.n DESC"
    if all_time:
        sql = _RANKED_ALL_TIME.format(pairs=q(ProductPairTotal._meta.db_table), one=one_sql, category=category_sql,
                                      order=order)
        return sql, [kind, *one_params, min_baskets, kind, *category_params, limit]
    sql = _RANKED_PAIRS.format(pairs=q(ProductPairDaily._meta.db_table), days=day_sql, one=one_sql,
                               category=category_sql, order=order)
    return sql, [kind, *day_params, *one_params, min_baskets, kind, *day_params, *category_params, limit]


def _ranked_pairs(f: MetricFilter, kind: str, product_pk: int | None, min_baskets: int,
                  limit: int) -> tuple[int, list[tuple[int, int, int, int, int]]]:
    """(baskets, the top ``limit`` pairs as (a, b, baskets with both, with a, with b)), ranked in SQL: by lift,
    or with ``product_pk`` by baskets (its confidence to the other product) — only ``limit`` rows leave the
    database. All history reads the all-time rollup (``covers_every_day``)."""
    all_time = covers_every_day(f, kind)
    total = _baskets(f, kind, all_time)
    if not total:
        return 0, []
    sql, params = _ranked_sql(f, kind, product_pk, all_time, (min_baskets, limit))
    adapt = sql_param_adapter()
    if adapt is not None:
        params = [adapt(p) for p in params]
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql" and not all_time:  # the pairs' hash aggregate fits in memory
            cur.execute(f"SET LOCAL work_mem = '{PAIRS_WORK_MEM}'")
        cur.execute(sql, params)
        rows = [tuple(int(v) for v in row) for row in cur.fetchall()]
    return total, rows  # type: ignore[return-value]


def _pair_row(a: int, b: int, counts: tuple[int, int, int], total: int, info: dict[int, Row]) -> Row:
    both, with_a, with_b = counts
    support_a, support_b, support = with_a / total, with_b / total, both / total
    return {"product_a": info.get(a, {"pk": a}), "product_b": info.get(b, {"pk": b}), "baskets": both,
            "support": support, "confidence_ab": support / support_a if support_a else None,
            "confidence_ba": support / support_b if support_b else None,
            "lift": support / (support_a * support_b) if support_a and support_b else None}


def affinity_stats(f: MetricFilter, *, product_pk: int | None = None, min_baskets: int = MIN_PAIR_BASKETS,
                   limit: int = TOP_N, kinds: tuple[str, ...] = tuple(KINDS)) -> dict[str, Any]:
    """For orders and for carts: the baskets and the pairs by lift (with ``product_pk``: that product's
    pairs, the other product second, by confidence from it)."""
    out: dict[str, Any] = {"min_baskets": min_baskets,
                           "ignored_filters": [n for n, v in (("age_group", f.age_group), ("segment", f.segment),
                                                             ("action", f.actions)) if v]}
    for name in kinds:
        kind = KINDS[name]
        total, rows = _ranked_pairs(f, kind, product_pk, min_baskets, limit)
        products = Product.objects.filter(pk__in={pk for r in rows for pk in r[:2]})
        info: dict[int, Row] = {p["pk"]: dict(p) for p in products.values("pk", "external_id", "title", "category")}
        pairs = []
        for a, b, both, with_a, with_b in rows:
            if product_pk is not None and b == product_pk:
                a, b, with_a, with_b = b, a, with_b, with_a
            pairs.append(_pair_row(a, b, (both, with_a, with_b), total, info))
        out[name] = {"baskets": total, "pairs": pairs}
    return out
