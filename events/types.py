"""Plain data passed between the ingest service and its consumers (metrics, broadcasts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


def line_total(price: Decimal, quantity: int, amount: Decimal | None) -> Decimal:
    """What a purchase line earns: the sender's line total when it gave one (``amount``, kept to the
    cent), else unit price × quantity. The one rule for revenue (docs/money.md): derivation, rollups,
    ``Event.line_total`` and the model's features (vectorised) all apply it."""
    return amount if amount is not None else price * quantity


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A source (``events.models.Source``) as ingest uses it: the row each event records, its trust
    level and the namespace its event ids are unique in (docs/trust.md)."""

    pk: int
    kind: str
    trust: str
    namespace: str

    @property
    def is_browser(self) -> bool:
        return self.trust == "browser"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as just stored by the ingest service (only newly stored ones, never duplicates)."""

    pk: int
    event_id: str
    customer_pk: int
    product_pk: int | None
    session_id: str
    action: str
    quantity: int
    price: Decimal
    order_id: str | None
    timestamp: datetime
    amount: Decimal | None = None  # the line total as sent (purchase lines), the amount refunded (refunds)
    # The order object a purchase line carried (store currency): counted once per order (docs/sending-events.md).
    discount: Decimal | None = None
    coupon: str = ""
    shipping: Decimal | None = None
    tax: Decimal | None = None
    # Where it happened (page_url, referrer, utm_*): a session's traffic source (insights.channels).
    context: Any = field(default=None, compare=False)
    # Sent with a public key (namespace ``browser``): a browser-reported purchase (events.verification).
    browser: bool = False

    @property
    def line_total(self) -> Decimal:
        """A purchase line's revenue, or a refund's amount (``line_total``)."""
        return line_total(self.price, self.quantity, self.amount)

    @property
    def carries_order(self) -> bool:
        """This purchase line carried an ``order`` object (discount, coupon, shipping or tax)."""
        return (self.discount is not None or self.coupon != "" or self.shipping is not None
                or self.tax is not None)


@dataclass(frozen=True, slots=True)
class Exposure:
    """An A/B exposure an event carried (docs/experiments.md): who saw which variant, when."""

    customer_pk: int
    experiment: str
    variant: str
    timestamp: datetime
    is_bot: bool = False
    source_pk: int | None = None  # the source that sent it (docs/trust.md)
    browser: bool = False  # sent with a public (browser) key: capped (docs/experiments.md)
