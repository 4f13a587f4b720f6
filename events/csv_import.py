"""CSV rows → native events (pure: no database). Used by ``manage.py import_events``.

A ``CsvMapping`` says which column feeds which native field (``--map dest=source``), which fields
are constants (``--action``, ``--default``), and how to read dates. Rows without an event_id get one
derived from their row number and content, so importing the same file again stores nothing new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

NATIVE_FIELDS = (
    "event_id", "customer_id", "session_id", "action", "product_id", "quantity", "product_price",
    "order_id", "timestamp", "product_title", "product_image", "description", "category",
)
# A line total. On purchase rows it is sent as the event's ``amount`` (revenue, kept to the cent);
# the unit price, when no column gives one, is amount / quantity rounded to the cent (for display).
# It is not among the fields a derived event_id hashes, so ids stay what earlier imports made.
AMOUNT = "amount"
PURCHASE_ACTIONS = ("purchase", "purchase_cart")
AMOUNT_ACTIONS = (*PURCHASE_ACTIONS, "refund")  # rows whose amount is sent (a refund's: the amount refunded)
# Money (docs/money.md), outside the derived event id too: the currency of a row, and the order-level
# columns a purchase row sends as its ``order`` object.
CURRENCY = "currency"
ORDER_FIELDS = ("discount", "coupon", "shipping", "tax")
MAPPABLE = (*NATIVE_FIELDS, AMOUNT, CURRENCY, *ORDER_FIELDS)
UNSPECIFIED_PRODUCT = "Unspecified product"

# --preset transactions: column names seen in order logs (compared without case, spaces, _ or -).
_TRANSACTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customerid", "customer", "clientid", "userid", "customerno", "customernumber"),
    "timestamp": ("date", "timestamp", "invoicedate", "orderdate", "transactiondate", "datetime", "time",
                  "purchasedate"),
    "quantity": ("quantity", "qty", "units", "count"),
    AMOUNT: ("amount", "total", "linetotal", "revenue", "sales", "value", "totalamount"),
    "product_price": ("unitprice", "price", "productprice"),
    "product_id": ("productid", "stockcode", "sku", "itemid", "productcode"),
    "product_title": ("producttitle", "productname", "description", "product", "item", "title"),
    "order_id": ("orderid", "invoice", "invoiceno", "invoicenumber", "transactionid", "orderno"),
    "category": ("category", "productcategory"),
}


class MappingError(ValueError):
    """A --map / --default / --preset that cannot work with this file."""


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def parse_pairs(spec: str | None, *, option: str) -> dict[str, str]:
    """``a=b,c=d`` → {"a": "b", "c": "d"}; the keys must be mappable fields."""
    pairs: dict[str, str] = {}
    if not spec:
        return pairs
    for part in spec.split(","):
        dest, sep, value = part.partition("=")
        dest = dest.strip()
        if not sep or not dest:
            raise MappingError(f"{option}: expected dest=value, got {part!r}")
        if dest not in MAPPABLE:
            raise MappingError(f"{option}: {dest!r} is not a field; choose from {', '.join(MAPPABLE)}")
        pairs[dest] = value.strip()
    return pairs


@dataclass
class CsvMapping:
    columns: dict[str, str]  # native field (or AMOUNT) → CSV column
    constants: dict[str, str] = field(default_factory=dict)  # native field → value when no column/empty
    date_format: str | None = None  # strptime format for non-ISO dates

    @classmethod
    def build(cls, header: Sequence[str], *, map_spec: str | None = None, defaults: str | None = None,
              action: str | None = None, preset: str | None = None, date_format: str | None = None) -> CsvMapping:
        header = list(header)
        columns: dict[str, str] = {}
        constants: dict[str, str] = {}
        if preset == "transactions":
            by_norm = {_norm(h): h for h in header}
            for dest, candidates in _TRANSACTION_COLUMNS.items():
                for candidate in candidates:
                    if candidate in by_norm and by_norm[candidate] not in columns.values():
                        columns[dest] = by_norm[candidate]
                        break
            constants["action"] = "purchase"
            if "product_id" not in columns and "product_title" not in columns:
                constants["product_title"] = UNSPECIFIED_PRODUCT
        elif preset is not None:
            raise MappingError(f"unknown preset {preset!r} (available: transactions)")
        else:
            columns.update({h: h for h in header if h in MAPPABLE})
        for dest, source in parse_pairs(map_spec, option="--map").items():
            if source not in header:
                raise MappingError(f"--map {dest}={source}: no column {source!r} in the file "
                                   f"(columns: {', '.join(header)})")
            columns[dest] = source
        constants.update(parse_pairs(defaults, option="--default"))
        if action:
            constants["action"] = action
            columns.pop("action", None)
        missing = [f for f in ("customer_id", "action", "timestamp") if f not in columns and f not in constants]
        if missing:
            raise MappingError(f"no column or constant for {', '.join(missing)}: use --map dest=column, "
                               "--action or --default (columns: " + ", ".join(header) + ")")
        return cls(columns=columns, constants=constants, date_format=date_format)

    def to_event(self, row: dict[str, Any], row_number: int) -> dict[str, Any] | dict[str, dict[str, str]]:
        """A native event dict, or ``{"errors": {field: reason}}`` for what fails before the service."""
        event: dict[str, Any] = {}
        for dest, source in self.columns.items():
            value = row.get(source)
            if value is not None and value != "":
                event[dest] = value.strip() if isinstance(value, str) else value
        for dest, value in self.constants.items():
            event.setdefault(dest, value)
        errors: dict[str, str] = {}
        event_amount: Any = None
        if self.date_format and isinstance(event.get("timestamp"), str):
            try:
                event["timestamp"] = datetime.strptime(event["timestamp"], self.date_format).replace(
                    tzinfo=UTC).isoformat()
            except ValueError:
                errors["timestamp"] = f"does not match --date-format {self.date_format!r}"
        amount = event.pop(AMOUNT, None)
        if amount is not None and "product_price" not in event:
            try:
                quantity = Decimal(str(event.get("quantity", 1)))
                total = Decimal(str(amount))
                if quantity <= 0:
                    raise InvalidOperation
                event["product_price"] = str((total / quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
            except (InvalidOperation, ArithmeticError):
                errors[AMOUNT] = "amount and quantity must be numbers, quantity >= 1"
        if amount is not None and AMOUNT not in errors and event.get("action") in AMOUNT_ACTIONS:
            event_amount = amount  # validated by the ingest service like any event's amount
        order = {f: event.pop(f) for f in ORDER_FIELDS if f in event}
        if order and event.get("action") in PURCHASE_ACTIONS:
            event["order"] = order  # validated by the ingest service (order-level: counted once an order)
        if errors:
            return {"errors": errors}
        if "event_id" not in event:
            event["event_id"] = derive_event_id(row_number, (event.get(f) for f in NATIVE_FIELDS))
        if event_amount is not None:
            event[AMOUNT] = event_amount
        return event


def derive_event_id(row_number: int, values: Iterable[Any]) -> str:
    """Stable across re-imports of the same file: row number + the row's mapped values."""
    digest = hashlib.sha256(f"{row_number}\x1f".encode())
    digest.update("\x1f".join("" if v is None else str(v) for v in values).encode())
    return "csv-" + digest.hexdigest()[:32]
