"""Receiving a verified delivery (``webhook_receive``) and storing the deliveries that waited for an
exchange rate (``webhooks_replay_waiting``). docs/connections.md

A delivery goes:
1. already seen (its platform delivery id)? → answered as a duplicate, nothing stored;
2. more lines than ``WEBHOOK_MAX_LINES`` → ``DeliveryRefused`` (413), nothing stored;
3. translated (pure: ``shopify`` / ``woocommerce``, ids in the connection's ``IdSpace``) and checked
   whole: a refused part (a negative price, an id the database cannot hold, ``line_items`` that is
   not a list, an event the wire format refuses) → ``DeliveryRefused`` (400), nothing stored;
4. a currency without an exchange rate on an event's date → kept whole as ``waiting_rate`` (200):
   stored by ``webhooks_replay_waiting`` once rates are imported (``rates_imported``);
5. else, in ONE transaction: the customers' traits (unless the platform's ``updated_at`` is older
   than the one last applied from this connection), each order's customer (for refunds), the
   events through the one ingest service, and the delivery's record. A transient database failure
   raises ``IngestUnavailable`` (503: the platform resends; nothing was committed).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from customers.services import customers_update_traits
from events import wire
from events.connections import shopify, woocommerce
from events.connections.models import (
    ConnectionCustomer,
    ConnectionOrder,
    DeliveryStatus,
    Platform,
    StoreConnection,
    WebhookDelivery,
)
from events.connections.translation import IdSpace, Translation, translation_problems
from events.persistence import IngestUnavailable
from events.services.ingest import events_ingest
from events.services.rates import conversion_gaps, store_currency
from events.services.sources import source_of_connection

logger = logging.getLogger(__name__)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class DeliveryOutcome:
    """What a delivery did, as answered to the platform (and kept on its WebhookDelivery row)."""

    status: str  # "stored", "duplicate" (a redelivery), "ignored" (nothing for us) or "waiting" (a rate)
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    customers: int = 0
    reason: str = ""
    currency: str = ""  # waiting: the currency without a rate

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "accepted": self.accepted, "duplicates": self.duplicates,
                               "rejected": self.rejected, "customers": self.customers}
        if self.reason:
            out["reason"] = self.reason
        return out

    def summary(self) -> str:
        if self.status != "stored":
            return (f"{self.status}: {self.reason}" if self.reason else self.status)[:200]
        return (f"stored: {self.accepted} accepted, {self.duplicates} duplicates, {len(self.rejected)} rejected, "
                f"{self.customers} customers")[:200]


class DeliveryRefused(Exception):
    """The delivery cannot be stored as sent (nothing of it is): 400 with the reasons, or 413 when
    it has more lines than ``WEBHOOK_MAX_LINES``."""

    def __init__(self, reasons: list[str], *, status: int = 400) -> None:
        self.reasons = reasons[:20]
        self.status = status
        self.code = "too_many_lines" if status == 413 else "invalid_delivery"
        super().__init__("; ".join(self.reasons))


class _RatesGone(Exception):
    """Ingest refused an event for its currency after the check passed (a rate was removed)."""


def webhook_receive(*, connection: StoreConnection, topic: str, delivery_id: str, payload: Any) -> DeliveryOutcome:
    """Store what one verified delivery holds (see the module note). Raises ``DeliveryRefused``
    and ``IngestUnavailable`` (in both cases nothing is stored and the delivery is not recorded)."""
    delivery_id = delivery_id[:100]
    if delivery_id and WebhookDelivery.objects.filter(connection=connection, delivery_id=delivery_id).exists():
        return DeliveryOutcome(status="duplicate", reason="delivery already received")

    def record(outcome: DeliveryOutcome) -> None:
        _record(connection, topic, delivery_id, outcome, payload)

    return _process(connection, topic, payload, record)


def _process(connection: StoreConnection, topic: str, payload: Any,
             finish: Callable[[DeliveryOutcome], None]) -> DeliveryOutcome:
    """Steps 2–5 of the module note; ``finish`` records the outcome (in the write transaction when
    something is written)."""
    if not isinstance(payload, dict):
        raise DeliveryRefused(["the payload is not a JSON object"])
    _check_lines(connection, payload)
    translation = _translate(connection, topic, payload)
    batch = wire.parse_batch(translation.events, wire.latest_allowed())
    problems = translation_problems(translation) + [_rejection_text(r) for r in batch.rejected]
    if problems:
        raise DeliveryRefused(problems)
    gaps = conversion_gaps(batch.events)
    if gaps:
        outcome = _waiting(gaps)
        finish(outcome)
        return outcome
    try:
        with transaction.atomic():
            outcome = _store(connection, translation)
            finish(outcome)
    except _RatesGone as exc:
        outcome = _waiting({str(exc): wire.Reason("no exchange rate", "no_rate")})
        finish(outcome)
    return outcome


def _check_lines(connection: StoreConnection, payload: dict[str, Any]) -> None:
    lists = shopify.LINE_LISTS if connection.platform == Platform.SHOPIFY else woocommerce.LINE_LISTS
    counts = {k: len(v) for k in lists if isinstance(v := payload.get(k), list) and v}
    cap = settings.WEBHOOK_MAX_LINES
    if sum(counts.values()) > cap:
        each = ", ".join(f"{k} {n}" for k, n in counts.items())
        raise DeliveryRefused([f"{sum(counts.values())} lines in one delivery ({each}); at most {cap} are accepted "
                               "(WEBHOOK_MAX_LINES)"], status=413)


def _translate(connection: StoreConnection, topic: str, payload: dict[str, Any]) -> Translation:
    space = IdSpace(connection.slug, connection.id_prefix)
    if connection.platform == Platform.WOOCOMMERCE:
        return woocommerce.translate(topic, payload, space=space)
    order_customers: dict[str, str] = {}
    if topic == "refunds/create" and (order_id := shopify.refund_order_id(payload)) is not None:
        order_customers = dict(ConnectionOrder.objects.filter(connection=connection, order_id=order_id)
                               .values_list("order_id", "customer_id"))
    return shopify.translate(topic, payload, space=space, order_customers=order_customers)


def _rejection_text(rejected: dict[str, Any]) -> str:
    errors = "; ".join(f"{name}: {reason}" for name, reason in rejected.get("errors", {}).items())
    name = rejected.get("event_id") or f"#{rejected.get('index')}"
    return f"event {name}: {errors}"[:300]


def _waiting(gaps: dict[str, wire.Reason]) -> DeliveryOutcome:
    """A delivery kept until its currency has a rate: the currency sent, and what is missing."""
    store = store_currency()
    parts = [f"{code} to {store} ({reason})" for code, reason in sorted(gaps.items())]
    return DeliveryOutcome(status="waiting", currency=min(gaps)[:3],
                           reason=f"waiting for an exchange rate {min(gaps)}: {'; '.join(parts)}; kept and stored "
                                  "once rates are imported (manage.py import_rates)")


def _store(connection: StoreConnection, translation: Translation) -> DeliveryOutcome:
    """Step 5 of the module note, inside the caller's transaction."""
    traits = _fresh_traits(connection, translation)
    customers = customers_update_traits(traits=traits) if traits else 0
    if translation.orders:
        ConnectionOrder.objects.bulk_create(
            [ConnectionOrder(connection=connection, order_id=o, customer_id=c) for o, c in translation.orders.items()],
            ignore_conflicts=True)
    if not translation.events:
        return DeliveryOutcome(status="ignored" if translation.ignored else "stored", customers=customers,
                               reason=translation.ignored)
    result = events_ingest(raw_events=translation.events, source=source_of_connection(connection))
    missing = [r for r in result.rejected if "currency" in r.get("errors", {})]
    if missing:
        raise _RatesGone(next((e.get("currency") for e in translation.events if e.get("currency")), "?"))
    return DeliveryOutcome(status="stored", accepted=result.accepted, duplicates=len(result.duplicates),
                           rejected=result.rejected, customers=customers)


