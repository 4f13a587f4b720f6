"""Storing validated events: one transaction per batch, in which the customers and products they
name are found or created, the events are inserted (events/inserts.py), the metrics hook
(``events_stored``) runs, and the dashboard broadcast is queued for after commit.

Nothing one event holds may fail its neighbours: if the database still refuses a batch that
passed validation, the batch is stored again in halves under savepoints until the refused events
are found; they are answered with the database's reason and the others are stored. Only
transient failures (database unreachable, deadlock after retries) fail a whole batch, as
``IngestUnavailable``: the client may resend it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from customers.services import customers_resolve
from events.broadcast import dashboard_send_on_commit
from events.inserts import event_is_bot, events_insert
from events.models import Event
from events.refund_caps import Capped, refunds_capped
from events.signals import events_stored, exposures_stored
from events.types import Exposure, SourceRef, StoredEvent
from events.wire import NativeEvent, Reason, money_errors
from products.selectors import ProductRef
from products.services import ProductSeed, products_resolve

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
# Failures of a store: transient (resend), caused by some event (isolate it), or a bug (raise).
_RETRY_PG_CODES = ("40P01", "40001")  # deadlock, serialization failure


class Stored(NamedTuple):
    """What became of a batch: the event ids newly stored, those refused (with the reason), and the
    refunds stored capped to what remained of their order (``events.refund_caps``)."""

    stored: set[str]
    refused: dict[str, Reason]
    capped: dict[str, Capped]


class IngestUnavailable(Exception):
    """A transient failure (database unreachable, deadlock after retries): nothing of the batch is
    stored and resending it may succeed."""

    reason = "events not stored: the database is unavailable; resend them"  # the client's answer


def _failure_kind(exc: BaseException) -> str:
    """'retry', 'transient', 'data' (some event's content) or 'bug'.

    OperationalError is the state of the server or the connection (SQLite: locked or busy;
    PostgreSQL: connection lost, lock or statement timeout, out of resources, shutting down),
    except PostgreSQL's class 54 (program limit exceeded, e.g. an index row too large): a value.
    Data, integrity and internal errors, and a driver that cannot encode a value, are some event's
    content; syntax errors and undefined objects (class 42) are bugs. Anything else (a bug, or the
    caller's ``check`` refusing) is raised as it is.
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


def _refusal(exc: BaseException) -> Reason:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return Reason(f"refused by the database: {text}", "refused_by_database")


def events_store(*, events: list[NativeEvent], broadcast: bool, source: SourceRef,
                 check: Callable[[], None] | None = None) -> Stored:
    """Store valid, distinct events: (event_ids newly stored, {event_id: reason} for those the
    database refused). ``check`` runs first inside the transaction (e.g. the sender's key is still
    valid); what it raises is raised.

    Concurrent writers take rows in sorted order, but a deadlock (or serialization failure) is still
    possible between their different tables: PostgreSQL aborts one, which is retried. A refusal
    caused by some event's content sends the batch to ``_store_isolating``."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        _names_create_first(events)
    attempt = 0
    while True:
        try:
            return _store(events, broadcast, check, source)
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
            return _store_isolating(events, broadcast, check, source)


def _names_create_first(events: list[NativeEvent]) -> None:
    """Create the batch's new customers and products in short transactions of their own, before
    the events' transaction.

    Inside the events' transaction, a batch naming a customer (or product) another batch has just
    created waits at the unique index until that whole transaction commits, so concurrent batches of
    the same new shoppers store one at a time. Committed here first (in id order, so two batches
    never wait for each other in a circle), the events' transaction only finds them. A customer or
    product created for a batch whose events are then all refused stays, as one named by
    ``identify`` or a product feed does. What the database refuses here is left to the events'
    transaction, which rejects the events that name it. PostgreSQL only: SQLite writes one
    transaction at a time anyway, and more commits a batch would only slow it."""
    try:
        customers_resolve(external_ids={e.customer_id for e in events})
        _products(events)
    except (DatabaseError, UnicodeError, ValueError) as exc:
        logger.info("customers or products of a batch not created ahead (%s); the batch's transaction will", exc)


@transaction.atomic
def _store_isolating(events: list[NativeEvent], broadcast: bool, check: Callable[[], None] | None,
                     source: SourceRef) -> Stored:
    """Store the events in halves, each under a savepoint, down to single events: every event the
    database refuses is found and rejected, every other one is stored (one transaction).
    Constraints are checked at once here, so a refusal at commit is also found per event."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    stored: set[str] = set()
    refused: dict[str, Reason] = {}
    capped: dict[str, Capped] = {}
    parts = [events]
    while parts:
        part = parts.pop()
        try:
            outcome = _store(part, broadcast, check, source)
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
        else:
            stored |= outcome.stored
            refused |= outcome.refused
            capped |= outcome.capped
    return Stored(stored, refused, capped)


@transaction.atomic
def _store(events: list[NativeEvent], broadcast: bool, check: Callable[[], None] | None,
           source: SourceRef) -> Stored:
    """One transaction (or savepoint): the event_ids newly stored, those refused because a line
    priced by its product's price totals more than one event may carry (``wire.money_errors``), and
    the refunds capped."""
    if check is not None:
        check()
    _orders_lock(events)
    # An id merged into another customer (identify, alias) resolves to that customer.
    customers = customers_resolve(external_ids={e.customer_id for e in events})
    customer_pks = [customers[e.customer_id] for e in events]
    products = _products(events)
    prices = [e.price if e.price is not None else (ref.price if ref is not None else ZERO)
              for e, ref in zip(events, products, strict=True)]
    refused: dict[str, Reason] = {}
    for e, price in zip(events, prices, strict=True):
        if e.price is None and (errors := money_errors(e, price)):
            refused[e.event_id] = next(iter(errors.values()))
    if refused:
        kept = [n for n, e in enumerate(events) if e.event_id not in refused]
        events, customer_pks = [events[n] for n in kept], [customer_pks[n] for n in kept]
        products, prices = [products[n] for n in kept], [prices[n] for n in kept]
    events, capped = refunds_capped(events, prices, source.namespace)
    new = events_insert(events, customer_pks, [ref.pk if ref is not None else None for ref in products], prices,
                        received_at=timezone.now(), source=source) if events else {}
    if not new:
        return Stored(set(), refused, {})
    stored: list[StoredEvent] = []
    keep_bots = settings.METRICS_INCLUDE_BOTS
    for e, cpk, ref, price in zip(events, customer_pks, products, prices, strict=True):
        pk = new.get(e.event_id)
        if pk is not None and (keep_bots or e.context is None or not event_is_bot(e)):  # bots: no metrics
            o = e.order
            stored.append(StoredEvent(pk, e.event_id, cpk, ref.pk if ref else None, e.session_id, e.action,
                                      e.quantity, price, e.order_id, e.timestamp, e.amount,
                                      *((o.discount, o.coupon, o.shipping, o.tax) if o is not None
                                        else (None, "", None, None)), context=e.context,
                                      browser=source.is_browser))
    exposures = [Exposure(cpk, e.experiment, e.variant, e.timestamp, e.context is not None and event_is_bot(e),
                          source.pk, source.is_browser)
                 for e, cpk in zip(events, customer_pks, strict=True) if e.experiment and e.event_id in new]
    if exposures:
        exposures_stored.send(sender=Event, exposures=exposures)  # first variant per visitor, in this transaction
    if broadcast:
        dashboard_send_on_commit([(e, ref.title if ref is not None else None, price)
                                  for e, ref, price in zip(events, products, prices, strict=True)
                                  if e.event_id in new])
    if stored:  # last: the derived metrics' rollup rows are held from their write until the commit
        events_stored.send(sender=Event, events=stored)  # derived metrics, in this transaction
    return Stored(set(new), refused, {k: c for k, c in capped.items() if k in new})


_MONEY_ACTIONS = frozenset({"purchase", "refund", "cancel"})


def _orders_lock(events: list[NativeEvent]) -> None:
    """PostgreSQL: hold each order's advisory lock (sorted, so writers never deadlock on them) until
    the transaction ends, so a cancel and the order's lines or refunds stored at the same time see
    each other (the money rollups count a cancelled order nowhere, whichever arrives first)."""
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers already
    orders = sorted({e.order_id for e in events if e.order_id is not None and e.action in _MONEY_ACTIONS})
    if orders:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(815514013, h) FROM (SELECT DISTINCT hashtext(o) AS h"
                        " FROM unnest(%s::text[]) AS o ORDER BY h) AS s",
                        [orders])


def _seed(e: NativeEvent) -> ProductSeed:
    return ProductSeed(e.product_title, e.price, e.product_image, e.description, e.category)


def _products(events: list[NativeEvent]) -> list[ProductRef | None]:
    """Each event's product (by id, or by title in the original format), found or created from
    the first event naming it; None for events about no product (checkout, abandon)."""
    by_id: dict[str, ProductSeed] = {}
    by_title: dict[str, ProductSeed] = {}
    for e in events:
        if e.product_id is not None:
            if e.product_id not in by_id:
                by_id[e.product_id] = _seed(e)
        elif e.product_title is not None and e.product_title not in by_title:
            by_title[e.product_title] = _seed(e)
    refs_by_id, refs_by_title = products_resolve(by_external_id=by_id, by_title=by_title)
    return [refs_by_id[e.product_id] if e.product_id is not None else
            refs_by_title[e.product_title] if e.product_title is not None else None for e in events]
