"""Exchange rates: importing the ECB's historical file (``rates_import``) and converting a parsed
batch to the store currency (``batches_convert``, called by the ingest service before storing).

An event whose currency has no rate on or before its date is moved to its batch's rejected list
with that reason (``{"currency": reason}``), and so is one whose converted money is beyond what one
event may carry (``wire.money_errors``); the events beside it are kept. ``conversion_gaps``
says the same of missing rates before events are sent (store connections keep such a delivery
until the rate arrives).

The sample rates shipped with the project (``import_rates --sample``) are stored ``is_sample`` and
only into a database without published rates; importing published rates removes them all
(docs/money.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from events import money, wire
from events.models import ExchangeRate
from events.signals import rates_imported


def store_currency() -> str:
    return settings.STORE_CURRENCY


@transaction.atomic
def rates_import(*, rows: Iterable[tuple[date, str, Decimal]], sample: bool = False) -> int:
    """Store (day, currency, per EUR) rates; a day already stored for a currency is replaced.
    ``sample``: the shipped sample rates, marked as such, imported only while no published rate is
    stored (0 rows written otherwise: samples never mix with published rates); published rates
    (``sample=False``) remove every sample rate first. Returns how many rows were written. After the
    commit, ``rates_imported`` is sent (deliveries waiting for a rate are stored)."""
    rows = list(rows)
    if sample and ExchangeRate.objects.filter(is_sample=False).exists():
        return 0
    if not sample:
        ExchangeRate.objects.filter(is_sample=True).delete()
    written = 0
    for i in range(0, len(rows), 2000):
        chunk = rows[i:i + 2000]
        objs = [ExchangeRate(day=d, currency=c, per_eur=r, is_sample=sample) for d, c, r in chunk]
        ExchangeRate.objects.bulk_create(objs, update_conflicts=True, unique_fields=["currency", "day"],
                                         update_fields=["per_eur", "is_sample"], batch_size=500)
        written += len(chunk)
    transaction.on_commit(lambda: rates_imported.send(sender=ExchangeRate))
    return written


def rate_table(*, currencies: Iterable[str], first: date, last: date) -> money.RateTable:
    """The rates of these currencies from the latest one on or before ``first`` up to ``last``."""
    table: dict[str, tuple[list[date], list[Decimal]]] = {}
    for code in sorted(set(currencies) - {money.EUR}):
        rates = ExchangeRate.objects.filter(currency=code)
        start = rates.filter(day__lte=first).aggregate(d=Max("day"))["d"] or first
        rows = list(rates.filter(day__gte=start, day__lte=last).order_by("day").values_list("day", "per_eur"))
        if rows or rates.exists():
            table[code] = ([d for d, _ in rows], [r for _, r in rows])
    return table


def conversion_gaps(events: Sequence[wire.NativeEvent]) -> dict[str, wire.Reason]:
    """The currencies among ``events`` that cannot be converted to the store's on some event's date
    (currency → why not; {} when every event can be)."""
    store = store_currency()
    foreign = [e for e in events if e.currency is not None and e.currency != store]
    if not foreign:
        return {}
    days = [e.timestamp.date() for e in foreign]
    table = rate_table(currencies={*(e.currency or store for e in foreign), store}, first=min(days), last=max(days))
    gaps: dict[str, wire.Reason] = {}
    for e in foreign:
        code = e.currency or store
        if code not in gaps:
            rate = money.rate_between(table, code, store, e.timestamp.date())
            if isinstance(rate, wire.Reason):
                gaps[code] = rate
    return gaps


def batches_convert(batches: Sequence[wire.ParsedBatch]) -> None:
    """Convert every event sent in another currency to the store's, in place (amounts to the cent,
    ``currency`` and ``fx_rate`` kept); refuse those without a rate (moved to ``rejected``)."""
    store = store_currency()
    foreign = [e for b in batches for e in b.events if e.currency is not None and e.currency != store]
    for b in batches:
        for e in b.events:
            if e.currency is None:
                e.currency = store
    if not foreign:
        return
    days = [e.timestamp.date() for e in foreign]
    table = rate_table(currencies={*(e.currency or store for e in foreign), store}, first=min(days), last=max(days))
    for batch in batches:
        if any(e.currency != store for e in batch.events):
            _convert_batch(batch, table, store)


def _convert_batch(batch: wire.ParsedBatch, table: money.RateTable, store: str) -> None:
    kept: list[wire.NativeEvent] = []
    positions: list[int] = []
    for n, e in enumerate(batch.events):
        if e.currency != store:
            rate = money.rate_between(table, e.currency or store, store, e.timestamp.date())
            if isinstance(rate, wire.Reason):
                batch.rejected.append({"index": batch.position(n), "event_id": e.event_id,
                                       "errors": {"currency": rate}})
                continue
            _apply_rate(e, rate)
            errors = wire.money_errors(e, e.price)
            if errors:
                batch.rejected.append({"index": batch.position(n), "event_id": e.event_id,
                                       "errors": {name: wire.Reason(f"converted to {store}: {reason}", reason.code)
                                                  for name, reason in errors.items()}})
                continue
        kept.append(e)
        positions.append(batch.position(n))
    batch.events[:] = kept
    batch.positions[:] = positions
    batch.rejected.sort(key=lambda r: r["index"])


def _apply_rate(e: wire.NativeEvent, rate: Decimal) -> None:
    e.fx_rate = rate
    e.price = money.convert(e.price, rate)
    e.amount = money.convert(e.amount, rate)
    if e.order is not None:
        e.order = e.order.converted(rate)