def _fresh_traits(connection: StoreConnection, translation: Translation) -> dict[str, dict[str, Any]]:
    """The translation's traits, without those of customers whose profile this connection already
    updated from a later platform ``updated_at``; the times of the others are kept (rows locked, so
    two deliveries of one customer apply in the platform's order)."""
    times: dict[str, datetime] = {}
    for cid, raw in translation.profile_times.items():
        when, _ = wire.parse_timestamp(raw, None, _FAR_FUTURE)
        if when is not None and cid in translation.customers:
            times[cid] = when
    if not times:
        return translation.customers
    ConnectionCustomer.objects.bulk_create(
        [ConnectionCustomer(connection=connection, customer_id=c, profile_updated_at=t)
         for c, t in sorted(times.items())], ignore_conflicts=True)
    stored = dict(ConnectionCustomer.objects.select_for_update().filter(connection=connection, customer_id__in=times)
                  .order_by("customer_id").values_list("customer_id", "profile_updated_at"))
    stale = {c for c, t in times.items() if c in stored and t < stored[c]}
    for cid in sorted(c for c, t in times.items() if c in stored and t > stored[c]):
        ConnectionCustomer.objects.filter(connection=connection, customer_id=cid).update(profile_updated_at=times[cid])
    return {cid: t for cid, t in translation.customers.items() if cid not in stale}


