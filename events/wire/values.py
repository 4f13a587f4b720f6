"""One value of an event, parsed and checked against what the database can hold.

Every parser answers ``(value, None)`` or ``(None, reason)``, without raising: these run for every
field of every event (tens of thousands a second). The ones a field table calls take
``(value, limit, latest)``: the field's length limit and the latest acceptable timestamp.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from events.wire.decoding import HugeNumber
from events.wire.reasons import EMPTY, NOT_FINITE, NOT_INTEGER, NOT_NUMBER, NOT_STRING, REQUIRED, Reason, too_long

# Column limits of events.Event, customers.Customer and products.Product (a test pins them to the
# models' max_length).
MAX_EVENT_ID = 100
MAX_CUSTOMER_ID = 100
MAX_SESSION_ID = 100
MAX_ORDER_ID = 100
MAX_PRODUCT_ID = 100
MAX_PRODUCT_TITLE = 300
MAX_PRODUCT_IMAGE = 500
MAX_CATEGORY = 100
MAX_EXPERIMENT = 100  # an experiment's and a variant's name
MAX_ANONYMOUS_ID = 95  # stored as the customer id "anon:<id>" when there is no customer id (≤ 100)
MAX_QUANTITY = 2_147_483_647  # PostgreSQL integer
MAX_PRICE = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
# The most one event may carry in any money figure (store currency, after conversion): a line total
# (amount, else unit price × quantity), a refund, an order's discount, shipping or tax. The rollups'
# money columns hold |x| < 10^16 (insights.fields.money_field: 18 digits, 2 decimal places), so a
# single rollup row (an hour, a day, a month, a customer's all-time totals) takes 10^7 events at this
# bound, one every 3 seconds for a whole year, and still fits; no real line comes near it (just under
# a billion in the store currency: over 60,000 US dollars even in Indonesian rupiah).
MAX_MONEY = Decimal("999999999.99")
FUTURE_TOLERANCE = timedelta(minutes=5)
# Earlier timestamps are refused: no store's event is older, and the analytics (time zones, hour
# buckets) need dates that stay inside datetime's range in every zone.
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)

CENT = Decimal("0.01")
_price_cache: dict[Any, Decimal] = {}
_PRICE_CACHE_KEY_CHARS = 32

# Identifiers and one-line labels: no C0 or C1 control character, no DEL, no lone surrogate.
# Free text (description): no NUL (PostgreSQL text cannot hold it) and no lone surrogate; tab,
# line breaks and other control characters are kept as sent.
_LABEL_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_BAD = re.compile("[\x00\ud800-\udfff]")


def _bad_character(value: str, pattern: re.Pattern[str]) -> Reason | None:
    """Why ``value`` (not ``isprintable()``) holds a character the database cannot (or should not)
    store, or None (e.g. a no-break space is not printable but is fine)."""
    match = pattern.search(value)
    if match is None:
        return None
    char = match.group()
    where = f"U+{ord(char):04X} at position {match.start()}"
    if "\ud800" <= char <= "\udfff":
        return Reason(f"invalid Unicode ({where}: a lone surrogate; was the text UTF-8?)", "invalid_unicode")
    return Reason(f"contains a control character ({where})", "control_character")


def ident(value: Any, limit: int, latest: Any = None) -> tuple[str | None, Reason | None]:
    """A required id: a non-empty string (or an integer, read as its decimal string) of printable
    characters."""
    t = type(value)
    if t is str:
        if not value or value.isspace():
            return None, EMPTY
    elif t is int:
        if value.bit_length() > 4 * limit:  # cheaper than str() of a huge int; surely too long
            return None, too_long(limit)
        value = str(value)
    elif value is None:
        return None, REQUIRED
    else:
        return None, NOT_STRING
    if len(value) > limit:
        return None, too_long(limit)
    if not value.isprintable():  # the common case stays one C call
        bad = _bad_character(value, _LABEL_BAD)
        if bad is not None:
            return None, bad
    return value, None


def label(value: Any, limit: int | None, latest: Any = None, pattern: re.Pattern[str] = _LABEL_BAD
          ) -> tuple[str | None, Reason | None]:
    """An optional id or one-line label (``_LABEL_BAD`` characters refused; free text: ``text``);
    empty is None."""
    t = type(value)
    if value is None or value == "":
        return None, None
    if t is int:
        if limit is not None and value.bit_length() > 4 * limit:
            return None, too_long(limit)
        value = str(value)
    elif t is not str:
        return None, NOT_STRING
    if limit is not None and len(value) > limit:
        return None, too_long(limit)
    if not value.isprintable():
        bad = _bad_character(value, pattern)
        if bad is not None:
            return None, bad
    return value, None


def title(value: Any, limit: int | None, latest: Any = None) -> tuple[str | None, Reason | None]:
    """An optional label (a product title); white space alone counts as absent."""
    name, reason = label(value, limit)
    return (None, None) if name is not None and name.isspace() else (name, reason)


def text(value: Any, limit: int | None, latest: Any = None) -> tuple[str | None, Reason | None]:
    """Optional free text (line breaks and tabs kept)."""
    return label(value, limit, latest, _TEXT_BAD)


_PRICE_TOO_SMALL = Reason("must be >= 0", "out_of_range")
_PRICE_TOO_LARGE = Reason(f"must be <= {MAX_PRICE}", "out_of_range")
_MONEY_TOO_LARGE = Reason(f"must be <= {MAX_MONEY}", "out_of_range")
_QUANTITY_TOO_SMALL = Reason("must be >= 1", "out_of_range")
_QUANTITY_TOO_LARGE = Reason(f"must be <= {MAX_QUANTITY}", "out_of_range")


def parse_price(value: Any, limit: Any = None, latest: Any = None) -> tuple[Decimal | None, Reason | None]:
    """A unit price: a finite number (or numeric string) >= 0, rounded to cents. (``limit`` and
    ``latest``: unused, the signature of a field table's parser.)"""
    t = type(value)
    if t is float or t is int or (t is str and len(value) <= _PRICE_CACHE_KEY_CHARS):
        cached = _price_cache.get(value)
        if cached is not None:
            return cached, None
    if t is float:
        if not math.isfinite(value):
            return None, NOT_FINITE
        d = Decimal(repr(value))
    elif t is int:
        d = Decimal(value)
    elif t is str:
        try:
            d = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None, NOT_NUMBER
        if not d.is_finite():
            return None, NOT_FINITE
    elif t is HugeNumber:
        return None, _PRICE_TOO_LARGE
    else:
        return None, NOT_NUMBER
    if d < 0:
        return None, _PRICE_TOO_SMALL
    if d > MAX_PRICE or (d := d.quantize(CENT, rounding=ROUND_HALF_UP)) > MAX_PRICE:
        return None, _PRICE_TOO_LARGE
    if len(_price_cache) < 50_000 and (t is not str or len(value) <= _PRICE_CACHE_KEY_CHARS):
        _price_cache[value] = d
    return d, None


def parse_money(value: Any, limit: Any = None, latest: Any = None) -> tuple[Decimal | None, Reason | None]:
    """An amount of money (a line's or a refund's amount; an order's discount, shipping or tax): a
    price (``parse_price``) of at most ``MAX_MONEY``."""
    d, reason = parse_price(value)
    if (d is not None and d > MAX_MONEY) or reason is _PRICE_TOO_LARGE:
        return None, _MONEY_TOO_LARGE
    return d, reason


def line_too_large(total: Decimal) -> Reason:
    """Why a line whose total (unit price × quantity, in the store currency) is over ``MAX_MONEY`` is refused."""
    return Reason(f"price × quantity is {total}: a line may total at most {MAX_MONEY}", "out_of_range")


def money_too_large(what: str, value: Decimal, limit: Decimal = MAX_MONEY) -> Reason:
    """Why an amount over its limit (e.g. once converted to the store currency) is refused."""
    return Reason(f"{what} is {value}: at most {limit}", "out_of_range")


def parse_quantity(value: Any, limit: Any = None, latest: Any = None) -> tuple[int | None, Reason | None]:
    """A positive integer (or a string of ASCII digits) that fits the column."""
    t = type(value)
    if t is int:
        q = value
    elif t is str:
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()):
            return None, NOT_INTEGER
        if len(digits) > 12:
            return None, _QUANTITY_TOO_LARGE
        q = int(digits)
    elif t is float and value.is_integer():
        q = int(value)
    elif t is HugeNumber:
        return None, _QUANTITY_TOO_LARGE
    else:
        return None, NOT_INTEGER
    if 1 <= q <= MAX_QUANTITY:
        return q, None
    return None, _QUANTITY_TOO_SMALL if q < 1 else _QUANTITY_TOO_LARGE


