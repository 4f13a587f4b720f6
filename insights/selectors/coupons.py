"""Coupons and discounts (issue 13): orders placed in the period with and without a coupon, their
net revenue and AOV, the top coupons, and discounts as a share of gross revenue.

An order here is an ``order_id`` whose first purchase line falls in the period (store days), not
cancelled; its coupon and discount are those of its first stored line carrying an order object
(``insights.money``); its refunds are every refund of that order, whenever made (so an order's net
is final, unlike the KPI row, which counts refunds on their own day). Lines without an order id are
left out. This panel reads the period's purchase lines (``event_ts_idx``) rather than a rollup: a
coupon's gross needs every line of its orders, which only the order as a whole knows. The age-group
filter applies; category and segment do not.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Q

from events.models import Action, Event
from events.types import line_total
from insights.filters import MetricFilter
from insights.order_store import orders_cancelled
from insights.selectors._common import TOP_N, as_count, as_money
from insights.stats import rate

ZERO = Decimal("0")
_CHUNK = 500


class _Order:
    __slots__ = ("gross", "discount", "coupon", "winner", "refunds")

    def __init__(self) -> None:
        self.gross = ZERO
        self.discount = ZERO
        self.coupon = ""
        self.winner: int | None = None
        self.refunds = ZERO

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount - self.refunds


def _orders(f: MetricFilter) -> dict[str, _Order]:
    lo, hi = f.utc_bounds()
    lines = Event.objects.filter(action=Action.PURCHASE, order_id__isnull=False)
    if lo is not None:
        lines = lines.filter(timestamp__gte=lo)
    if hi is not None:
        lines = lines.filter(timestamp__lt=hi)
    if f.age_group:
        lines = lines.filter(customer__age_group=f.age_group)
    orders: dict[str, _Order] = defaultdict(_Order)
    for pk, order_id, price, quantity, amount, discount, coupon, shipping, tax in lines.values_list(
            "pk", "order_id", "price", "quantity", "amount", "discount", "coupon", "shipping", "tax"):
        o = orders[order_id or ""]
        o.gross += line_total(price, quantity, amount)
        carries = discount is not None or coupon or shipping is not None or tax is not None
        if carries and (o.winner is None or pk < o.winner):
            o.winner, o.discount, o.coupon = pk, discount or ZERO, coupon
    for cancelled in orders_cancelled(list(orders)):
        orders.pop(cancelled, None)
    ids = sorted(orders)
    for i in range(0, len(ids), _CHUNK):
        refunds = Event.objects.filter(Q(order_id__in=ids[i:i + _CHUNK]), action=Action.REFUND)
        for order_id, price, quantity, amount in refunds.values_list("order_id", "price", "quantity", "amount"):
            orders[order_id or ""].refunds += line_total(price, quantity, amount)
    return orders


def _group(orders: list[_Order]) -> dict[str, Any]:
    net = sum((o.net for o in orders), ZERO)
    return {"orders": len(orders), "gross_revenue": as_money(sum((o.gross for o in orders), ZERO)),
            "discounts": as_money(sum((o.discount for o in orders), ZERO)),
            "refunds": as_money(sum((o.refunds for o in orders), ZERO)),
            "net_revenue": as_money(net), "aov": round(float(net) / len(orders), 2) if orders else None}


def coupons_stats(f: MetricFilter) -> dict[str, Any]:
    """``with_coupon`` and ``without_coupon`` (orders, gross, discounts, refunds, net revenue, AOV),
    ``top_coupons`` (by orders) and ``discount_share`` (discounts / gross of all the orders)."""
    orders = _orders(f)
    by_coupon: dict[str, list[_Order]] = defaultdict(list)
    for o in orders.values():
        by_coupon[o.coupon].append(o)
    with_coupon = [o for code, group in by_coupon.items() if code for o in group]
    gross = sum((o.gross for o in orders.values()), ZERO)
    discounts = sum((o.discount for o in orders.values()), ZERO)
    top = sorted(((code, group) for code, group in by_coupon.items() if code),
                 key=lambda item: (-len(item[1]), item[0]))[:TOP_N]
    return {
        "with_coupon": _group(with_coupon),
        "without_coupon": _group(by_coupon.get("", [])),
        "top_coupons": [{"coupon": code, **_group(group)} for code, group in top],
        "discount_share": rate(float(discounts), float(gross)),
        "orders": as_count(len(orders)),
    }
