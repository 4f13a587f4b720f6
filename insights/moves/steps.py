"""One bounded step of a history move: at most ``budget`` sessions and events, in the caller's
transaction (which holds the derivation lock and holds ingest back: ``insights.moves.services``).

The arithmetic is ``insights.upkeep``'s, a chunk at a time: what the chunk's events and sessions
contributed comes out of the rollups under the group (or customer) it was counted in and goes back
in under the new one, so after the last step, and once the queued windows are derived, incremental
rollups equal a rebuild. Per-customer rollups (``customers_daily``, ``customer_totals``) follow
the events: a merged-away customer's rows go at the end, with their retention contribution.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, age_group_for
from events.models import Event
from events.types import StoredEvent
from insights.contributions import (
    Contributions,
    add_event_contributions,
    add_session_contributions,
    new_contributions,
)
from insights.derivation import DerivedSession
from insights.filters import store_tz
from insights.models import Cart, CustomerTotals, Session
from insights.moves.models import HistoryMove
from insights.order_store import order_book
from insights.retention import add_retention_contributions, changed_order_customers
from insights.rollup_store import (
    customer_days_delete,
    customer_order_days,
    product_categories,
    rollups_add,
    rows_delete,
)
from insights.services import pending_windows_queue
from insights.session_store import EVENT_FIELDS, sessions_delete, stored_event

PER_CUSTOMER_ROLLUPS = ("customers_daily", "customer_totals")
# What moving one stored session costs next to one event (measured on PostgreSQL: its summary is read
# and its contributions reach several rollups): a step's budget counts sessions this many times.
SESSION_WEIGHT = 20


def _session_limit(budget: int) -> int:
    return max(1, budget // SESSION_WEIGHT)


def _without_per_customer(contributions: Contributions) -> Contributions:
    for name in PER_CUSTOMER_ROLLUPS:
        contributions.pop(name, None)
    return contributions


def _after(qs: QuerySet, at: dt.datetime | None, pk: int, field: str) -> QuerySet:
    """Rows after (``at``, ``pk``) in (``field``, id) order (an index on (customer, ``field``) serves it)."""
    if at is None:
        return qs
    return qs.filter(Q(**{f"{field}__gt": at}) | Q(**{field: at, "id__gt": pk}), **{f"{field}__gte": at})


def _counted(qs: QuerySet) -> QuerySet:
    """Events that count in metrics (known bots' count nowhere unless METRICS_INCLUDE_BOTS)."""
    return qs if settings.METRICS_INCLUDE_BOTS else qs.filter(is_bot=False)


def _events(qs: QuerySet, limit: int) -> list[StoredEvent]:
    return [stored_event(row) for row in qs.order_by("timestamp", "id").values_list(*EVENT_FIELDS)[:limit]]


def _sessions(qs: QuerySet, limit: int) -> list[tuple[int, dt.datetime, DerivedSession, str]]:
    rows = qs.order_by("started_at", "id").values_list("id", "started_at", "summary", "age_group")[:limit]
    return [(pk, started, DerivedSession.from_json(summary), group) for pk, started, summary, group in rows]


def _rollups_add_with_retention(contributions: Contributions, ages: dict[int, str]) -> None:
    """Add contributions; where they change a customer's order days, redo the customer's retention."""
    changed = changed_order_customers(contributions)
    before = customer_order_days(changed) if changed else {}
    rollups_add(contributions)
    if changed:
        retention = new_contributions()
        add_retention_contributions(retention, before, age_of=ages, sign=-1)
        add_retention_contributions(retention, customer_order_days(changed), age_of=ages, sign=1)
        rollups_add(retention)


# --- merge: the source's history becomes the target's -------------------------------------------


def merge_step(move: HistoryMove, budget: int) -> bool:
    """Take out some of the source's sessions, then move what the budget has left of its events to
    the target. True when the source has nothing left (its per-customer rows are gone then)."""
    rows = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[move.customer_id, move.target_id])}
    source, target = rows.get(move.customer_id), rows.get(move.target_id or 0)
    if source is None or target is None:
        return True  # erased meanwhile: nothing to move (or nowhere to)
    move.started_at = move.started_at or timezone.now()
    limit = _session_limit(budget)
    sessions = _sessions(Session.objects.filter(customer_id=source.pk), limit)
    if sessions:
        contributions = new_contributions()
        add_session_contributions(contributions, [(d, group) for _, _, d, group in sessions],
                                  category_of=product_categories(p for *_, d, _ in sessions for p in d.products),
                                  tz=store_tz(), sign=-1)
        rollups_add(_without_per_customer(contributions))
        sessions_delete([pk for pk, *_ in sessions])
        move.sessions += len(sessions)
    left = budget - len(sessions) * SESSION_WEIGHT
    if len(sessions) == limit or left <= 0:
        return False
    pks = list(Event.objects.filter(customer_id=source.pk).order_by("timestamp", "id").values_list("id", flat=True)
               [:left])
    if pks:
        _events_move(source, target, pks)
        move.events += len(pks)
    if len(pks) == left:
        return False
    _source_clear(source)
    return True