_TS_REQUIRED_STRING = Reason("must be an ISO 8601 string", "wrong_type")
_TS_NOT_ISO = Reason("not an ISO 8601 date-time", "invalid_timestamp")
_TS_FUTURE = Reason("more than 5 minutes in the future", "in_future")
_TS_TOO_OLD = Reason(f"before {MIN_TIMESTAMP:%Y-%m-%d}", "out_of_range")


def parse_timestamp(value: Any, limit: Any, latest: datetime) -> tuple[datetime | None, Reason | None]:
    """ISO 8601; a time without offset is UTC; later than ``latest`` is refused (``limit``:
    unused, the signature of a field table's parser)."""
    if type(value) is not str:
        if isinstance(value, datetime):
            ts = value
        elif value is None:
            return None, REQUIRED
        else:
            return None, _TS_REQUIRED_STRING
    else:
        if len(value) > 64 or "\x00" in value:  # fromisoformat ignores one trailing NUL
            return None, _TS_NOT_ISO
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None, _TS_NOT_ISO
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.utcoffset():
        try:
            ts = ts.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00
            return None, _TS_TOO_OLD if ts.year < 2000 else _TS_FUTURE
    if ts > latest:
        return None, _TS_FUTURE
    if ts < MIN_TIMESTAMP:
        return None, _TS_TOO_OLD
    return ts, None


