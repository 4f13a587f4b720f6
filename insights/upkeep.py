"""Writes that change history: erasing a customer, changing a customer's age group (issue 10).

Events are facts and the rollups are sums of what each event and each derived session contributed
(``insights.contributions``). A change to the past therefore takes out exactly what the affected
events and sessions put in, and puts in what they contribute now — the same arithmetic
``analytics_rebuild`` does from scratch, so after either service incremental rollups still equal a
rebuild (tests/insights/test_upkeep.py).

Both services serialise with everything else that writes derived data:
- the derivation lock (``insights.services._lock``: pending windows, idle closing, rebuild);
- on PostgreSQL, ``LOCK TABLE events_event IN SHARE ROW EXCLUSIVE MODE``: it waits for ingest
  transactions already inserting (they may have counted this customer under the old age group, or
  stored events we must see) and holds new inserts back until this transaction commits (they then
  read the new age group). Readers are never blocked. On SQLite every write transaction is
  IMMEDIATE, which serialises writers already.

They assume the rollups were consistent before (``rebuild_rollups`` makes them so).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from customers.models import Customer, age_group_for
from events.models import Event
from events.types import StoredEvent
from insights.contributions import Contributions, add_event_contributions, add_session_contributions, new_contributions
from insights.derivation import DerivedSession
from insights.filters import store_tz
from insights.models import Cart, CustomerDaily, CustomerTotals, Session
from insights.services import EVENT_FIELDS, _apply, _categories, _lock, _to_stored

_EVENT_CHUNK = 20_000


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


def _hold_ingest() -> None:
    """Wait for ingest transactions in flight and keep new ones out until commit (see module doc)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"LOCK TABLE {Event._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")


def _customer_events(customer_pk: int) -> Iterator[list[StoredEvent]]:
    """The customer's events in chunks (constant memory for any history)."""
    qs = Event.objects.filter(customer_id=customer_pk).order_by("timestamp", "id").values_list(*EVENT_FIELDS)
    chunk: list[StoredEvent] = []
    for row in qs.iterator(chunk_size=_EVENT_CHUNK):
        chunk.append(_to_stored(row))
        if len(chunk) >= _EVENT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _merge(into: Contributions, part: Contributions, sign: int) -> None:
    for table, rows in part.items():
        target = into[table]
        for key, counters in rows.items():
            row = target[key]
            for name, value in counters.items():
                row[name] += value * sign  # type: ignore[operator]


def _event_contributions(customer_pk: int, age_groups: list[tuple[str, int]], out: Contributions) -> int:
    """Add (sign +1) or take out (-1) every event of the customer under each given age group."""
    tz = store_tz()
    n = 0
    for chunk in _customer_events(customer_pk):
        n += len(chunk)
        category_of = _categories(e.product_pk for e in chunk)
        for age, sign in age_groups:
            part = new_contributions()
            add_event_contributions(part, chunk, age_of={customer_pk: age}, category_of=category_of, tz=tz)
            _merge(out, part, sign)
    return n


def _stored_sessions(customer_pk: int) -> list[tuple[DerivedSession, str]]:
    return [(DerivedSession.from_json(summary), age) for summary, age in
            Session.objects.filter(customer_id=customer_pk).order_by("started_at", "id")
            .values_list("summary", "age_group")]


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
    and take exactly what they contributed out of every rollup.

    The customer row goes too (nothing of the person is kept; its admin history keeps only
    "erased customer #pk"). Events later sent under the same store id make a new, unrelated customer,
    as for any id seen for the first time. Pending re-derivation windows that name the customer are
    left to be processed: they find no events and no sessions, so they change nothing."""
    _lock()
    _hold_ingest()
    row = Customer.objects.select_for_update().get(pk=customer.pk)
    pk = row.pk
    contrib = new_contributions()
    n_events = _event_contributions(pk, [(row.age_group, -1)], contrib)
    sessions = _stored_sessions(pk)
    product_pks = {p for d, _ in sessions for p in d.products}
    add_session_contributions(contrib, sessions, category_of=_categories(product_pks), tz=store_tz(), sign=-1)
    # The per-customer tables lose their rows outright (a rebuild would have none): first/last-seen
    # times cannot be subtracted.
    contrib.pop("cu_d", None)
    contrib.pop("cu_t", None)
    _apply(contrib)
    n_carts = Cart.objects.filter(customer_id=pk)._raw_delete(connection.alias)
    Session.objects.filter(customer_id=pk)._raw_delete(connection.alias)
    CustomerDaily.objects.filter(customer_id=pk)._raw_delete(connection.alias)
    CustomerTotals.objects.filter(customer_id=pk)._raw_delete(connection.alias)
    Event.objects.filter(customer_id=pk)._raw_delete(connection.alias)
    row.delete()  # cascades to what is left (cart scores)
    _scrub_admin_log(pk)
    return ErasureResult(customer_pk=pk, events=n_events, sessions=len(sessions), carts=n_carts or 0)


@transaction.atomic
def customer_age_group_change(*, customer: Customer, age: int | None) -> AgeGroupChange:
    """Set the customer's age. When that changes their age group, move every contribution of their
    events and sessions (history included) from the old group to the new one, so every report reads
    as if the customer had always been in the new group — which is what a rebuild computes.

    ``customer`` is updated in place (age, age_group). Use this, not ``Customer.save()``, for any
    change of age on a customer who may have events (admin, a storefront ``identify``)."""
    _lock()
    _hold_ingest()
    row = Customer.objects.select_for_update().get(pk=customer.pk)
    old, new = str(row.age_group), str(age_group_for(age))
    Customer.objects.filter(pk=row.pk).update(age=age, age_group=new)
    customer.age, customer.age_group = age, new
    if old == new:
        return AgeGroupChange(old_group=old, new_group=new, events=0, sessions=0)
    contrib = new_contributions()
    n_events = _event_contributions(row.pk, [(old, -1), (new, 1)], contrib)
    sessions = _stored_sessions(row.pk)
    product_pks = {p for d, _ in sessions for p in d.products}
    category_of, tz = _categories(product_pks), store_tz()
    add_session_contributions(contrib, sessions, category_of=category_of, tz=tz, sign=-1)
    add_session_contributions(contrib, [(d, new) for d, _ in sessions], category_of=category_of, tz=tz, sign=1)
    # cu_d and cu_t have no age group: what went out came back in (first/last-seen times unchanged).
    contrib.pop("cu_d", None)
    contrib.pop("cu_t", None)
    _apply(contrib)
    Session.objects.filter(customer_id=row.pk).update(age_group=new)
    Cart.objects.filter(customer_id=row.pk).update(age_group=new)
    return AgeGroupChange(old_group=old, new_group=new, events=n_events, sessions=len(sessions))
