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
from django.db import connection, transaction

from customers.models import Customer
from events.models import Event
from events.types import Exposure as Seen
from events.types import StoredEvent
from experiments.intake import exposures_admit, records_store
from experiments.models import Experiment, Exposure, ExposureRecord, VariantStats
from experiments.tally import Tally
from insights.money import OrderBook, event_money
from insights.order_store import order_book
from insights.session_store import EVENT_COLUMNS, raw_events

_CHUNK = 500
_MONEY = frozenset({"purchase", "refund", "cancel"})
ZERO = Decimal("0")


@transaction.atomic
def exposures_record(*, exposures: Sequence[Seen]) -> None:
    """Keep each (experiment, visitor)'s first variant; a visitor seen in another variant too is
    marked ``conflicting`` (counted apart). Browser keys' exposures beyond their caps are dropped
    (``experiments.intake``); the others are kept as sent (``ExposureRecord``). Outcomes of the
    visitors touched are recomputed."""
    exposures, experiments = exposures_admit(exposures)
    if not exposures:
        return
    records_store(exposures, experiments)
    first: dict[tuple[str, int], Seen] = {}
    variants: dict[tuple[str, int], set[str]] = defaultdict(set)
    for s in exposures:
        key = (s.experiment, s.customer_pk)
        variants[key].add(s.variant)
        if key not in first or s.timestamp < first[key].timestamp:
            first[key] = s
    customers = {c for _, c in first}
    customers_lock(customers)
    stored = {(r.experiment.name, r.customer_id): r for r in Exposure.objects.select_related("experiment").filter(
        experiment__in=list(experiments.values()), customer_id__in=list(customers))
        if (r.experiment.name, r.customer_id) in first}
    tally = Tally()
    new = [Exposure(experiment=experiments[name], customer_id=c, variant=s.variant, exposed_at=s.timestamp,
                    is_bot=s.is_bot, conflicting=len(variants[(name, c)]) > 1)
           for (name, c), s in first.items() if (name, c) not in stored]
    Exposure.objects.bulk_create(new)  # no conflict: the visitors' rows are locked
    for row in new:
        tally.add(row)
    changed = []
    for key, row in stored.items():
        tally.remove(row)
        if _merge(row, first[key], variants[key]):
            changed.append(row)
        tally.add(row)
    Exposure.objects.bulk_update(changed, ["variant", "exposed_at", "is_bot", "conflicting"])
    tally.apply()
    _outcomes_refresh(customers)


def _merge(row: Exposure, seen: Seen, variants: set[str]) -> bool:
    """Fold a batch's exposures of one visitor into their stored row; True when it changed."""
    before = (row.variant, row.exposed_at, row.is_bot, row.conflicting)
    if seen.timestamp < row.exposed_at:  # arrived late, but happened first
        variants = variants | {row.variant}
        row.variant, row.exposed_at, row.is_bot = seen.variant, seen.timestamp, seen.is_bot
    row.conflicting = row.conflicting or bool(variants - {row.variant})
    return before != (row.variant, row.exposed_at, row.is_bot, row.conflicting)


def customers_lock(pks: Collection[int]) -> None:
    """PostgreSQL: hold these visitors' exposure locks (sorted, so writers never deadlock on them) until
    the transaction ends: their rows and the sums they add to change under one writer at a time."""
    if connection.vendor != "postgresql" or not pks:
        return
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(815514022, h) FROM (SELECT DISTINCT"
                    " CAST(c %% 2147483647 AS integer) AS h FROM unnest(%s::bigint[]) AS c ORDER BY h) AS s",
                    [sorted(set(pks))])


def exposures_follow_money(*, events: Iterable[StoredEvent]) -> None:
    """Orders, refunds and cancels of exposed visitors: their outcomes are recomputed (a cancel or refund
    sent under another id too: the order's buyers are)."""
    events = [e for e in events if e.action in _MONEY]
    pks = {e.customer_pk for e in events}
    orders = sorted({e.order_id for e in events if e.action != "purchase" and e.order_id is not None})
    for i in range(0, len(orders), _CHUNK):
        pks.update(Event.objects.filter(action="purchase", order_id__in=orders[i:i + _CHUNK])
                   .values_list("customer_id", flat=True).distinct())
    if pks:
        pks.update(Customer.objects.filter(pk__in=list(pks), merged_into__isnull=False)
                   .values_list("merged_into_id", flat=True))
        exposed = set(Exposure.objects.filter(customer_id__in=list(pks)).values_list("customer_id", flat=True))
        if exposed:
            _outcomes_refresh(exposed)


@transaction.atomic
def exposures_link(*, source_pk: int, target_pk: int) -> None:
    """An anonymous visitor (or a previous id) is this customer: their exposures move to the customer;
    where both were exposed to one experiment the first exposure wins, and two variants conflict."""
    if source_pk == target_pk:
        return
    customers_lock([source_pk, target_pk])
    ExposureRecord.objects.filter(customer_id=source_pk).update(customer_id=target_pk)
    moving = list(Exposure.objects.filter(customer_id=source_pk))
    if not moving:
        return
    kept = {r.experiment_id: r for r in Exposure.objects.filter(
        customer_id=target_pk, experiment_id__in=[r.experiment_id for r in moving])}
    tally = Tally()
    for r in moving:
        t = kept.get(r.experiment_id)
        if t is None:
            Exposure.objects.filter(pk=r.pk).update(customer_id=target_pk)
            continue
        conflicting = t.conflicting or r.conflicting or t.variant != r.variant
        tally.remove(t)
        if r.exposed_at < t.exposed_at:
            t.variant, t.exposed_at, t.is_bot = r.variant, r.exposed_at, r.is_bot
        t.conflicting = conflicting
        tally.add(t)
        t.save(update_fields=["variant", "exposed_at", "is_bot", "conflicting"])
        r.delete()  # its sums go with it (tally.exposure_deleted)
    tally.apply()
    _outcomes_refresh([target_pk])


@transaction.atomic
def exposures_after_delete() -> None:
    """Events were deleted in bulk (the demo reset): with none left, the experiments go too (their
    exposures came from those events); else every outcome is recomputed from what is left."""
    if not Event.objects.exists():
        with connection.cursor() as cur:  # in bulk: no per-row upkeep of sums that all go
            for model in (VariantStats, Exposure, ExposureRecord):
                cur.execute(f"DELETE FROM {model._meta.db_table}")
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
    customers_lock(pks)
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
    tally = Tally()
    changed = []
    for row in rows:
        before = (row.converted, row.orders, row.revenue, row.pre_revenue)
        tally.remove(row)
        _outcome(row, by_customer.get(row.customer_id, []), book)
        tally.add(row)
        if (row.converted, row.orders, row.revenue, row.pre_revenue) != before:
            changed.append(row)
    Exposure.objects.bulk_update(changed, ["converted", "orders", "revenue", "pre_revenue"], batch_size=200)
    tally.apply()


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
