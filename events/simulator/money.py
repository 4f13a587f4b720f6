"""Money in the simulated store: some orders in a second currency, some with a coupon and
its discount, and a small share refunded days later. PURE (no ORM).

``apply_money`` works on wire events as ``output.wire_events`` builds them: it changes the purchase
lines in place and answers the refunds to send later. Every choice comes from a hash of the order
id, so the same events get the same money (and the same refund ids) whichever chunk or tick they
arrive in; the behaviour model's random draws are untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# (code, share of the order's gross taken off)
COUPONS: tuple[tuple[str, Decimal], ...] = (("WELCOME10", Decimal("0.10")), ("SPRING15", Decimal("0.15")),
                                            ("VIP20", Decimal("0.20")), ("FREESHIP", Decimal("0")))


@dataclass(frozen=True)
class MoneyPlan:
    """What share of orders gets which money. ``currency`` None: every order in the store currency;
    else ``currency_share`` of orders are priced in it at ``per_store_unit`` of it per store unit."""

    currency: str | None = None
    per_store_unit: Decimal = Decimal("1")
    currency_share: float = 0.2
    coupon_share: float = 0.15
    refund_share: float = 0.06
    refund_days: tuple[int, int] = (2, 12)
    shipping: Decimal = Decimal("4.99")


def _unit(order_id: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by the order id."""
    digest = hashlib.sha256(f"{salt}|{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)


def apply_money(events: list[dict], plan: MoneyPlan) -> list[tuple[datetime, dict]]:
    """Give each order among ``events`` its money (in place) and return its refund, if any, as
    (when, event): one line of the order (one unit), ``refund_days`` later."""
    orders: dict[str, list[dict]] = {}
    for e in events:
        if e.get("action") == "purchase" and e.get("order_id"):
            orders.setdefault(e["order_id"], []).append(e)
    refunds: list[tuple[datetime, dict]] = []
    for order_id, lines in orders.items():
        if plan.currency is not None and _unit(order_id, "currency") < plan.currency_share:
            for line in lines:
                line["currency"] = plan.currency
                line["product_price"] = float(_money(Decimal(str(line["product_price"])) * plan.per_store_unit))
        gross = sum((Decimal(str(line["product_price"])) * line["quantity"] for line in lines), Decimal(0))
        if _unit(order_id, "coupon") < plan.coupon_share:
            code, share = COUPONS[int(_unit(order_id, "which") * len(COUPONS))]
            lines[0]["order"] = {"coupon": code, "discount": _money(gross * share),
                                 "shipping": "0.00" if code == "FREESHIP" else _money(plan.shipping)}
        if _unit(order_id, "refund") < plan.refund_share:
            refunds.append(_refund(order_id, lines[int(_unit(order_id, "line") * len(lines))], plan))
    return refunds


def _refund(order_id: str, line: dict, plan: MoneyPlan) -> tuple[datetime, dict]:
    lo, hi = plan.refund_days
    when = _parse(line["timestamp"]) + timedelta(days=lo + (hi - lo) * _unit(order_id, "when"))
    event = {"event_id": f"{line['event_id'][:24]}refund-{order_id}", "customer_id": line["customer_id"],
             "action": "refund", "order_id": order_id, "product_id": line["product_id"], "quantity": 1,
             "amount": line["product_price"], "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if line.get("currency"):
        event["currency"] = line["currency"]
    return when, event
