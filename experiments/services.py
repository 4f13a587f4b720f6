"""Writes of the experiments app (docs/experiments.md#exposure): each visitor's first exposure per
experiment, and its outcome kept in step with the visitor's orders, refunds and cancels.

All of it runs inside the ingest transaction (the ``exposures_stored`` and ``events_stored`` hooks) or
the identity link's, so an acknowledged exposure is never lost and an outcome never lags its order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from customers.models import Customer
from events.models import Event
from events.types import Exposure as Seen
from events.types import StoredEvent
from experiments.models import Experiment, Exposure
from insights.money import OrderBook, event_money
from insights.order_store import order_book
from insights.session_store import EVENT_COLUMNS, raw_events

_CHUNK = 500
_MONEY = frozenset({"purchase", "refund", "cancel"})
ZERO = Decimal("0")


def _experiments(names: dict[str, datetime]) -> dict[str, Experiment]:
    """The experiments of these names (created at their first exposure), started no later than given."""
    Experiment.objects.bulk_create([Experiment(name=n, started_at=t) for n, t in names.items()], ignore_conflicts=True)
    found = {e.name: e for e in Experiment.objects.filter(name__in=list(names))}
    for name, e in found.items():
        if names[name] < e.started_at:
            Experiment.objects.filter(pk=e.pk).update(started_at=names[name])
    return found


@transaction.atomic
def exposures_record(*, exposures: Sequence[Seen]) -> None:
    """Keep each (experiment, visitor)'s first variant; a visitor seen in another variant too is
    marked ``conflicting`` (counted apart). Outcomes of the visitors touched are recomputed."""
    first: dict[tuple[str, int], Seen] = {}
    variants: dict[tuple[str, int], set[str]] = defaultdict(set)
    for s in exposures:
        key = (s.experiment, s.customer_pk)
        variants[key].add(s.variant)
        if key not in first or s.timestamp < first[key].timestamp:
            first[key] = s
    starts: dict[str, datetime] = {}
    for (name, _), s in first.items():
        starts[name] = min(starts.get(name, s.timestamp), s.timestamp)
    experiments = _experiments(starts)
    customers = {c for _, c in first}
    stored = {(r.experiment.name, r.customer_id): r for r in Exposure.objects.select_related("experiment").filter(
        experiment__in=list(experiments.values()), customer_id__in=list(customers))}
    new = [Exposure(experiment=experiments[name], customer_id=c, variant=s.variant, exposed_at=s.timestamp,
                    is_bot=s.is_bot, conflicting=len(variants[(name, c)]) > 1)
           for (name, c), s in first.items() if (name, c) not in stored]
    Exposure.objects.bulk_create(new, ignore_conflicts=True)
    changed = [row for key, row in stored.items() if _merge(row, first[key], variants[key])]
    Exposure.objects.bulk_update(changed, ["variant", "exposed_at", "is_bot", "conflicting"])
    _outcomes_refresh(customers)


def _merge(row: Exposure, seen: Seen, variants: set[str]) -> bool:
    """Fold a batch's exposures of one visitor into their stored row; True when it changed."""
    before = (row.variant, row.exposed_at, row.is_bot, row.conflicting)
    if seen.timestamp < row.exposed_at:  # arrived late, but happened first
        variants = variants | {row.variant}
        row.variant, row.exposed_at, row.is_bot = seen.variant, seen.timestamp, seen.is_bot
    row.conflicting = row.conflicting or bool(variants - {row.variant})
    return before != (row.variant, row.exposed_at, row.is_bot, row.conflicting)


def exposures_follow_money(*, events: Iterable[StoredEvent]) -> None:
    """Orders, refunds and cancels of exposed visitors: their outcomes are recomputed."""
    pks = {e.customer_pk for e in events if e.action in _MONEY}
    if pks:
        exposed = set(Exposure.objects.filter(customer_id__in=list(pks)).values_list("customer_id", flat=True))
        if exposed:
            _outcomes_refresh(exposed)


