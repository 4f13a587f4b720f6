"""The rollup step of a re-derivation with the SQL engine, once per drain (docs/derivation.md).

Every batch of customers swaps its sessions into ``dv_ds``/``dv_dp`` (``insights.derive_sql_delta``);
the rollups, product pairs, people bitmaps and retention are added once, when the drain's windows are all
swapped (``derive_collected``), so each day-grain rollup row is written once per drain instead of once per
batch. A window whose swap fails is set aside as before (``insights.set_aside.derive_isolating``: its
savepoint's rollback takes its rows out of ``dv_ds`` too). When the final rollup step itself fails, the
whole drain is rolled back to its savepoint and derived again with the rollups inside each window's
savepoint, so the failing window is set aside and nothing is lost or counted twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from customers.selectors import customer_age_groups
from insights.contributions import new_contributions
from insights.derive_engine import derivation_engine
from insights.derive_helpers import Batch, Helpers, Plan, batches_derive
from insights.derive_sql import INCREMENTAL_SETTINGS, derive_into_temp
from insights.derive_sql_delta import pair_rollups_add, sessions_swap_derived, sessions_swap_direct
from insights.derive_sql_rollups import (
    deltas_pending,
    deltas_reset,
    order_days_changed,
    session_deltas_prepare,
    session_rollups_add,
)
from insights.filters import store_tz
from insights.retention import add_retention_contributions
from insights.rollup_store import customer_order_days, people_days_refresh, rollups_add
from insights.session_store import Windows
from insights.set_aside import WindowFailure, WindowUnit, derive_isolating, transient

logger = logging.getLogger(__name__)

_COLLECTING: ContextVar[bool] = ContextVar("insights_derive_collecting", default=False)


def swap_sql(windows: Windows, ages: Mapping[int, str], *, as_of: dt.datetime,
             derived: Callable[[], None] | None = None) -> None:
    """Swap these windows' sessions (SQL engine; ``derived``: fills ``dv_old``, ``dv_s`` and ``dv_p`` with
    what a helper connection derived for them); their rollups are added now, or at the end of the
    collecting scope this runs in."""
    collecting = _COLLECTING.get()
    if not collecting:
        deltas_reset()
    if derived is None:
        sessions_swap_direct(windows, ages, as_of=as_of, tz=store_tz())
    else:
        derived()
        sessions_swap_derived(store_tz())
    if not collecting:
        deltas_flush()


def swap_sql_chunks(chunks: Sequence[Windows], *, as_of: dt.datetime) -> None:
    """``swap_sql`` of each chunk of customers, the chunks derived by ``DERIVATION_WORKERS`` helper
    connections as well as by this one (``insights.derive_helpers``). Only where this transaction has
    changed none of these customers' events or sessions yet: helpers see what is committed."""

    def helper(cur: Any, batch: Batch) -> None:
        chunk = chunks[batch.number]
        derive_into_temp(chunk, customer_age_groups(customer_pks=chunk), as_of=as_of)

    def own(batch: Batch) -> None:
        chunk = chunks[batch.number]
        swap_sql(chunk, customer_age_groups(customer_pks=chunk), as_of=as_of)

    def staged(helpers: Helpers, batch: Batch) -> None:
        def take() -> None:
            with connection.cursor() as cur:
                helpers.take(cur, batch)

        swap_sql(chunks[batch.number], {}, as_of=as_of, derived=take)

    plan = Plan(helper, {"dv_old": "id, c, k", "dv_s": "c, k", "dv_p": "c, k"}, INCREMENTAL_SETTINGS)
    batches_derive([Batch(n) for n in range(len(chunks))], workers=settings.DERIVATION_WORKERS, plan=plan,
                   own=own, staged=staged)


def deltas_flush() -> None:
    """Add the contributions of ``dv_ds``'s sessions: rollups, product pairs, people bitmaps, retention."""
    if not deltas_pending():
        return
    session_deltas_prepare()
    changed = order_days_changed()
    before = customer_order_days(changed) if changed else {}
    flipped = session_rollups_add()
    pair_rollups_add()
    people_days_refresh(flipped)
    retention_redo(changed, before, {})
    deltas_reset()


@contextmanager
def collecting() -> Iterator[None]:
    """Swaps inside add their rollups once, at the end (the caller's transaction holds the derivation lock)."""
    if _COLLECTING.get() or derivation_engine() != "sql":  # within one already (its end adds them), or Python
        yield
        return
    token = _COLLECTING.set(True)
    try:
        deltas_reset()
        yield
        deltas_flush()
    finally:
        _COLLECTING.reset(token)


def derive_collected(groups: Sequence[Sequence[WindowUnit]],
                     derive: Callable[[Windows], None]) -> list[WindowFailure]:
    """``derive_isolating`` of each group of units; with the SQL engine the rollups are added once for all
    of them, and when that fails, window by window (each in its own savepoint)."""
    if derivation_engine() == "sql" and not _COLLECTING.get():
        try:
            with transaction.atomic(), collecting():
                return [f for units in groups for f in derive_isolating(units, derive)]
        except Exception as exc:
            if transient(exc):
                raise
            logger.warning("adding a drain's rollups failed; deriving its windows one savepoint each: %s",
                           str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return [f for units in groups for f in derive_isolating(units, derive)]


def retention_redo(changed: set[int], before: dict[int, list], ages: dict[int, str]) -> None:
    """Replace the retention contribution of these customers (their order days changed: ``before``, now)."""
    if changed:
        missing = changed - ages.keys()
        if missing:
            ages = {**customer_age_groups(customer_pks=missing), **ages}
        retention = new_contributions()
        add_retention_contributions(retention, before, age_of=ages, sign=-1)
        add_retention_contributions(retention, customer_order_days(changed), age_of=ages, sign=1)
        rollups_add(retention)
