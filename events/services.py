"""Writes for events: the ingest service every entry point calls, and ingest keys.

``events_ingest`` validates a batch (events/wire.py), finds or creates the customers and products it
names, drops event_ids already stored or repeated, stores the rest in one transaction with a bulk
statement, hands the newly stored events to the metrics hook inside that transaction and, after
commit, broadcasts a summary to the dashboard group.

Nothing one event holds may fail its neighbours: if the database still refuses a batch that
passed validation, the batch is stored again in halves under savepoints until the refused events
are found; they are rejected with the database's reason and the others are stored. Only
transient failures (database unreachable, deadlock after retries) fail a whole batch, as
``IngestUnavailable``: the client may resend it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from customers.models import Customer, age_group_for
from events import wire
from events.models import Event, IngestKey
from events.signals import events_stored
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


class IngestKeyRevoked(Exception):
    """The key a connection authenticated with was revoked (or rotated) since: nothing is stored."""


class IngestUnavailable(Exception):
    """A transient failure (database unreachable, deadlock after retries): nothing of the batch is
    stored and resending it may succeed."""


@dataclass(frozen=True, slots=True)
class KeyCredential:
    """What a long-lived connection re-checks before each commit: its key, as authenticated."""

    pk: int
    secret_hash: str

    @classmethod
    def of(cls, key: IngestKey) -> KeyCredential:
        return cls(key.pk, key.secret_hash)


def ingest_key_check(*, credential: KeyCredential) -> None:
    """Raise IngestKeyRevoked unless the key is still active with the same secret. Inside the
    ingest transaction, so no event is committed under a key revoked before that commit. (Plain
    SQL: it runs once per group commit, and the ORM's query building cost ~10% of one-event
    message throughput.)"""
    with connection.cursor() as cur:
        cur.execute(_KEY_CHECK_SQL, [credential.pk, credential.secret_hash])
        if cur.fetchone() is None:
            raise IngestKeyRevoked


_KEY_CHECK_SQL = f"SELECT 1 FROM {IngestKey._meta.db_table} WHERE id = %s AND secret_hash = %s AND is_active"


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
    if not secret or len(secret) > 200 or not secret.isascii():  # keys are short URL-safe ASCII
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


def events_ingest_parsed(*, batches: Sequence[wire.ParsedBatch], source: str = "api", broadcast: bool = True,
                         credential: KeyCredential | None = None) -> list[IngestResult]:
    """``events_ingest_batches`` for batches already validated with ``wire.parse_batch`` (the
    WebSocket consumer validates each message as it arrives, while the previous group commits).

    With a ``credential`` the key is re-checked in the transaction (``IngestKeyRevoked``).
    Raises ``IngestUnavailable`` on a transient database failure (nothing stored).
    """
    results: list[IngestResult] = []
    valid: list[wire.NativeEvent] = []
    owners: list[tuple[IngestResult, int]] = []
    seen: set[str] = set()
    for batch in batches:
        result = IngestResult(rejected=list(batch.rejected))
        results.append(result)
        for n, event in enumerate(batch.events):
            if event.event_id in seen:
                result.duplicates.append(event.event_id)
            else:
                seen.add(event.event_id)
                valid.append(event)
                owners.append((result, batch.position(n)))
    if valid:
        stored, refused = _events_store_retrying(events=valid, broadcast=broadcast, credential=credential)
        for event, (result, index) in zip(valid, owners, strict=True):
            if event.event_id in stored:
                result.accepted += 1
            elif event.event_id in refused:
                result.rejected.append({"index": index, "event_id": event.event_id,
                                        "errors": {"event": refused[event.event_id]}})
            else:
                result.duplicates.append(event.event_id)
        if refused:
            for result in results:
                result.rejected.sort(key=lambda r: r["index"])
    elif credential is not None:
        ingest_key_check(credential=credential)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("ingest from %s: %d accepted, %d duplicates, %d rejected", source,
                     sum(r.accepted for r in results), sum(len(r.duplicates) for r in results),
                     sum(len(r.rejected) for r in results))
    return results


def events_ingest_segment(*, messages: Sequence[Any], broadcast: bool = True,
                          max_message_bytes: int | None = None) -> IngestResult:
    """Segment Tracking API messages (Ecommerce v2, events/wire.py) stored as native events.

    The result's rejected indexes are positions of messages (a message with several product
    lines may be rejected line by line); accepted counts stored lines. A message larger than
    ``max_message_bytes`` (as compact JSON) is rejected alone.
    """
    received_at = datetime.now(UTC).isoformat()
    native: list[dict[str, Any]] = []
    origin: list[int] = []
    rejected: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        try:
            if max_message_bytes is not None:
                _segment_size_check(message, max_message_bytes)
            lines = wire.segment_to_native(message, received_at=received_at)
        except wire.SegmentError as exc:
            message_id = message.get("messageId") if type(message) is dict else None
            valid_id = (type(message_id) is str and len(message_id) <= wire.MAX_EVENT_ID
                        and "messageId" not in exc.errors and message_id.isprintable())
            rejected.append({"index": index, "event_id": message_id if valid_id else None, "errors": exc.errors})
            continue
        native.extend(lines)
        origin.extend([index] * len(lines))
    result = events_ingest(raw_events=native, source="segment", broadcast=broadcast)
    rejected.extend({**entry, "index": origin[entry["index"]]} for entry in result.rejected)
    rejected.sort(key=lambda r: r["index"])
    result.rejected = rejected
    return result


def _huge_json(value: Any) -> str:
    if isinstance(value, wire.HugeNumber):
        return "0" * value.digits  # counts as many bytes as it was sent with
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _segment_size_check(message: Any, limit: int) -> None:
    try:
        size = len(json.dumps(message, separators=(",", ":"), default=_huge_json))
    except RecursionError:
        raise wire.SegmentError({"message": wire.Reason("nested too deeply", "too_deep")}) from None
    if size > limit:
        raise wire.SegmentError({"message": wire.Reason(f"larger than {limit} bytes", "too_large")})


# Failures of a store: transient (resend), caused by some event (isolate it), or a bug (raise).
_RETRY_PG_CODES = ("40P01", "40001")  # deadlock, serialization failure


def _failure_kind(exc: BaseException) -> str:
    """'retry', 'transient', 'data' (some event's content) or 'bug'.

    OperationalError is the state of the server or the connection (SQLite: locked or busy;
    PostgreSQL: connection lost, lock or statement timeout, out of resources, shutting down),
    except PostgreSQL's class 54 (program limit exceeded, e.g. an index row too large): a value.
    Data, integrity and internal errors, and a driver that cannot encode a value, are some event's
    content; syntax errors and undefined objects (class 42) are bugs.
    """
    if isinstance(exc, InterfaceError):
        return "transient"  # the connection is gone
    code = getattr(exc.__cause__, "pgcode", None) if isinstance(exc, DatabaseError) else None
    if isinstance(exc, OperationalError):
        if code in _RETRY_PG_CODES:
            return "retry"
        return "data" if code is not None and code.startswith("54") else "transient"
    if isinstance(exc, DatabaseError):
        return "bug" if code is not None and code.startswith("42") else "data"
    if isinstance(exc, UnicodeError | ValueError | ArithmeticError):
        return "data"
    return "bug"


def _refusal(exc: BaseException) -> wire.Reason:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return wire.Reason(f"refused by the database: {text}", "refused_by_database")


def _events_store_retrying(*, events: list[wire.NativeEvent], broadcast: bool,
                           credential: KeyCredential | None) -> tuple[set[str], dict[str, wire.Reason]]:
    """Store the events: (event_ids newly stored, {event_id: reason} for those refused).

    Concurrent writers take rows in sorted order, but a deadlock (or serialization failure) is still
    possible between their different tables: PostgreSQL aborts one, which is retried. A refusal
    caused by some event's content sends the batch to ``_events_store_isolating``."""
    attempt = 0
    while True:
        try:
            return _events_store(events=events, broadcast=broadcast, credential=credential), {}
        except IngestKeyRevoked:
            raise
        except Exception as exc:
            kind = _failure_kind(exc)
            if kind == "retry" and attempt < 2 and not connection.in_atomic_block:
                attempt += 1
                logger.warning("ingest transaction aborted (%s); retrying", getattr(exc.__cause__, "pgcode", exc))
                continue
            if kind in ("retry", "transient"):
                raise IngestUnavailable(str(exc)) from exc
            if kind == "bug":
                raise
            logger.warning("database refused a batch of %d events (%s); isolating the culprits", len(events), exc)
            return _events_store_isolating(events=events, broadcast=broadcast, credential=credential)


@transaction.atomic
def _events_store_isolating(*, events: list[wire.NativeEvent], broadcast: bool,
                            credential: KeyCredential | None) -> tuple[set[str], dict[str, wire.Reason]]:
    """Store the events in halves, each under a savepoint, down to single events: every event the
    database refuses is found and rejected, every other one is stored (one transaction).
    Constraints are checked at once here, so a refusal at commit is also found per event."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    stored: set[str] = set()
    refused: dict[str, wire.Reason] = {}
    parts = [events]
    while parts:
        part = parts.pop()
        try:
            stored |= _events_store(events=part, broadcast=broadcast, credential=credential)
        except IngestKeyRevoked:
            raise
        except Exception as exc:
            kind = _failure_kind(exc)
            if kind in ("retry", "transient"):
                raise IngestUnavailable(str(exc)) from exc
            if kind == "bug":
                raise
            if len(part) == 1:
                refused[part[0].event_id] = _refusal(exc)
                logger.warning("database refused event %r: %s", part[0].event_id[:100], exc)
            else:
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]  # the first half is tried first
    return stored, refused


@transaction.atomic
def _events_store(*, events: list[wire.NativeEvent], broadcast: bool,
                  credential: KeyCredential | None = None) -> set[str]:
    """Store the (valid, distinct) events; returns the event_ids that were newly stored."""
    if credential is not None:
        ingest_key_check(credential=credential)
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
    events_stored.send(sender=Event, events=stored)  # derived metrics, in this transaction
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
    # Encoded here: a value the driver cannot encode fails before COPY starts (as UnicodeEncodeError,
    # a refusal of some event), not as a COPY cancelled mid-stream.
    payload = BytesIO("".join(lines).encode())
    table = Event._meta.db_table
    with connection.cursor() as cur:
        cur.execute(_STAGING_DDL)
        cur.execute("TRUNCATE ingest_staging")
        with connection.wrap_database_errors:  # psycopg2's errors as Django's, like execute()'s
            cur.copy_expert("COPY ingest_staging FROM STDIN", payload)
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