@transaction.atomic
def exposures_link(*, source_pk: int, target_pk: int) -> None:
    """An anonymous visitor (or a previous id) is this customer: their exposures move to the customer;
    where both were exposed to one experiment the first exposure wins, and two variants conflict."""
    moving = list(Exposure.objects.filter(customer_id=source_pk))
    if not moving or source_pk == target_pk:
        return
    kept = {r.experiment_id: r for r in Exposure.objects.filter(
        customer_id=target_pk, experiment_id__in=[r.experiment_id for r in moving])}
    for r in moving:
        t = kept.get(r.experiment_id)
        if t is None:
            Exposure.objects.filter(pk=r.pk).update(customer_id=target_pk)
            continue
        conflicting = t.conflicting or r.conflicting or t.variant != r.variant
        if r.exposed_at < t.exposed_at:
            t.variant, t.exposed_at, t.is_bot = r.variant, r.exposed_at, r.is_bot
        t.conflicting = conflicting
        t.save(update_fields=["variant", "exposed_at", "is_bot", "conflicting"])
        r.delete()
    _outcomes_refresh([target_pk])


@transaction.atomic
def exposures_after_delete() -> None:
    """Events were deleted in bulk (the demo reset): with none left, the experiments go too (their
    exposures came from those events); else every outcome is recomputed from what is left."""
    if not Event.objects.exists():
        Experiment.objects.all().delete()
        return
    _outcomes_refresh(set(Exposure.objects.values_list("customer_id", flat=True)))


@transaction.atomic
def experiment_outcomes_refresh(*, experiment_pk: int) -> None:
    """Recompute an experiment's outcomes (its window or end changed)."""
    _outcomes_refresh(set(Exposure.objects.filter(experiment_id=experiment_pk).values_list("customer_id", flat=True)))


def _outcomes_refresh(customer_pks: Collection[int]) -> None:
    ordered = sorted(customer_pks)
    for i in range(0, len(ordered), _CHUNK):
        _refresh_chunk(ordered[i:i + _CHUNK])


def _refresh_chunk(pks: list[int]) -> None:
    rows = list(Exposure.objects.select_related("experiment").filter(customer_id__in=pks))
    if not rows:
        return
    owner = {pk: pk for pk in pks}
    owner.update(Customer.objects.filter(merged_into_id__in=pks).values_list("pk", "merged_into_id"))
    events = _money_events(list(owner))
    book = order_book(events)
    by_customer: dict[int, list[StoredEvent]] = defaultdict(list)
    for e in events:
        by_customer[owner[e.customer_pk]].append(e)
    for row in rows:
        _outcome(row, by_customer.get(row.customer_id, []), book)
    Exposure.objects.bulk_update(rows, ["converted", "orders", "revenue", "pre_revenue"])


def _money_events(pks: list[int]) -> list[StoredEvent]:
    """Purchase lines and refunds of these customers (counted ones: bots' only with METRICS_INCLUDE_BOTS)."""
    marks = ", ".join(["%s"] * len(pks))
    bots = "" if settings.METRICS_INCLUDE_BOTS else " AND NOT e.is_bot"
    return raw_events(f"SELECT {EVENT_COLUMNS} FROM {Event._meta.db_table} e WHERE e.customer_id IN ({marks})"
                      f" AND e.action IN ('purchase', 'refund'){bots}", pks)


def _order_key(e: StoredEvent) -> str:
    return e.order_id if e.order_id is not None else f"line:{e.pk}"


def _outcome(row: Exposure, events: list[StoredEvent], book: OrderBook) -> None:
    """A visitor's orders placed in [exposure, end of window) and their net revenue (refunds of those
    orders whenever they come; cancelled orders count nowhere), and the net revenue of orders before."""
    placed: dict[str, datetime] = {}
    for e in events:
        if e.action == "purchase" and e.order_id not in book.cancelled:
            key = _order_key(e)
            placed[key] = min(placed.get(key, e.timestamp), e.timestamp)
    start, end = row.exposed_at, row.experiment.counts_until(row.exposed_at)
    pre = post = ZERO
    orders: set[str] = set()
    for e in events:
        net = event_money(e, book).net
        when = placed.get(_order_key(e)) if e.action == "purchase" or e.order_id else None
        when = when or e.timestamp
        if when < start:
            pre += net
        elif when < end:
            post += net
            if e.action == "purchase" and e.order_id not in book.cancelled:
                orders.add(_order_key(e))
    row.converted, row.orders, row.revenue, row.pre_revenue = bool(orders), len(orders), post, pre
