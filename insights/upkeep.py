"""Writes that change history: erasing a customer, changing a customer's age group,
merging an anonymous visitor into the customer they turned out to be.

The age change and the merge here are the synchronous forms (admin, tools): they queue the move and
make every open move in this transaction (``insights.moves``). Identify calls and traits queue
theirs and leave the large ones to the background, in bounded steps.

Events are facts and the rollups are sums of what each event and each derived session contributed
(``insights.contributions``). A change to the past therefore takes out exactly what the affected
events and sessions put in, and puts in what they contribute now — the same arithmetic
``analytics_rebuild`` does from scratch, so after either service incremental rollups still equal a
rebuild (tests/insights/test_upkeep.py).

Both services serialise with everything else that writes derived data:
- the derivation lock (``insights.rollup_store.derivation_lock``: pending windows, idle closing, rebuild);
- on PostgreSQL, ``LOCK TABLE events_event IN SHARE ROW EXCLUSIVE MODE`` (``ingest_hold``): it waits for ingest
  transactions already inserting (they may have counted this customer under the old age group, or
  stored events we must see) and holds new inserts back until this transaction commits (they then
  read the new age group). Readers are never blocked. On SQLite every write transaction is
  IMMEDIATE, which serialises writers already.

They assume the rollups were consistent before (``rebuild_rollups`` makes them so).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import transaction

from customers.models import Customer
from customers.selectors import customer_age_groups
from events.connections.services import connection_customer_forget
from events.models import Event
from events.types import StoredEvent
from insights.contributions import add_event_contributions, add_session_contributions, new_contributions
from insights.filters import store_tz
from insights.models import Cart, CustomerRfm, CustomerTotals, Session
from insights.money import OrderBook
from insights.moves.services import history_age_queue, history_link, history_moves_drain
from insights.order_changes import browser_changed, mode_change_apply
from insights.order_store import book_of_orders, counts_unconfirmed, order_book, order_events
from insights.retention import add_retention_contributions
from insights.rollup_store import (
    customer_days_delete,
    customer_order_days,
    derivation_lock,
    ingest_hold,
    product_categories,
    rollups_add,
    rows_delete,
)
from insights.services import pending_windows_queue, rollups_add_counted
from insights.session_store import customer_events, customer_sessions

# Rollups without an age group, keyed by customer: an erasure drops their rows outright (first/last-seen
# times cannot be subtracted), and an age change leaves them as they are.
PER_CUSTOMER_ROLLUPS = ("customers_daily", "customer_totals")


@dataclass(frozen=True)
class ErasureResult:
    customer_pk: int
    events: int
    sessions: int
    carts: int


@dataclass(frozen=True)
class AgeGroupChange:
    old_group: str
    new_group: str
    events: int  # events whose contributions moved (0 when the group did not change)
    sessions: int


def _history_move(customer_pk: int, *, old_group: str, new_group: str | None) -> tuple[int, int]:
    """Take every contribution of the customer's events (counted under ``old_group``) and stored sessions
    (under the group each was stored with) out of the age-grouped rollups and, unless ``new_group`` is
    None, put them back in under ``new_group``. Returns (events, sessions)."""
    moves = [(old_group, -1)] + ([(new_group, 1)] if new_group is not None else [])
    contributions = new_contributions()
    tz = store_tz()
    n_events = 0
    for chunk in customer_events(customer_pk):
        n_events += len(chunk)
        category_of = product_categories(e.product_pk for e in chunk)
        book = order_book(chunk)
        for age, sign in moves:
            add_event_contributions(contributions, chunk, age_of={customer_pk: age}, category_of=category_of, tz=tz,
                                    book=book, sign=sign)
    sessions = customer_sessions(customer_pk)
    category_of = product_categories(p for d, _ in sessions for p in d.products)
    add_session_contributions(contributions, sessions, category_of=category_of, tz=tz, sign=-1)
    if new_group is not None:
        add_session_contributions(contributions, [(d, new_group) for d, _ in sessions], category_of=category_of,
                                  tz=tz, sign=1)
    for name in PER_CUSTOMER_ROLLUPS:
        contributions.pop(name, None)
    # The retention rollups (by age group) follow the customer's order days, which do not change here.
    order_days = customer_order_days([customer_pk])
    for age, sign in moves:
        add_retention_contributions(contributions, order_days, age_of={customer_pk: age}, sign=sign)
    rollups_add(contributions)
    return n_events, len(sessions)


@dataclass
class _SharedOrders:
    """Orders the customer's events share with other customers' (a cancel or a refund sent under
    another id), and how those others' money was counted before the erasure."""

    orders: set[str]
    others: list[StoredEvent]
    before: OrderBook

    @classmethod
    def of(cls, customer_pk: int) -> _SharedOrders:
        orders = {o for o in Event.objects.filter(customer_id=customer_pk, order_id__isnull=False)
                  .values_list("order_id", flat=True).distinct() if o is not None}
        others = [e for e in order_events(orders) if e.customer_pk != customer_pk] if orders else []
        return cls(orders, others, _book(orders) if others else OrderBook())

    def recount(self) -> None:
        """After the erasure: an order the customer alone cancelled counts again, and a discount the
        customer's line carried passes to the next line carrying one (what a rebuild would count)."""
        if not self.others:
            return
        after = _book(self.orders)
        if after == self.before:
            return
        contributions = new_contributions()
        ages = customer_age_groups(customer_pks={e.customer_pk for e in self.others})
        categories = product_categories(e.product_pk for e in self.others)
        for book, sign in ((self.before, -1), (after, 1)):
            add_event_contributions(contributions, self.others, age_of=ages, category_of=categories, tz=store_tz(),
                                    book=book, sign=sign, money_only=True)
        rollups_add(contributions)
        revived = self.before.cancelled - after.cancelled
        rederive = {e.pk for e in browser_changed(self.others, self.before, after)}
        pending_windows_queue(spans=[(e.customer_pk, e.timestamp, e.timestamp) for e in self.others
                                     if e.action == "purchase" and (e.order_id in revived or e.pk in rederive)],
                              events=0)


