"""Writes for events: the ingest service every entry point calls, and ingest keys.

``events_ingest`` validates a batch (events/wire.py), finds or creates the customers and products it
names, drops event_ids already stored or repeated, stores the rest in one transaction with a bulk
statement, hands the newly stored events to the metrics hook inside that transaction and, after
commit, broadcasts a summary to the dashboard group.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from customers.models import Customer, age_group_for
from events import wire
from events.models import Event, IngestKey
from events.types import StoredEvent
from products.models import Product

logger = logging.getLogger(__name__)

KEY_PREFIX = "ak_"
BROADCAST_EVENTS = 20
ZERO = Decimal("0.00")


# --- Ingest keys ------------------------------------------------------------------------------

def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def ingest_key_create(*, name: str) -> tuple[IngestKey, str]:
    """Make a key. Returns it and its secret, which is not stored and cannot be shown again."""
    secret = _new_secret()
    key = IngestKey.objects.create(name=name, prefix=secret[:10], secret_hash=_hash_secret(secret))
    return key, secret


@transaction.atomic
def ingest_key_rotate(*, key: IngestKey) -> tuple[IngestKey, str]:
    """Give an existing key a new secret (the old one stops working) and make it active."""
    secret = _new_secret()
    key.prefix = secret[:10]
    key.secret_hash = _hash_secret(secret)
    key.is_active = True
    key.save(update_fields=["prefix", "secret_hash", "is_active"])
    return key, secret


def ingest_key_authenticate(*, secret: str | None) -> IngestKey | None:
    """The active key with this secret, or None. Records when it was last used (at most once a
    minute, so a busy stream does not write on every message)."""
    if not secret:
        return None
    key = IngestKey.objects.filter(secret_hash=_hash_secret(secret), is_active=True).first()
    if key is not None:
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
    return key


@transaction.atomic
def ingest_key_revoke(*, key: IngestKey) -> IngestKey:
    key.is_active = False
    key.save(update_fields=["is_active"])
    return key


# --- Ingest -----------------------------------------------------------------------------------

@dataclass
class IngestResult:
    """What happened to one batch (the DESIGN §3 ack)."""

    accepted: int = 0
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_ack(self) -> dict[str, Any]:
        return {"type": "ack", "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected}


@dataclass(slots=True)
class _ProductRef:
    pk: int
    price: Decimal
    title: str


def events_ingest(*, raw_events: Sequence[Any], source: str = "api", broadcast: bool = True) -> IngestResult:
    """Validate, deduplicate and store one batch in one transaction; see the module docstring."""
    return events_ingest_batches(batches=[raw_events], source=source, broadcast=broadcast)[0]


def events_ingest_batches(*, batches: Sequence[Sequence[Any]], source: str = "api",
                          broadcast: bool = True) -> list[IngestResult]:
    """Several batches (e.g. WebSocket messages gathered for a group commit) stored in ONE
    transaction, with one result per batch. An event_id repeated in a later batch is a duplicate
    there, as if the batches had been sent one after the other."""
    latest = wire.latest_allowed()
    return events_ingest_parsed(batches=[wire.parse_batch(b, latest) for b in batches], source=source,
                                broadcast=broadcast)


def events_ingest_parsed(*, batches: Sequence[wire.ParsedBatch], source: str = "api",
                         broadcast: bool = True) -> list[IngestResult]:
    """``events_ingest_batches`` for batches already validated with ``wire.parse_batch`` (the
    WebSocket consumer validates each message as it arrives, while the previous group commits)."""
    results: list[IngestResult] = []
    valid: list[wire.NativeEvent] = []
    owners: list[IngestResult] = []
    seen: set[str] = set()
    for batch in batches:
        result = IngestResult(rejected=list(batch.rejected))
        results.append(result)
        for event in batch.events:
            if event.event_id in seen:
                result.duplicates.append(event.event_id)
            else:
                seen.add(event.event_id)
                valid.append(event)
                owners.append(result)
    if valid:
        stored = _events_store_retrying(events=valid, broadcast=broadcast)
        for event, result in zip(valid, owners, strict=True):
            if event.event_id in stored:
                result.accepted += 1
            else:
                result.duplicates.append(event.event_id)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("ingest from %s: %d accepted, %d duplicates, %d rejected", source,
                     sum(r.accepted for r in results), sum(len(r.duplicates) for r in results),
                     sum(len(r.rejected) for r in results))
    return results


def events_ingest_segment(*, messages: Sequence[Any], broadcast: bool = True) -> IngestResult:
    """Segment Tracking API messages (Ecommerce v2, events/wire.py) stored as native events.

    The result's rejected indexes are positions of messages (a message with several product
    lines may be rejected line by line); accepted counts stored lines.
    """
    received_at = datetime.now(UTC).isoformat()
    native: list[dict[str, Any]] = []
    origin: list[int] = []
    rejected: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        try:
            lines = wire.segment_to_native(message, received_at=received_at)
        except wire.SegmentError as exc:
            message_id = message.get("messageId") if type(message) is dict else None
            rejected.append({"index": index, "event_id": message_id if isinstance(message_id, str) else None,
                             "errors": exc.errors})
            continue
        native.extend(lines)
        origin.extend([index] * len(lines))
    result = events_ingest(raw_events=native, source="segment", broadcast=broadcast)
    rejected.extend({**entry, "index": origin[entry["index"]]} for entry in result.rejected)
    rejected.sort(key=lambda r: r["index"])
    result.rejected = rejected
    return result


def _events_store_retrying(*, events: list[wire.NativeEvent], broadcast: bool) -> set[str]:
    """Concurrent writers take rows in sorted order, but a deadlock (or serialization failure)
    is still possible between their different tables: PostgreSQL aborts one, which is retried."""
    attempt = 0
    while True:
        try:
            return _events_store(events=events, broadcast=broadcast)
        except OperationalError as exc:
            code = getattr(exc.__cause__, "pgcode", None)
            attempt += 1
            if code not in ("40P01", "40001") or attempt >= 3 or connection.in_atomic_block:
                raise
            logger.warning("ingest transaction aborted (%s); retrying", code)


@transaction.atomic
def _events_store(*, events: list[wire.NativeEvent], broadcast: bool) -> set[str]:
    """Store the (valid, distinct) events; returns the event_ids that were newly stored."""
    customers = _customers_resolve(external_ids={e.customer_id for e in events})
    by_id, by_title = _products_resolve(events=events)
    customer_pks: list[int] = []
    product_refs: list[_ProductRef | None] = []
    prices: list[Decimal] = []
    for e in events:
        customer_pks.append(customers[e.customer_id])
        ref = by_id[e.product_id] if e.product_id is not None else (
            by_title[e.product_title] if e.product_title is not None else None)
        product_refs.append(ref)
        prices.append(e.price if e.price is not None else (ref.price if ref is not None else ZERO))
    received_at = timezone.now()
    if connection.vendor == "postgresql":
        new = _pg_insert(events, customer_pks, product_refs, prices, received_at)
    else:
        new = _generic_insert(events, customer_pks, product_refs, prices, received_at)
    if not new:
        return set()
    stored: list[StoredEvent] = []
    broadcast_rows: list[tuple[wire.NativeEvent, _ProductRef | None, Decimal]] = []
    for e, cpk, ref, price in zip(events, customer_pks, product_refs, prices, strict=True):
        pk = new.get(e.event_id)
        if pk is None:
            continue
        stored.append(StoredEvent(pk, e.event_id, cpk, ref.pk if ref else None, e.session_id, e.action,
                                  e.quantity, price, e.order_id, e.timestamp, e.amount))
        if broadcast:
            broadcast_rows.append((e, ref, price))
    from insights import services as insights_services

    insights_services.analytics_apply_events(events=stored)
    if broadcast:
        message = _dashboard_message(broadcast_rows)
        transaction.on_commit(lambda: _dashboard_send(message))
    return set(new)


# Customers and products ---------------------------------------------------------------------

def _customers_resolve(*, external_ids: set[str]) -> dict[str, int]:
    """external_id → pk, creating the unknown ones (age unknown) in bulk."""
    ids = sorted(external_ids)
    found = _customers_lookup(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        unknown = age_group_for(None)
        now = timezone.now()
        Customer.objects.bulk_create(
            [Customer(external_id=i, age_group=unknown, created_at=now) for i in missing],
            ignore_conflicts=True, batch_size=1000)
        found.update(_customers_lookup(missing))
    return found


def _customers_lookup(ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"SELECT c.external_id, c.id FROM {Customer._meta.db_table} c"
                        f" JOIN unnest(%s::text[]) AS u(ext) ON c.external_id = u.ext", [ids])
            return dict(cur.fetchall())
    found: dict[str, int] = {}
    for chunk in _chunks(ids, 900):
        found.update(Customer.objects.filter(external_id__in=chunk).values_list("external_id", "id"))
    return found


def title_external_id(title: str) -> str:
    """The external id of a product first seen by title only (the original system's format)."""
    return "title:" + hashlib.sha256(title.encode()).hexdigest()[:40]


def _products_resolve(*, events: list[wire.NativeEvent]) -> tuple[dict[str, _ProductRef], dict[str, _ProductRef]]:
    """Products by external id and, for title-only events, by title; the unknown ones are created
    from the first event that names them."""
    first_by_id: dict[str, wire.NativeEvent] = {}
    first_by_title: dict[str, wire.NativeEvent] = {}
    for e in events:
        if e.product_id is not None:
            if e.product_id not in first_by_id:
                first_by_id[e.product_id] = e
        elif e.product_title is not None and e.product_title not in first_by_title:
            first_by_title[e.product_title] = e
    by_id: dict[str, _ProductRef] = {}
    by_title: dict[str, _ProductRef] = {}
    if first_by_id:
        by_id = _products_lookup(external_ids=sorted(first_by_id))
    if first_by_title:
        titles = sorted(first_by_title)
        by_title = _products_by_title(titles)
        # Not found by title: made under an id derived from the title (so two senders agree).
        for title in titles:
            if title not in by_title:
                first_by_id.setdefault(title_external_id(title), first_by_title[title])
    to_create = [pid for pid in sorted(first_by_id) if pid not in by_id]
    if to_create:
        now = timezone.now()
        Product.objects.bulk_create(
            [_new_product(pid, first_by_id[pid], now) for pid in to_create],
            ignore_conflicts=True, batch_size=500)
        created = _products_lookup(external_ids=to_create)
        for pid, ref in created.items():
            event = first_by_id[pid]
            if event.product_id is None and event.product_title is not None:
                by_title[event.product_title] = ref
            else:
                by_id[pid] = ref
    return by_id, by_title


def _new_product(external_id: str, event: wire.NativeEvent, now: datetime) -> Product:
    return Product(
        external_id=external_id,
        title=event.product_title or f"Product {external_id}",
        price=event.price if event.price is not None else ZERO,
        image_url=event.product_image,
        description=event.description,
        category=event.category,
        created_at=now,
    )


def _products_lookup(*, external_ids: list[str]) -> dict[str, _ProductRef]:
    found: dict[str, _ProductRef] = {}
    for chunk in _chunks(external_ids, 900):
        for ext, pk, price, title in Product.objects.filter(external_id__in=chunk).values_list(
                "external_id", "id", "price", "title"):
            found[ext] = _ProductRef(pk, price, title)
    return found


def _products_by_title(titles: list[str]) -> dict[str, _ProductRef]:
    found: dict[str, _ProductRef] = {}
    for chunk in _chunks(titles, 900):
        rows = Product.objects.filter(title__in=chunk).order_by("id").values_list("title", "id", "price")
        for title, pk, price in rows:
            found.setdefault(title, _ProductRef(pk, price, title))
    return found


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# Persisting ----------------------------------------------------------------------------------

_STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    event_id text, customer_id bigint, product_id bigint, session_id text, action text,
    quantity integer, price numeric(12, 2), order_id text, ts timestamptz, amount numeric(14, 2)
) ON COMMIT DELETE ROWS
"""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _pg_insert(events: list[wire.NativeEvent], customer_pks: list[int], product_refs: list[_ProductRef | None],
               prices: list[Decimal], received_at: datetime) -> dict[str, int]:
    """COPY into a session-local staging table, then one INSERT … SELECT … ON CONFLICT DO NOTHING
    RETURNING: the rows returned are exactly the newly stored ones (the unique index decides, also
    against concurrent senders). Rows go in event_id order so concurrent batches lock alike."""
    null = "\\N"
    lines: list[str] = []
    append = lines.append
    for e, cpk, ref, price in zip(events, customer_pks, product_refs, prices, strict=True):
        order_id = e.order_id
        append(f"{_copy_text(e.event_id)}\t{cpk}\t{ref.pk if ref is not None else null}\t"
               f"{_copy_text(e.session_id)}\t{e.action}\t{e.quantity}\t{price}\t"
               f"{_copy_text(order_id) if order_id is not None else null}\t{e.timestamp.isoformat()}\t"
               f"{e.amount if e.amount is not None else null}\n")
    table = Event._meta.db_table
    with connection.cursor() as cur:
        cur.execute(_STAGING_DDL)
        cur.execute("TRUNCATE ingest_staging")
        cur.copy_expert("COPY ingest_staging FROM STDIN", StringIO("".join(lines)))
        cur.execute(
            f"INSERT INTO {table} (event_id, customer_id, product_id, session_id, action, quantity, price,"
            f" order_id, timestamp, received_at, amount)"
            f" SELECT event_id, customer_id, product_id, session_id, action, quantity, price, order_id, ts, %s, amount"
            f" FROM ingest_staging ORDER BY event_id COLLATE \"C\""
            f" ON CONFLICT (event_id) DO NOTHING RETURNING event_id, id",
            [received_at],
        )
        return dict(cur.fetchall())


def _generic_insert(events: list[wire.NativeEvent], customer_pks: list[int], product_refs: list[_ProductRef | None],
                    prices: list[Decimal], received_at: datetime) -> dict[str, int]:
    """bulk_create(ignore_conflicts=True), then read back which rows are ours. On SQLite the
    transaction holds the write lock from its start (IMMEDIATE), so nothing else inserts between
    the look-up of existing ids and the read-back."""
    ids = [e.event_id for e in events]
    existing: set[str] = set()
    for chunk in _chunks(ids, 900):
        existing.update(Event.objects.filter(event_id__in=chunk).values_list("event_id", flat=True))
    objs = [
        Event(event_id=e.event_id, customer_id=cpk, product_id=ref.pk if ref is not None else None,
              session_id=e.session_id, action=e.action, quantity=e.quantity, price=price,
              order_id=e.order_id, timestamp=e.timestamp, received_at=received_at, amount=e.amount)
        for e, cpk, ref, price in zip(events, customer_pks, product_refs, prices, strict=True)
        if e.event_id not in existing
    ]
    if not objs:
        return {}
    Event.objects.bulk_create(objs, ignore_conflicts=True, batch_size=500)
    new_ids = [o.event_id for o in objs]
    new: dict[str, int] = {}
    for chunk in _chunks(new_ids, 900):
        new.update(Event.objects.filter(event_id__in=chunk).values_list("event_id", "id"))
    return new


# Broadcast -----------------------------------------------------------------------------------

def _dashboard_message(rows: list[tuple[wire.NativeEvent, _ProductRef | None, Decimal]]) -> dict[str, Any]:
    newest = heapq.nlargest(BROADCAST_EVENTS, rows, key=lambda r: r[0].timestamp)
    return {
        "type": "dashboard.events",
        "accepted": len(rows),
        "events": [
            {"event_id": e.event_id, "customer_id": e.customer_id, "action": e.action,
             "product_id": e.product_id if e.product_id is not None else None,
             "product_title": ref.title if ref is not None else None,
             "price": float(price), "quantity": e.quantity, "timestamp": e.timestamp.isoformat()}
            for e, ref, price in newest
        ],
    }


def _dashboard_send(message: dict[str, Any]) -> None:
    """Runs after commit. A channel layer that is down must not fail the ingest: log and go on."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(settings.DASHBOARD_GROUP, message)
    except Exception:  # noqa: BLE001 - broadcast is best effort; the events are committed
        logger.exception("dashboard broadcast failed")