def _events_move(source: Customer, target: Customer, pks: list[int]) -> None:
    chunk = [stored_event(row) for row in _counted(Event.objects.filter(pk__in=pks)).values_list(*EVENT_FIELDS)]
    moved = [replace(e, customer_pk=target.pk) for e in chunk]
    Event.objects.filter(pk__in=pks).update(customer_id=target.pk)
    if not chunk:
        return
    category_of = product_categories(e.product_pk for e in chunk)
    tz = store_tz()
    book = order_book(chunk)  # money as it was counted: cancels, the line carrying each order's discount
    out = new_contributions()
    add_event_contributions(out, chunk, age_of={source.pk: str(source.age_group)}, category_of=category_of, tz=tz,
                            book=book, sign=-1)
    rollups_add(_without_per_customer(out))
    back = new_contributions()
    add_event_contributions(back, moved, age_of={target.pk: str(target.age_group)}, category_of=category_of,
                            tz=tz, book=book)
    _rollups_add_with_retention(back, {target.pk: str(target.age_group)})
    # The target's sessions over these events are derived again (a session spanning the log-in is one).
    pending_windows_queue(spans=[(target.pk, min(e.timestamp for e in moved), max(e.timestamp for e in moved))],
                          events=len(moved))


def _source_clear(source: Customer) -> None:
    """The source has no events and no sessions left: its retention contribution and its per-customer
    rows go (what a rebuild would have for it: nothing)."""
    retention = new_contributions()
    add_retention_contributions(retention, customer_order_days([source.pk]), age_of={source.pk: str(source.age_group)},
                                sign=-1)
    rollups_add(retention)
    rows_delete(Cart, customer_id=source.pk)
    customer_days_delete(source.pk)
    rows_delete(CustomerTotals, customer_id=source.pk)


# --- age: the customer's history moves to their new age group -----------------------------------


def age_step(move: HistoryMove, budget: int) -> bool:
    """The first step switches the customer to the new age; each step then moves what ``budget``
    allows of the sessions and older events still counted in another group. True when nothing is left."""
    customer = Customer.objects.select_for_update().filter(pk=move.customer_id).first()
    if customer is None:
        return True
    if move.started_at is None and not _age_switch(move, customer):
        return True  # the same group: nothing to move
    new = age_group_for(move.age)
    limit = _session_limit(budget)
    taken = _sessions_regroup(move, new, limit)
    left = budget - taken * SESSION_WEIGHT
    if taken == limit or left <= 0:
        return False
    return _events_regroup(move, new, left) < left


def _age_switch(move: HistoryMove, customer: Customer) -> bool:
    """Give the customer the new age (new events count in its group from now on) and move their
    retention contribution; note which events are counted in the old group. False when the group
    stays the same."""
    old, new = str(customer.age_group), age_group_for(move.age)
    Customer.objects.filter(pk=customer.pk).update(age=move.age, age_group=new)
    move.from_group, move.started_at = old, timezone.now()
    if old == new:
        return False
    order_days = customer_order_days([customer.pk])
    retention = new_contributions()
    add_retention_contributions(retention, order_days, age_of={customer.pk: old}, sign=-1)
    add_retention_contributions(retention, order_days, age_of={customer.pk: new}, sign=1)
    rollups_add(retention)
    # Every event stored so far (ingest is held back) was counted in the old group.
    move.boundary = Event.objects.aggregate(last=Max("id"))["last"] or 0
    return True


def _sessions_regroup(move: HistoryMove, new: str, limit: int) -> int:
    """Move up to ``limit`` of the customer's sessions stored in another group (those derived since
    the switch are stored in the new one)."""
    qs = _after(Session.objects.filter(customer_id=move.customer_id).exclude(age_group=new),
                move.session_cursor_at, move.session_cursor_id, "started_at")
    sessions = _sessions(qs, limit)
    if not sessions:
        return 0
    contributions = new_contributions()
    category_of = product_categories(p for *_, d, _ in sessions for p in d.products)
    tz = store_tz()
    add_session_contributions(contributions, [(d, group) for _, _, d, group in sessions], category_of=category_of,
                              tz=tz, sign=-1)
    add_session_contributions(contributions, [(d, new) for _, _, d, _ in sessions], category_of=category_of, tz=tz)
    rollups_add(_without_per_customer(contributions))
    pks = [pk for pk, *_ in sessions]
    Session.objects.filter(pk__in=pks).update(age_group=new)
    Cart.objects.filter(session_id__in=pks).update(age_group=new)
    move.session_cursor_id, move.session_cursor_at = sessions[-1][0], sessions[-1][1]
    move.sessions += len(sessions)
    return len(sessions)


def _events_regroup(move: HistoryMove, new: str, limit: int) -> int:
    """Move up to ``limit`` of the older events (counted in the old group) to the new group."""
    qs = _after(_counted(Event.objects.filter(customer_id=move.customer_id, id__lte=move.boundary or 0)),
                move.cursor_at, move.cursor_id, "timestamp")
    chunk = _events(qs, limit)
    if not chunk:
        return 0
    contributions = new_contributions()
    category_of = product_categories(e.product_pk for e in chunk)
    book = order_book(chunk)
    tz = store_tz()
    for group, sign in ((move.from_group, -1), (new, 1)):
        add_event_contributions(contributions, chunk, age_of={move.customer_id: group}, category_of=category_of,
                                tz=tz, book=book, sign=sign)
    rollups_add(_without_per_customer(contributions))
    move.cursor_at, move.cursor_id = chunk[-1].timestamp, chunk[-1].pk
    move.events += len(chunk)
    return len(chunk)
