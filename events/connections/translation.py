"""What a platform delivery becomes: native events (docs/sending-events.md) and customer profiles.

Pure (no ORM, no settings): a payload in, a ``Translation`` out; the platform modules
(``shopify``, ``woocommerce``) build it with the helpers here, and ``events.connections.services``
stores it through the one ingest service.

Conventions shared by both platforms:
- event ids are ``<connection slug>:<what>:<platform ids>``, derived from the store's own ids (order
  and line item, refund and line, checkout token and line), never from the delivery: the same
  order sent by two topics or twice is the same events, stored once;
- ``customer_id`` is the store's customer id as a string (the same customer the tracker and the
  other APIs name); a guest (no customer account) is ``guest:`` + the first 24 hex digits of the
  SHA-256 of their lower-cased e-mail (stable across orders and checkouts, no personal data in the
  id), else ``guest:<slug>:order:<id>`` / ``guest:<slug>:checkout:<token>``;
- money is sent as JSON numbers rounded to the cent, in the currency the platform reports for the
  shop (Shopify ``currency`` / ``shop_money``; WooCommerce ``currency``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MAX_EVENT_ID = 100
_CENT = Decimal("0.01")
TRAITS = ("name", "email", "gender", "city", "country")  # what customers_update_traits sets


@dataclass
class Translation:
    """A delivery as native events (in order), customer traits (store customer id → traits) and
    the customer of each order it names (order id → customer id)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    ignored: str = ""  # why nothing of the delivery is kept ("" when something is)


def event_id(slug: str, *parts: Any) -> str:
    """``slug:part:part…``; when longer than the column, ``slug:h:`` + a SHA-256 of it (still stable)."""
    whole = ":".join([slug, *(str(p) for p in parts)])
    if len(whole) <= MAX_EVENT_ID:
        return whole
    return f"{slug}:h:{hashlib.sha256(whole.encode()).hexdigest()[:48]}"


def money(value: Any) -> float | None:
    """A platform amount ("199.00", 199, "-10.00") as a number rounded to the cent (absolute value:
    refunds are sent as negative totals by WooCommerce), or None when missing or not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value)).copy_abs().quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None
    return float(d) if d.is_finite() else None


def money_sum(values: list[Any]) -> float | None:
    """The sum of several amounts (None when none is a number)."""
    total, seen = Decimal(0), False
    for value in values:
        m = money(value)
        if m is not None:
            total += Decimal(repr(m))
            seen = True
    return float(total.quantize(_CENT)) if seen else None


def ident(value: Any) -> str | None:
    """A platform id (number or string) as a string; None when missing, 0 or empty."""
    if value is None or value == 0 or value == "" or isinstance(value, bool):
        return None
    return str(value)


def guest_id(slug: str, email: Any, fallback: str) -> str:
    """A guest's customer id: from the e-mail when there is one (see the module note)."""
    if isinstance(email, str) and "@" in email:
        return "guest:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
    return f"guest:{slug}:{fallback}"


def order_object(*, discount: Any, coupon: str | None, shipping: Any, tax: Any) -> dict[str, Any]:
    """The order-level money of a purchase (``order``, docs/sending-events.md): only what the store gave."""
    out: dict[str, Any] = {}
    for key, value in (("discount", money(discount)), ("shipping", money(shipping)), ("tax", money(tax))):
        if value is not None:
            out[key] = value
    if coupon:
        out["coupon"] = coupon
    return out


def traits_of(**values: Any) -> dict[str, Any]:
    """The non-empty traits among ``values`` (keys from ``TRAITS``), strings stripped."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in TRAITS:
            raise ValueError(f"unknown trait {key}")
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ""):
            out[key] = value
    return out


def full_name(first: Any, last: Any) -> str:
    return " ".join(p.strip() for p in (first, last) if isinstance(p, str) and p.strip())
