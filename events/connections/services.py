"""Writes for store connections: making one, and receiving a verified delivery.

A delivery goes: already seen (its platform delivery id)? → answered as a duplicate, nothing
stored. Else translated (pure: ``shopify`` / ``woocommerce``), the customers' traits set
(``customers.services.customers_update_traits``), each order's customer remembered (for refunds),
the events stored by the one ingest service (``events_ingest``: its bulk path, one transaction),
and the delivery recorded. Event ids come from the store's own ids, so a delivery repeated under
another delivery id (orders/create then orders/paid; a lost record) is still stored once.

No outer transaction: the ingest service retries its own on a deadlock, which it cannot do inside
another. Every step is idempotent, so a failure between them is repaired by the platform's retry
(``IngestUnavailable`` → 503, the delivery is not recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from customers.services import customers_update_traits
from events.connections import shopify, woocommerce
from events.connections.models import ConnectionOrder, Platform, StoreConnection, WebhookDelivery
from events.connections.signing import secret_decrypt, secret_encrypt, signature_valid
from events.connections.translation import Translation
from events.services.ingest import events_ingest
from events.services.sources import source_of_connection


@dataclass
class DeliveryOutcome:
    """What a delivery did, as answered to the platform (and kept on its WebhookDelivery row)."""

    status: str  # "stored", "duplicate" (a redelivery) or "ignored" (nothing in it for us)
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    customers: int = 0
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "accepted": self.accepted, "duplicates": self.duplicates,
                               "rejected": self.rejected, "customers": self.customers}
        if self.reason:
            out["reason"] = self.reason
        return out

    def summary(self) -> str:
        if self.status != "stored":
            return f"{self.status}: {self.reason}" if self.reason else self.status
        return (f"stored: {self.accepted} accepted, {self.duplicates} duplicates, {len(self.rejected)} rejected, "
                f"{self.customers} customers")[:200]


@transaction.atomic
def connection_create(*, platform: str, slug: str, secret: str) -> StoreConnection:
    """A new connection; the secret is kept encrypted (``events.connections.signing``)."""
    if platform not in Platform.values:
        raise ValueError(f"platform must be one of {', '.join(Platform.values)}")
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    connection = StoreConnection.objects.create(platform=platform, slug=slug, secret_encrypted=secret_encrypt(secret))
    source_of_connection(connection)
    return connection


@transaction.atomic
def connection_set_secret(*, connection: StoreConnection, secret: str) -> None:
    """Replace the secret (the store's webhook secret changed, or SECRET_KEY did)."""
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    connection.secret_encrypted = secret_encrypt(secret)
    StoreConnection.objects.filter(pk=connection.pk).update(secret_encrypted=connection.secret_encrypted)


def connection_signature_valid(*, connection: StoreConnection, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` signs ``body`` with the connection's secret (constant time)."""
    return signature_valid(body, secret_decrypt(connection.secret_encrypted), signature)


def _translate(connection: StoreConnection, topic: str, payload: dict[str, Any]) -> Translation:
    if connection.platform == Platform.WOOCOMMERCE:
        return woocommerce.translate(topic, payload, slug=connection.slug)
    order_customers: dict[str, str] = {}
    if topic == "refunds/create" and (order_id := shopify.refund_order_id(payload)) is not None:
        order_customers = dict(ConnectionOrder.objects.filter(connection=connection, order_id=order_id)
                               .values_list("order_id", "customer_id"))
    return shopify.translate(topic, payload, slug=connection.slug, order_customers=order_customers)


class RatesMissing(Exception):
    """Some of a delivery's events name a currency with no exchange rate on or before their date.
    The delivery is not recorded (its other events are stored; a resend stores each once), so the
    platform's retries land them once ``import_rates`` has filled the gap."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(sorted(set(reasons))))
        self.reason = (f"{self}: import exchange rates (manage.py import_rates); the store's retries will then "
                       "be stored")


def webhook_receive(*, connection: StoreConnection, topic: str, delivery_id: str, payload: Any) -> DeliveryOutcome:
    """Store what one verified delivery holds (see the module note). Raises ``IngestUnavailable``
    on a transient database failure and ``RatesMissing`` when a currency has no rate yet (in both
    cases the delivery is not recorded: the platform resends it)."""
    delivery_id = delivery_id[:100]
    if delivery_id and WebhookDelivery.objects.filter(connection=connection, delivery_id=delivery_id).exists():
        return DeliveryOutcome(status="duplicate", reason="delivery already received")
    if not isinstance(payload, dict):
        outcome = DeliveryOutcome(status="ignored", reason="payload is not a JSON object")
    else:
        outcome = _store(connection, _translate(connection, topic, payload))
    _record(connection, topic, delivery_id, outcome)
    return outcome


def _store(connection: StoreConnection, translation: Translation) -> DeliveryOutcome:
    customers = customers_update_traits(traits=translation.customers) if translation.customers else 0
    if translation.orders:
        ConnectionOrder.objects.bulk_create(
            [ConnectionOrder(connection=connection, order_id=o, customer_id=c) for o, c in translation.orders.items()],
            ignore_conflicts=True)
    if not translation.events:
        return DeliveryOutcome(status="ignored" if translation.ignored else "stored", customers=customers,
                               reason=translation.ignored)
    result = events_ingest(raw_events=translation.events, source=source_of_connection(connection))
    missing = [r["errors"]["currency"] for r in result.rejected if "currency" in r.get("errors", {})]
    if missing:
        raise RatesMissing(missing)
    return DeliveryOutcome(status="stored", accepted=result.accepted, duplicates=len(result.duplicates),
                           rejected=result.rejected, customers=customers)


def _record(connection: StoreConnection, topic: str, delivery_id: str, outcome: DeliveryOutcome) -> None:
    now = timezone.now()
    if delivery_id:
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(connection=connection, delivery_id=delivery_id, topic=topic[:60], received_at=now,
                             outcome=outcome.summary())], ignore_conflicts=True)
    StoreConnection.objects.filter(pk=connection.pk).update(last_delivery_at=now)