_CURRENCY_BAD = Reason("must be an ISO 4217 code: 3 letters, e.g. USD", "invalid_currency")
MAX_COUPON = 100


class OrderMoney(NamedTuple):
    """A purchase line's ``order`` object: order-level money, counted once per order (docs/sending-events.md)."""

    discount: Decimal | None = None
    coupon: str = ""
    shipping: Decimal | None = None
    tax: Decimal | None = None

    def converted(self, rate: Decimal) -> OrderMoney:
        def at(d: Decimal | None) -> Decimal | None:
            return None if d is None else (d * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        return OrderMoney(at(self.discount), self.coupon, at(self.shipping), at(self.tax))


def parse_currency(value: Any, limit: Any = None, latest: Any = None) -> tuple[str | None, Reason | None]:
    """An ISO 4217 code: three ASCII letters (read upper-case); empty is absent."""
    if value == "":
        return None, None
    if type(value) is not str or len(value) != 3 or not (value.isascii() and value.isalpha()):
        return None, _CURRENCY_BAD
    return value.upper(), None


def parse_order(value: Any, limit: Any = None, latest: Any = None) -> tuple[OrderMoney | None, Reason | None]:
    """``{"discount", "coupon", "shipping", "tax"}``, each optional (other keys are ignored): amounts
    >= 0 to the cent and at most ``MAX_MONEY``, a coupon a one-line label. An object with none of them
    is absent."""
    if type(value) is not dict:
        return None, Reason("must be an object: discount, coupon, shipping, tax", "wrong_type")
    amounts: dict[str, Decimal | None] = {}
    for key in ("discount", "shipping", "tax"):
        raw = value.get(key)
        amounts[key], reason = (None, None) if raw is None else parse_money(raw)
        if reason is not None:
            return None, Reason(f"{key}: {reason}", reason.code)
    coupon, reason = label(value.get("coupon"), MAX_COUPON)
    if reason is not None:
        return None, Reason(f"coupon: {reason}", reason.code)
    order = OrderMoney(amounts["discount"], coupon or "", amounts["shipping"], amounts["tax"])
    return (None, None) if order == OrderMoney() else (order, None)