def _mode_change(count_before: bool, *, handled: set[int]) -> None:
    """The customer held the store's last verified orders: every browser purchase counts again under
    ``browser`` (``insights.order_changes.mode_change_apply``)."""
    contributions = new_contributions()
    spans = mode_change_apply(contributions, count_before=count_before, count_after=counts_unconfirmed(),
                              handled=handled, tz=store_tz())
    if spans:
        rollups_add_counted(contributions, {})
        pending_windows_queue(spans=spans, events=0)


def _book(orders: set[str]) -> OrderBook:
    return book_of_orders(orders)


def _scrub_admin_log(customer_pk: int) -> None:
    """Django admin's history keeps each object's ``str()`` (a customer's name): replace it."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Customer),
                            object_id=str(customer_pk)).update(object_repr=f"erased customer #{customer_pk}")


@transaction.atomic
def customer_events_erase(*, customer: Customer) -> ErasureResult:
    """A store's erasure request: delete the customer, their events, sessions, carts and cart scores,
    what store connections keep of them (their orders' customer, profile times, deliveries waiting
    for a rate that name them), and take exactly what they contributed out of every rollup.

    The customer row goes too (nothing of the person is kept; its admin history keeps only
    "erased customer #pk"). Events later sent under the same store id make a new, unrelated customer,
    as for any id seen for the first time. Pending re-derivation windows that name the customer are
    left to be processed: they find no events and no sessions, so they change nothing."""
    derivation_lock()
    ingest_hold()
    history_moves_drain()  # every history counted where it belongs first
    row = Customer.objects.select_for_update().get(pk=customer.pk)
    pk = row.pk
    shared = _SharedOrders.of(pk)
    count_before = counts_unconfirmed()
    n_events, n_sessions = _history_move(pk, old_group=row.age_group, new_group=None)
    # The per-customer rollups lose their rows outright (a rebuild would have none).
    n_carts = rows_delete(Cart, customer_id=pk)
    customer_days_delete(pk)
    for model in (Session, CustomerTotals, CustomerRfm, Event):
        rows_delete(model, customer_id=pk)
    shared.recount()
    _mode_change(count_before, handled={e.pk for e in shared.others})
    connection_customer_forget(external_id=row.external_id)
    row.delete()  # cascades to what is left (cart scores)
    _scrub_admin_log(pk)
    return ErasureResult(customer_pk=pk, events=n_events, sessions=n_sessions, carts=n_carts)


@transaction.atomic
def customer_age_group_change(*, customer: Customer, age: int | None) -> AgeGroupChange:
    """Set the customer's age. When that changes their age group, move every contribution of their
    events and sessions (history included) from the old group to the new one, so every report reads
    as if the customer had always been in the new group — which is what a rebuild computes.

    ``customer`` is updated in place (age, age_group). Use this, not ``Customer.save()``, for any
    change of age on a customer who may have events (admin). Made at once, in this transaction."""
    move = history_age_queue(customer_pk=customer.pk, age=age)
    history_moves_drain()
    move.refresh_from_db()
    row = Customer.objects.get(pk=customer.pk)
    customer.age, customer.age_group = row.age, row.age_group
    return AgeGroupChange(old_group=move.from_group, new_group=str(row.age_group), events=move.events,
                          sessions=move.sessions)


@dataclass(frozen=True)
class MergeResult:
    source_pk: int
    target_pk: int
    events: int  # events moved to the target
    sessions: int  # the source's sessions taken out (re-derived as the target's)


@transaction.atomic
def customers_merge(*, source_pk: int, target_pk: int) -> MergeResult:
    """Identity (docs/metrics.md): an anonymous visitor (``source``, e.g. ``anon:<id>``) turned out to
    be ``target`` (identify, alias). Every event of the source becomes the target's, as if it had been
    sent under the target's id: the source's contributions (events under its age group, its sessions)
    come out of every rollup and its sessions, carts and per-customer rows go; the events move and
    count again under the target's age group; the target's windows over them are queued for
    re-derivation, so a session that spans the log-in becomes one session of the target. The source
    row stays, with no events and ``merged_into`` the target (ingest stores later events under its id
    as the target's); what the target's profile lacks is taken from it.

    Made at once, in this transaction (``insights.moves``: the same steps the background makes)."""
    move = history_link(source_pk=source_pk, target_pk=target_pk)
    history_moves_drain()
    if move is None:
        return MergeResult(source_pk, target_pk, 0, 0)
    move.refresh_from_db()
    return MergeResult(source_pk, target_pk, move.events, move.sessions)
