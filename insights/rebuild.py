"""The full rebuild: sessions, carts and every rollup recomputed from the events (docs/derivation.md).

It is the reference for incremental upkeep (``insights.services``): after any sequence of ingests,
late events, merges and erasures, the incrementally kept rollups equal what this recomputes. With the SQL
engine (PostgreSQL) the same is computed set-based (``insights.rebuild_sql``); this Python path stays the
reference (the SQL rebuild's test oracle) and the SQLite path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from insights.contributions import add_event_contributions, add_session_contributions, new_contributions
from insights.derivation import derive_sessions
from insights.derive_engine import derivation_engine
from insights.filters import store_tz
from insights.month_copies import month_copies_refresh
from insights.moves.models import HistoryMove
from insights.order_store import full_order_book
from insights.rebuild_sql import analytics_rebuild_sql
from insights.retention import add_retention_contributions, order_day_value, order_days_from_rows
from insights.rfm_store import rfm_refresh
from insights.rollup_store import (
    DERIVED_MODELS,
    derivation_lock,
    derived_statistics_refresh,
    product_categories,
    read_statistics_refresh,
    rollups_add,
    rows_delete,
)
from insights.session_store import events_by_customer_batches, sessions_insert


@transaction.atomic
def analytics_rebuild(*, as_of: dt.datetime | None = None,
                      progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Recompute sessions, carts and every rollup from the events (the reference for incremental upkeep)."""
    derivation_lock()
    read_statistics_refresh()  # the batches read the events by customer (after a bulk load: not yet analysed)
    as_of = as_of or timezone.now()
    for model in DERIVED_MODELS:
        rows_delete(model)
    # Age moves under way are done by this: every event counts in its customer's group from here.
    HistoryMove.objects.filter(kind=HistoryMove.Kind.AGE, finished_at__isnull=True, started_at__isnull=False
                               ).update(finished_at=as_of)
    if derivation_engine() == "sql":  # set-based (docs/derivation.md#rebuild)
        result = analytics_rebuild_sql(as_of=as_of, progress=progress)
    else:
        result = _rebuild_python(as_of=as_of, progress=progress)
    derived_statistics_refresh()
    month_copies_refresh()
    return result


def _rebuild_python(*, as_of: dt.datetime, progress: Callable[[int], None] | None) -> dict[str, int]:
    tz = store_tz()
    category_of = product_categories(None)
    ages = dict(Customer.objects.values_list("pk", "age_group"))
    contributions = new_contributions()
    book = full_order_book()
    n_events = n_sessions = 0
    for batch in events_by_customer_batches():  # whole customers: their sessions are complete
        add_event_contributions(contributions, batch, age_of=ages, category_of=category_of, tz=tz, book=book)
        derived = derive_sessions(batch, as_of=as_of, cancelled=book.cancelled, browser=book.browser)
        add_session_contributions(contributions, [(d, ages.get(d.customer_pk, "unknown")) for d in derived],
                                  category_of=category_of, tz=tz)
        sessions_insert(derived, ages)
        n_events += len(batch)
        n_sessions += len(derived)
        if progress:
            progress(len(batch))
    add_retention_contributions(contributions, order_days_from_rows(
        (customer, day, counters.get("orders", 0), order_day_value(counters))
        for (day, customer), counters in contributions["customers_daily"].items()), age_of=ages)
    rollups_add(contributions)
    rfm_refresh()
    return {"events": n_events, "sessions": n_sessions}
