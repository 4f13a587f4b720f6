"""What a platform delivery becomes: native events (docs/sending-events.md) and customer profiles.

Pure (no ORM, no settings): a payload in, a ``Translation`` out; the platform modules
(``shopify``, ``woocommerce``) build it with the helpers here, and ``events.connections.services``
checks it (``translation_problems``) and stores it through the one ingest service.

Conventions shared by both platforms (docs/connections.md):
- event ids are ``<connection slug>:<what>:<platform ids>``, derived from the store's own ids (order
  and line item, refund and line, checkout token and line), never from the delivery: the same
  order sent by two topics or twice is the same events, stored once;
- customer, order and product ids are the store's ids in the connection's id space (``IdSpace``):
  as the platform sends them for the primary connection (the same customers the tracker and the
  server keys name), ``<slug>:`` + them for every other connection. A guest (no customer account)
  is ``guest:`` + the first 24 hex digits of the SHA-256 of their lower-cased e-mail (stable across
  orders and checkouts, no personal data in the id), else ``guest:<slug>:order:<id>`` /
  ``guest:<slug>:checkout:<token>``, in the same id space;
- money is sent as JSON numbers rounded to the cent, in the currency the platform reports for the
  shop (Shopify ``currency`` / ``shop_money``; WooCommerce ``currency``). A negative price, line
  total, discount, shipping or tax is refused (``refused``): the whole delivery is then refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from events.wire import MAX_CUSTOMER_ID, MAX_ORDER_ID
from events.wire.values import ident as valid_ident

MAX_EVENT_ID = 100
MAX_SLUG = 40  # event ids are "<slug>:…" and must fit the 100 characters of Event.event_id
RESERVED_SLUGS = frozenset({"anon", "guest"})  # "anon:<id>" and "guest:<hash>" are customer ids already
_CENT = Decimal("0.01")
TRAITS = ("name", "email", "gender", "city", "country")  # what customers_update_traits sets


@dataclass(frozen=True)
class IdSpace:
    """Whose ids a connection's are: ``slug`` starts its event ids; ``prefix`` ("" for the store's
    primary connection, else ``<slug>:``) starts its customer, order and product ids."""

    slug: str
    prefix: str = ""

    def of(self, raw: str) -> str:
        return self.prefix + raw

    def guest(self, email: Any, fallback: str) -> str:
        """A guest's customer id: from the e-mail when there is one (see the module note)."""
        return self.prefix + guest_id(self.slug, email, fallback)


@dataclass
class Translation:
    """A delivery as native events (in order), customer traits (customer id → traits), the customer
    of each order it names (the platform's order id → customer id), the platform's time of each
    customer's profile (customer id → its ``updated_at`` as sent) and why parts of it are refused
    (any refusal refuses the delivery)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    profile_times: dict[str, Any] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    ignored: str = ""  # why nothing of the delivery is kept ("" when something is)


def event_id(slug: str, *parts: Any) -> str:
    """``slug:part:part…``; when longer than the column, ``slug:h:`` + a SHA-256 of it (still stable)."""
    whole = ":".join([slug, *(str(p) for p in parts)])
    if len(whole) <= MAX_EVENT_ID:
        return whole
    return f"{slug}:h:{hashlib.sha256(whole.encode()).hexdigest()[:48]}"


def money(value: Any) -> float | None:
    """A platform amount ("199.00", 199, "-10.00") as a number rounded to the cent, sign kept; None
    when missing or not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None
    return float(d) if d.is_finite() else None


def amount(value: Any, where: str, refused: list[str]) -> float | None:
    """``money(value)``, except that a negative amount is refused (noted in ``refused``) and None."""
    m = money(value)
    if m is not None and m < 0:
        refused.append(f"{where}: negative amount {str(value)[:20]} (platform prices are never negative)")
        return None
    return m


def amount_sum(values: list[Any], where: str, refused: list[str]) -> float | None:
    """The sum of several amounts (None when none is a number); a negative one is refused."""
    total, seen = Decimal(0), False
    for value in values:
        m = amount(value, where, refused)
        if m is not None:
            total += Decimal(repr(m))
            seen = True
    return float(total.quantize(_CENT)) if seen else None


def ident(value: Any, where: str = "", refused: list[str] | None = None) -> str | None:
    """A platform id (number or string) as a string; None when missing, 0 or empty. Another JSON
    type (an object, a list, a number with a fraction) is refused when ``refused`` is given."""
    if value is None or value == 0 or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value)
    if refused is not None:
        refused.append(f"{where}: must be a string or an integer id")
    return None


def items(obj: dict[str, Any], key: str, refused: list[str]) -> list[dict[str, Any]]:
    """``obj[key]`` as a list of JSON objects; missing or null is []; anything else is refused."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        refused.append(f"{key}: must be a list")
        return []
    if not all(isinstance(v, dict) for v in value):
        refused.append(f"{key}: every entry must be a JSON object")
        return []
    return value


def guest_id(slug: str, email: Any, fallback: str) -> str:
    """A guest's customer id in the primary id space (``IdSpace.guest`` adds the prefix)."""
    if isinstance(email, str) and "@" in email:
        return "guest:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
    return f"guest:{slug}:{fallback}"


def order_object(*, discount: Any, coupon: Any, shipping: Any, tax: Any, refused: list[str]) -> dict[str, Any]:
    """The order-level money of a purchase (the native ``order`` object), only the parts the store
    gave; a negative part is refused."""
    out: dict[str, Any] = {}
    for key, value in (("discount", discount), ("shipping", shipping), ("tax", tax)):
        m = amount(value, f"order {key}", refused)
        if m is not None:
            out[key] = m
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


def translation_problems(t: Translation) -> list[str]:
    """Everything that refuses the delivery before any write: what the platform module refused,
    and customer and order ids the database cannot hold (the events' own fields are checked by
    the wire format)."""
    problems = list(t.refused)
    named = [("customer id", c, MAX_CUSTOMER_ID) for c in (*t.customers, *t.orders.values(), *t.profile_times)]
    named += [("order id", o, MAX_ORDER_ID) for o in t.orders]
    for what, value, limit in named:
        _, reason = valid_ident(value, limit)
        if reason is not None:
            problems.append(f"{what} {value[:40]!r}: {reason}")
    return sorted(set(problems), key=problems.index)
