"""Coupons and discounts (docs/money.md): orders placed in the period with and without a coupon, their
net revenue and AOV, the top coupons, and discounts as a share of gross revenue.

An order here is an ``order_id`` with purchase lines in the period (store days; only those lines count), not
cancelled; its coupon and discount are those of its first stored line carrying an order object
(``insights.money``); its refunds are every refund of that order, whenever made (so an order's net
is final, unlike the KPI row, which counts refunds on their own day). Lines without an order id are
left out. This panel reads the period's purchase lines (``event_ts_idx``) rather than a rollup: a
coupon's gross needs every line of its orders, which only the order as a whole knows. The age-group
filter applies; category and segment do not. The SQL is ``insights.order_store.coupon_totals``
(one statement, one row per coupon).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from insights.filters import MetricFilter
from insights.order_store import coupon_totals
from insights.selectors._common import TOP_N, as_count, as_money
from insights.stats import rate

ZERO = Decimal("0")
Totals = tuple[int, Decimal, Decimal, Decimal]  # orders, gross, discounts, refunds


def _group(totals: Totals) -> dict[str, Any]:
    orders, gross, discounts, refunds = totals
    net = gross - discounts - refunds
    return {"orders": orders, "gross_revenue": as_money(gross), "discounts": as_money(discounts),
            "refunds": as_money(refunds), "net_revenue": as_money(net),
            "aov": round(float(net) / orders, 2) if orders else None}


def _add(rows: list[Totals]) -> Totals:
    return (sum(r[0] for r in rows), sum((r[1] for r in rows), ZERO), sum((r[2] for r in rows), ZERO),
            sum((r[3] for r in rows), ZERO))


def coupons_stats(f: MetricFilter) -> dict[str, Any]:
    """``with_coupon`` and ``without_coupon`` (orders, gross, discounts, refunds, net revenue, AOV),
    ``top_coupons`` (by orders) and ``discount_share`` (discounts / gross of all the orders)."""
    lo, hi = f.utc_bounds()
    by_coupon = {code: (n, g, d, r) for code, n, g, d, r in coupon_totals(lo=lo, hi=hi, age_group=f.age_group)}
    coupons = [t for code, t in by_coupon.items() if code]
    everything = _add(list(by_coupon.values()))
    top = sorted(((code, t) for code, t in by_coupon.items() if code), key=lambda item: (-item[1][0], item[0]))
    return {
        "with_coupon": _group(_add(coupons)),
        "without_coupon": _group(by_coupon.get("", (0, ZERO, ZERO, ZERO))),
        "top_coupons": [{"coupon": code, **_group(t)} for code, t in top[:TOP_N]],
        "discount_share": rate(float(everything[2]), float(everything[1])),
        "orders": as_count(everything[0]),
    }