def _record(connection: StoreConnection, topic: str, delivery_id: str, outcome: DeliveryOutcome,
            payload: Any) -> None:
    """The delivery's row (none for a delivery without an id, unless it waits: it is kept) and the
    connection's last delivery time."""
    now = timezone.now()
    waiting = outcome.status == "waiting"
    if waiting and not delivery_id:
        delivery_id = f"kept-{uuid.uuid4().hex}"
    if delivery_id:
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(connection=connection, delivery_id=delivery_id, topic=topic[:60], received_at=now,
                             outcome=outcome.summary(), currency=outcome.currency,
                             status=DeliveryStatus.WAITING_RATE if waiting else DeliveryStatus.DONE,
                             payload=_kept(payload) if waiting else "")], ignore_conflicts=True)
    StoreConnection.objects.filter(pk=connection.pk).update(last_delivery_at=now)


def _kept(payload: Any) -> str:
    """The payload as ASCII JSON (NUL and lone surrogates escaped, so any database keeps it; a number
    too long to convert, in a field nothing reads, as null)."""
    return json.dumps(payload, ensure_ascii=True, default=lambda _: None)


def _unkept(delivery: WebhookDelivery) -> Any:
    """A kept payload read back (None when unreadable: the replay refuses it)."""
    try:
        return wire.loads(delivery.payload)
    except wire.MessageError:
        return None


@dataclass
class ReplayTotals:
    stored: int = 0
    waiting: int = 0
    refused: int = 0


def webhooks_replay_waiting() -> ReplayTotals:
    """Store the deliveries kept for a missing exchange rate, oldest first, each as if it arrived
    now (checked, translated and stored in one transaction); those whose rate is still missing
    stay kept. Stops at a transient database failure (the next import or call resumes)."""
    totals = ReplayTotals()
    pks = list(WebhookDelivery.objects.filter(status=DeliveryStatus.WAITING_RATE)
               .order_by("received_at", "pk").values_list("pk", flat=True))
    for pk in pks:
        try:
            status = _replay(pk)
        except IngestUnavailable:
            logger.warning("replaying deliveries that waited for a rate: the database is unavailable; stopped")
            break
        if status:
            setattr(totals, status, getattr(totals, status) + 1)
    if pks:
        logger.info("deliveries that waited for an exchange rate: %d stored, %d still waiting, %d refused",
                    totals.stored, totals.waiting, totals.refused)
    return totals


class _AlreadyReplayed(Exception):
    pass


def _replay(pk: int) -> str:
    """Replay one kept delivery: "stored", "waiting", "refused", or "" when another run took it."""
    delivery = WebhookDelivery.objects.select_related("connection").filter(
        pk=pk, status=DeliveryStatus.WAITING_RATE).first()
    if delivery is None:
        return ""
    still_waiting = WebhookDelivery.objects.filter(pk=pk, status=DeliveryStatus.WAITING_RATE)

    def finish(outcome: DeliveryOutcome) -> None:
        if outcome.status == "waiting":
            still_waiting.update(outcome=outcome.summary(), currency=outcome.currency)
        elif not still_waiting.update(status=DeliveryStatus.DONE, payload="", outcome=outcome.summary()):
            raise _AlreadyReplayed  # rolls back this replay's writes

    try:
        outcome = _process(delivery.connection, delivery.topic, _unkept(delivery), finish)
    except _AlreadyReplayed:
        return ""
    except DeliveryRefused as exc:
        still_waiting.update(status=DeliveryStatus.REFUSED, payload="", outcome=f"refused: {exc}"[:200])
        return "refused"
    return "stored" if outcome.status != "waiting" else "waiting"


def webhooks_replay_on_rates(sender: Any, **kwargs: Any) -> None:
    """``rates_imported`` receiver: store what waited for a rate."""
    if WebhookDelivery.objects.filter(status=DeliveryStatus.WAITING_RATE).exists():
        webhooks_replay_waiting()


def deliveries_forget_customer(*, external_id: str) -> int:
    """Erasure: drop the kept (waiting) deliveries that name this customer; returns how many."""
    dropped = 0
    for delivery in WebhookDelivery.objects.select_related("connection").filter(status=DeliveryStatus.WAITING_RATE):
        payload = _unkept(delivery)
        translation = _translate(delivery.connection, delivery.topic, payload if isinstance(payload, dict) else {})
        named = set(translation.customers) | {e.get("customer_id") for e in translation.events}
        if external_id in named:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.REFUSED, payload="", outcome="dropped: its customer was erased")
            dropped += 1
    return dropped
