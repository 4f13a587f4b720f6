"""Product affinity (DESIGN §4): pairs bought together (orders) and pairs added to the same cart, over
the baskets of the period. support(A,B) = share of baskets holding both; confidence(A→B) =
support(A,B) / support(A); lift = confidence(A→B) / support(B). Pairs in fewer than ``min_baskets``
baskets are not shown.

Read from the kind × day × pair rollup (``ProductPairDaily``). Filters: the date range (baskets by the
session's start day); category keeps pairs with a product in it. Age group and RFM segment do not
apply (the pair rollup has no customer dimension; the answer lists what was ignored); actions neither.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, Sum

from insights.filters import MetricFilter
from insights.models import ProductPairDaily
from insights.selectors._common import TOP_N, within_store_days
from products.models import Product

MIN_PAIR_BASKETS = 5
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


def _pairs(f: MetricFilter, kind: str, product_pk: int | None,
           min_baskets: int) -> tuple[int, dict[int, int], list[tuple[int, int, int]]]:
    """(baskets, baskets per product, [(a, b, baskets)] of the pairs with at least ``min_baskets``)."""
    days = within_store_days(ProductPairDaily.objects.filter(kind=kind), f)
    singles = {(r["product_a"]): r["n"] for r in days.filter(product_a=F("product_b"))
               .values("product_a").annotate(n=Sum("baskets"))}
    total = singles.pop(0, 0)
    pairs = days.filter(product_a__lt=F("product_b"))
    if product_pk is not None:
        pairs = pairs.filter(Q(product_a=product_pk) | Q(product_b=product_pk))
    rows = (pairs.values("product_a", "product_b").annotate(n=Sum("baskets")).filter(n__gte=min_baskets)
            .values_list("product_a", "product_b", "n"))
    return total, singles, list(rows)


def _pair_row(a: int, b: int, both: int, total: int, singles: dict, info: dict) -> Row:
    support_a, support_b = singles.get(a, 0) / total, singles.get(b, 0) / total
    support = both / total
    return {"product_a": info.get(a, {"pk": a}), "product_b": info.get(b, {"pk": b}), "baskets": both,
            "support": support, "confidence_ab": support / support_a if support_a else None,
            "confidence_ba": support / support_b if support_b else None,
            "lift": support / (support_a * support_b) if support_a and support_b else None}


def affinity_stats(f: MetricFilter, *, product_pk: int | None = None, min_baskets: int = MIN_PAIR_BASKETS,
                   limit: int = TOP_N) -> dict[str, Any]:
    """For orders and for carts: the baskets and the pairs by lift (with ``product_pk``: that product's
    pairs, the other product second, by confidence from it)."""
    out: dict[str, Any] = {"min_baskets": min_baskets,
                           "ignored_filters": [n for n, v in (("age_group", f.age_group), ("segment", f.segment),
                                                             ("action", f.actions)) if v]}
    for name, kind in KINDS.items():
        total, singles, rows = _pairs(f, kind, product_pk, min_baskets)
        products = Product.objects.filter(pk__in={pk for r in rows for pk in r[:2]})
        info: dict[int, Row] = {p["pk"]: dict(p) for p in products.values("pk", "external_id", "title", "category")}
        if f.category:
            rows = [r for r in rows if any(info.get(pk, {}).get("category") == f.category for pk in r[:2])]
        pairs = []
        for a, b, both in rows:
            if product_pk is not None and b == product_pk:
                a, b = b, a
            pairs.append(_pair_row(a, b, both, total, singles, info))
        key = "confidence_ab" if product_pk is not None else "lift"
        pairs.sort(key=lambda r: (-(r[key] or 0), -r["baskets"], r["product_a"]["pk"], r["product_b"]["pk"]))
        out[name] = {"baskets": total, "pairs": pairs[:limit]}
    return out
