"""Removing everything one source sent (a leaked key, a wrong import run, a rogue store connection):
docs/trust.md, "Removing a source".

The source is stopped first (its key revoked, its connection deactivated, the simulator paused), so
nothing new arrives under it. Its events then go in bounded steps, each in a transaction of its own
and serialised like an erasure (``insights.upkeep``: the derivation lock, and ingest held back
while orders are recounted):

1. the next ``STEP_EVENTS`` events of the source (by id, so roughly in time order); ingest is held
   back only when they include order events (see ``_step_remove``);
2. their share of the event-grained rollups is taken out (money under the order book as it stands)
   and the events are deleted;
3. the orders they shared with events left are recounted: a removed cancel revives its order, a
   removed line passes its order's discount on (as an erasure does);
4. the customers' sessions over the removed events' times are re-derived from what is left (old
   contribution out, new in, retention redone), and the per-customer first/last times, which only
   ever move outwards as events arrive, are recomputed from the stored sessions;
5. customers left with nothing of their own are deleted (``_customers_left_empty_delete``).

After every step the rollups equal a rebuild from the events left, so a removal stopped half-way (a
failed task, an interrupted command) is finished by running it again. Last, the source's identify /
alias records go (the merges they made stay: their events may have come from other sources) and so
does a connection's order map; ``removed_at`` is set. Profile traits the source set are not put
back: no earlier value is kept.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from customers.models import Customer
from customers.selectors import customer_age_groups
from events.connections.models import DeliveryStatus
from events.models import (
    ConnectionCustomer,
    ConnectionOrder,
    Event,
    IdentityLink,
    IngestKey,
    Source,
    StoreConnection,
    WebhookDelivery,
)
from events.services import ingest_key_revoke
from events.types import StoredEvent
from events.wire.native import ANONYMOUS_PREFIX
from insights.contributions import add_event_contributions, new_contributions
from insights.filters import store_tz
from insights.models import Cart, CustomerDaily, CustomerTotals, Session
from insights.order_changes import browser_changed, mode_change_apply
from insights.order_store import book_of_orders, order_events
from insights.rollup_store import (
    derivation_lock,
    ingest_hold,
    product_categories,
    rows_delete,
    rows_delete_by_pk,
    sql_param_adapter,
)
from insights.services import rollups_add_counted, spans_rederive
from insights.session_store import EVENT_FIELDS, stored_event

logger = logging.getLogger(__name__)

STEP_EVENTS = 1_000  # events removed per transaction
REMOVE_TASK = "insights.tasks.remove_source_task"
_IN_CHUNK = 500  # ids per IN (...) list: under SQLite's bound-parameter limit
_PROFILE_EMPTY = models.Q(name="", email="", age__isnull=True, gender="", city="", country="",
                          signed_up_at__isnull=True)

Span = tuple[int, dt.datetime, dt.datetime]


@dataclass
class RemovalStep:
    events: int  # events deleted
    customers: int  # customers whose events went
    customers_deleted: int


@dataclass
class SourceRemoval:
    source_pk: int
    events: int = 0
    steps: int = 0
    customers_deleted: int = 0
    identity_links: int = 0  # identify / alias records deleted
    merges_kept: int = 0  # of those, the ones that linked two customers (not undone)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), _IN_CHUNK):
        yield ordered[i:i + _IN_CHUNK]


# --- stopping the source and asking for the removal ------------------------------------------------


def source_stop(*, source: Source) -> None:
    """Refuse anything new from the source: its ingest key revoked, its store connection deactivated,
    the live simulator paused. Import runs and key-less server code have nothing to stop."""
    if source.ingest_key_id is not None:
        key = IngestKey.objects.filter(pk=source.ingest_key_id, is_active=True).first()
        if key is not None:
            ingest_key_revoke(key=key)
    if source.connection_id is not None:
        StoreConnection.objects.filter(pk=source.connection_id, is_active=True).update(is_active=False)
        # deliveries kept for an exchange rate would be stored when it arrives: they go unstored
        WebhookDelivery.objects.filter(connection_id=source.connection_id, status=DeliveryStatus.WAITING_RATE).update(
            status=DeliveryStatus.REFUSED, payload="", outcome="dropped: its connection's source was removed")
    if source.kind == Source.Kind.SIMULATOR:
        from events.simulation import simulator_configure

        simulator_configure(enabled=False)


@transaction.atomic
def source_removal_request(*, source_pk: int) -> Source:
    """Stop the source now and remove what it sent in the background (``remove_source_task``, queued
    once this transaction commits; ``manage.py remove_source`` does the same in the foreground)."""
    source = Source.objects.select_for_update().get(pk=source_pk)
    source_stop(source=source)
    source.removal_requested_at = timezone.now()
    source.save(update_fields=["removal_requested_at"])

    def enqueue() -> None:
        from celery import signature

        try:  # by name: insights.tasks imports this module
            signature(REMOVE_TASK, kwargs={"source_pk": source_pk}).delay()
        except Exception:  # the broker is away: the request stays visible, the command can run it
            logger.exception("queueing the removal of source %s failed", source_pk)

    transaction.on_commit(enqueue)
    return source


# --- the removal -----------------------------------------------------------------------------------


def source_remove(*, source_pk: int, progress: Callable[[RemovalStep], None] | None = None) -> SourceRemoval:
    """Remove everything the source sent (see the module's docstring); returns what went."""
    source = Source.objects.get(pk=source_pk)
    source_stop(source=source)
    result = SourceRemoval(source_pk)
    after_pk = 0
    while True:
        step, after_pk = _step_remove(source, after_pk)
        if step is None:
            if not Event.objects.filter(source_id=source_pk).exists():
                break
            after_pk = 0  # stored under a lower id while we ran (a transaction in flight): once more
            continue
        result.events += step.events
        result.steps += 1
        result.customers_deleted += step.customers_deleted
        if progress is not None:
            progress(step)
    links, merges, deleted = _source_finish(source_pk)
    result.identity_links, result.merges_kept = links, merges
    result.customers_deleted += deleted
    return result


@transaction.atomic
def _step_remove(source: Source, after_pk: int) -> tuple[RemovalStep | None, int]:
    """One bounded step: the source's next events (ids above ``after_pk``) out of every figure."""
    derivation_lock()
    rows = list(Event.objects.filter(source_id=source.pk, pk__gt=after_pk).order_by("pk")
                .values_list(*EVENT_FIELDS, "is_bot")[:STEP_EVENTS])
    if not rows:
        return None, after_pk
    counted = [stored_event(r[:-1]) for r in rows if settings.METRICS_INCLUDE_BOTS or not r[-1]]
    if any(e.order_id is not None for e in counted):
        # Orders are shared with ingest (a cancel takes out its order's lines, a new line may become the
        # one whose discount counts): wait for ingest in flight and hold it back, as an erasure does.
        # Steps without orders change nothing ingest reads and let it run.
        ingest_hold()
    customers = {r[2] for r in rows}
    spans = _events_take_out(counted, [r[0] for r in rows])
    spans_rederive(spans=spans, as_of=timezone.now())
    _customer_times_refresh(customers)
    deleted = _customers_left_empty_delete(customers, source)
    return RemovalStep(events=len(rows), customers=len(customers), customers_deleted=deleted), rows[-1][0]


def _events_take_out(counted: Sequence[StoredEvent], pks: Sequence[int]) -> list[Span]:
    """Take the counted events' contributions out, delete every one of ``pks``, recount the orders
    they shared with events left (and, when the last verified order went, every browser purchase:
    ``insights.order_changes.mode_change_apply``). Returns the spans whose sessions must be re-derived."""
    orders = {e.order_id for e in counted if e.order_id is not None}
    before = book_of_orders(orders)
    removed = set(pks)
    left = [e for e in order_events(orders) if e.pk not in removed] if orders else []
    everyone = [*counted, *left]
    ages = customer_age_groups(customer_pks={e.customer_pk for e in everyone})
    categories = product_categories(e.product_pk for e in everyone)
    tz = store_tz()
    contributions = new_contributions()
    add_event_contributions(contributions, counted, age_of=ages, category_of=categories, tz=tz, book=before,
                            sign=-1)
    rows_delete_by_pk(Event, list(pks))
    after = book_of_orders(orders)
    if left and after != before:  # an order revived, a discount passed to another line, a browser line
        for book, sign in ((before, -1), (after, 1)):
            add_event_contributions(contributions, left, age_of=ages, category_of=categories, tz=tz, book=book,
                                    sign=sign, money_only=True)
    mode_spans = mode_change_apply(contributions, count_before=before.browser.count_unconfirmed,
                                   count_after=after.browser.count_unconfirmed, handled={e.pk for e in left}, tz=tz)
    rollups_add_counted(contributions, ages)
    revived = before.cancelled - after.cancelled
    return ([(e.customer_pk, e.timestamp, e.timestamp) for e in counted]
            + [(e.customer_pk, e.timestamp, e.timestamp) for e in left
               if e.action == "purchase" and e.order_id in revived]
            + [(e.customer_pk, e.timestamp, e.timestamp) for e in browser_changed(left, before, after)] + mode_spans)


def _customer_times_refresh(customers: Iterable[int]) -> None:
    """The per-customer times (first and last seen, last purchase) and the first-touch channel, from
    the customers' stored sessions, as a rebuild sums them: adding events only ever moves them
    outwards, so with events gone they are recomputed. Customers left with no counted event lose
    their per-customer rows (a rebuild has none)."""
    for chunk in _chunks(customers):
        times: dict[int, list] = {}
        for pk, start, last, channel, lp, key in (Session.objects.filter(customer_id__in=chunk)
                                                  .order_by("customer_id", "started_at")
                                                  .values_list("customer_id", "started_at", "last_event_at",
                                                               "channel", "summary__lp", "key")):
            bought = dt.datetime.fromisoformat(lp) if lp else None
            t = times.get(pk)
            if t is None:
                times[pk] = [start, last, bought, channel, key]
                continue
            if start == t[0] and key < t[4]:  # of sessions starting together, the smaller key is the first
                t[3], t[4] = channel, key
            t[1] = max(t[1], last)
            if bought is not None and (t[2] is None or bought > t[2]):
                t[2] = bought
        _customer_times_write(times, chunk)
        _counted_events = Event.objects.filter(customer_id=models.OuterRef("pk"))
        if not settings.METRICS_INCLUDE_BOTS:
            _counted_events = _counted_events.filter(is_bot=False)
        empty = list(Customer.objects.filter(pk__in=chunk).exclude(models.Exists(_counted_events))
                     .values_list("pk", flat=True))
        if empty:
            rows_delete(CustomerTotals, customer_id__in=empty)
            rows_delete(CustomerDaily, customer_id__in=empty)  # all zero by now: no people day changes


def _customer_times_write(times: dict[int, list], customers: Sequence[int]) -> None:
    """Write the recomputed times where they differ from the stored ones (few rows: most customers'
    first and last sessions are not the ones that changed)."""
    changed = []
    for pk, first, last, bought, channel, key in (CustomerTotals.objects.filter(customer_id__in=customers)
                                             .values_list("customer_id", "first_seen", "last_seen",
                                                          "last_purchase_at", "first_channel", "first_session")):
        now = times.get(pk, (None, None, None, "", ""))
        if (first, last, bought, channel, key) != tuple(now):
            changed.append((*now, pk))
    if not changed:
        return
    adapt = sql_param_adapter() or (lambda v: v)
    table = connection.ops.quote_name(CustomerTotals._meta.db_table)
    ts = "::timestamptz" if connection.vendor == "postgresql" else ""
    typed = f"(%s{ts}, %s{ts}, %s{ts}, %s, %s, %s)"  # the first row types the columns (PostgreSQL)
    with connection.cursor() as cur:
        for i in range(0, len(changed), _IN_CHUNK):
            chunk = changed[i:i + _IN_CHUNK]
            values = ", ".join([typed] + ["(%s, %s, %s, %s, %s, %s)"] * (len(chunk) - 1))
            cur.execute(f"WITH v(fs, ls, lp, ch, k, c) AS (VALUES {values}) UPDATE {table} SET first_seen = v.fs,"
                        f" last_seen = v.ls, last_purchase_at = v.lp, first_channel = v.ch, first_session = v.k"
                        f" FROM v"
                        f" WHERE {table}.customer_id = v.c", [adapt(v) for row in chunk for v in row])


def _customers_left_empty_delete(candidates: Iterable[int], source: Source) -> int:
    """Delete the customers among ``candidates`` that are left with nothing of their own: no event,
    no identify / alias record from another source, no other id merged into them, no other source's
    record naming their id, and either an anonymous visitor (``anon:``) or no profile at all.
    Nothing is lost (an id seen again makes a new customer), and an anonymous id this source linked
    to a customer stops leading to that customer. Ingest is held back first (an event for one of
    them may be in flight) and the test made again."""
    found = [pk for chunk in _chunks(candidates) for pk in _left_empty(chunk, source)]
    if not found:
        return 0
    ingest_hold()
    deleted = 0
    for chunk in _chunks(found):
        gone = _left_empty(chunk, source)
        if gone:
            for model in (Cart, Session, CustomerTotals, CustomerDaily):
                rows_delete(model, customer_id__in=gone)
            Customer.objects.filter(pk__in=gone).delete()  # cascades to identity records, scores, predictions
            deleted += len(gone)
    return deleted


def _left_empty(customers: Sequence[int], source: Source) -> list[int]:
    """Those of these customers ``_customers_left_empty_delete`` deletes (another store connection's
    record of a customer's orders or profile keeps it too)."""
    others = IdentityLink.objects.exclude(source_id=source.pk)
    rows = dict(Customer.objects.filter(pk__in=customers)
                .exclude(models.Exists(Event.objects.filter(customer_id=models.OuterRef("pk"))))
                .exclude(models.Exists(others.filter(customer_id=models.OuterRef("pk"))))
                .exclude(models.Exists(Customer.objects.filter(merged_into_id=models.OuterRef("pk"))))
                .exclude(models.Exists(ConnectionOrder.objects.filter(customer_id=models.OuterRef("external_id"))
                                       .exclude(connection_id=source.connection_id)))
                .exclude(models.Exists(ConnectionCustomer.objects.filter(customer_id=models.OuterRef("external_id"))
                                       .exclude(connection_id=source.connection_id)))
                .filter(models.Q(external_id__startswith=ANONYMOUS_PREFIX) | _PROFILE_EMPTY)
                .values_list("pk", "external_id"))
    if not rows:
        return []
    bare = {ext.removeprefix(ANONYMOUS_PREFIX) for ext in rows.values()}
    named = set(others.filter(models.Q(anonymous_id__in=bare) | models.Q(previous_id__in=[*bare, *rows.values()]))
                .values_list("anonymous_id", "previous_id"))
    kept = {x for pair in named for x in pair if x}
    return sorted(pk for pk, ext in rows.items() if ext not in kept and ext.removeprefix(ANONYMOUS_PREFIX) not in kept)


@transaction.atomic
def _source_finish(source_pk: int) -> tuple[int, int, int]:
    """The source's identify / alias records go (with the customers they alone named, when left
    empty), a connection's order map and profile times too; ``removed_at`` is set. Returns
    (records, merges among them, customers deleted)."""
    derivation_lock()
    ingest_hold()
    source = Source.objects.select_for_update().get(pk=source_pk)
    links = list(IdentityLink.objects.filter(source_id=source_pk).values_list("customer_id", "anonymous_id",
                                                                               "previous_id"))
    named = {ANONYMOUS_PREFIX + a for _, a, _ in links if a} | {p for _, _, p in links if p} | {
        ANONYMOUS_PREFIX + p for _, _, p in links if p}
    candidates = {c for c, _, _ in links}
    ordered = sorted(named)
    for i in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[i:i + _IN_CHUNK]
        candidates.update(Customer.objects.filter(external_id__in=chunk).values_list("pk", flat=True))
    IdentityLink.objects.filter(source_id=source_pk).delete()
    deleted = _customers_left_empty_delete(candidates, source)
    if source.connection_id is not None:
        ConnectionOrder.objects.filter(connection_id=source.connection_id).delete()
        ConnectionCustomer.objects.filter(connection_id=source.connection_id).delete()
    source.removed_at = timezone.now()
    source.save(update_fields=["removed_at"])
    return len(links), sum(1 for _, a, p in links if a or p), deleted
