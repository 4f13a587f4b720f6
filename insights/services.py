"""Writes for derived analytics: sessions, carts and rollups (the SQL under them:
``insights.session_store`` and ``insights.rollup_store``).

Two steps keep the ingest path cheap (a handful of set-based statements per batch, never per event):

1. ``analytics_apply_events`` runs inside the ingest transaction. It adds the new events' own counters
   to the event-grained rollups (so event counts and revenue are live the moment the batch commits)
   and records, per customer, the time window the batch touched (``PendingWindow``).
2. ``analytics_process_pending`` (the ``process_pending_analytics_task`` beat task, every 2 s)
   re-derives the sessions and carts of those windows with the pure ``insights.derivation`` and
   adjusts the session-grained rollups by the difference (old contribution out, new in). A late event
   re-derives exactly the sessions it touches. ``sessions_close_idle`` (beat, every minute) closes
   sessions idle for 30 minutes the same way, which turns their open carts abandoned or emptied.
   Either sets aside a customer's window it cannot derive and derives the rest (``insights.set_aside``).

``insights.rebuild.analytics_rebuild`` recomputes everything from the events with the same contribution functions.
Every write of derived data takes ``derivation_lock`` first.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers.selectors import customer_age_groups
from events.types import StoredEvent
from events.verification import COUNT_ALL
from insights.contributions import (
    Contributions,
    add_event_contributions,
    add_session_contributions,
    new_contributions,
)
from insights.derivation import CART_OPEN, GAP_KEY, IDLE, DerivedSession, client_key, derive_sessions
from insights.derive_drain import collecting, derive_collected, retention_redo, swap_sql, swap_sql_chunks
from insights.derive_engine import derivation_engine
from insights.filters import store_tz
from insights.models import PendingWindow, Session
from insights.month_copies import month_copies_refresh
from insights.order_changes import cancels_apply, confirmations_apply
from insights.order_store import (
    browser_order_ids,
    browser_orders,
    order_book,
    orders_cancelled,
)
from insights.retention import changed_order_customers
from insights.rfm_store import rfm_refresh_if_due
from insights.rollup_store import (
    customer_order_days,
    derivation_lock,
    product_categories,
    read_statistics_refresh,
    rollups_add,
)
from insights.session_store import (
    Span,
    StoredSession,
    Windows,
    event_names,
    events_in_windows,
    sessions_by_key,
    sessions_close_quietly,
    sessions_delete,
    sessions_in_windows,
    sessions_insert,
    window_widen,
    windows_from_json,
    windows_json,
    windows_merge,
)
from insights.set_aside import (
    WindowFailure,
    due,
    set_aside_customers,
    units_of,
    windows_set_aside,
)

logger = logging.getLogger(__name__)

IDLE_CLOSE_BATCH = 500  # sessions with an open cart closed (re-derived) per transaction
QUIET_CLOSE_BATCH = 5_000  # sessions without one closed (their flag set) per transaction
CUSTOMERS_PER_REDERIVE = 200  # customers whose windows are re-derived in one go (Python engine)
# The SQL engine's statements cost about the same for 200 or 1,000 customers' day-grain rollup rows.
CUSTOMERS_PER_REDERIVE_SQL = 1000
# With helper connections, a drain's customers in at least two chunks per connection (none under this
# size), so a live drain's thousand or two customers are shared too (docs/derivation.md#helper-connections).
CUSTOMERS_PER_SHARED_CHUNK = 250
# Events one drain transaction derives (past its first queued batch): it holds the derivation lock, so
# this bounds how long a live window waits behind a backfill (docs/derivation.md#live-before-bulk).
EVENTS_PER_DRAIN_TRANSACTION = 20_000
_MAX_WINDOW_GROWTH = 20  # rounds of "a stored session reaches beyond the window: widen it"


# --- the ingest hook ------------------------------------------------------------------------------


def analytics_apply_events(*, events: Sequence[StoredEvent]) -> None:
    """Called by the ingest service inside its transaction with the newly stored events (never duplicates).

    Adds their event-grained counters and queues their customers' windows for session re-derivation.
    A cancel takes its order's money (counted before it) out, and queues the windows of its lines; a
    verified order does the same for the browser lines of its id it confirms (``insights.order_changes``).
    Runs in the caller's transaction (no atomic block of its own: it must commit or roll back with the
    events)."""
    if not events:
        return
    contributions = new_contributions()
    age_of = customer_age_groups(customer_pks=(e.customer_pk for e in events))
    tz = store_tz()
    add_event_contributions(contributions, events, age_of=age_of, book=order_book(events),
                            category_of=product_categories(e.product_pk for e in events), tz=tz)
    # A new event's window names its client session (none: the idle-gap sessions it reaches).
    spans: list[Span] = [(e.customer_pk, e.timestamp, e.timestamp, event_names(e.session_id)) for e in events]
    spans += cancels_apply(contributions, events, tz)
    spans += confirmations_apply(contributions, events, tz)
    pending_windows_queue(spans=spans, events=len(events))  # first: the rollups' rows are held until commit
    # Discounts and refunds are in the cohorts' net revenue: the customers they touch get theirs redone.
    _rollups_add_with_retention(contributions, age_of)


def pending_windows_queue(*, spans: Iterable[Span], events: int) -> None:
    """Queue these customers' time spans for session re-derivation (``analytics_process_pending``)."""
    windows = windows_merge(spans)
    if windows:
        PendingWindow.objects.create(windows=windows_json(windows), events=events)


# --- session re-derivation ---------------------------------------------------------------------


@dataclass
class _SessionReach:
    """The stored sessions a re-derivation replaces, and the customers' windows grown to cover them."""

    windows: Windows
    stored: dict[int, StoredSession] = field(default_factory=dict)

    def include(self, found: Iterable[StoredSession]) -> bool:
        """Add these sessions; True when one reached beyond its customer's window (which grew)."""
        grew = False
        for s in found:
            if s.pk in self.stored:
                continue
            self.stored[s.pk] = s
            grew = window_widen(self.windows, s.customer_id, s.started_at, s.last_event_at) or grew
        return grew


def _sessions_reached(windows: Windows) -> tuple[_SessionReach, list[StoredEvent]]:
    """The stored sessions touching these windows and every event they and the windows span."""
    reach = _SessionReach(dict(windows))
    events: list[StoredEvent] = []
    for _ in range(_MAX_WINDOW_GROWTH):
        # Grow each window until no stored session overlaps its edges (within 30 minutes).
        while reach.include(sessions_in_windows(reach.windows)):
            pass
        events = events_in_windows(reach.windows)
        # A client session id seen here may have older events beyond the window: take its whole span.
        known = {(s.customer_id, s.key) for s in reach.stored.values()}
        missing = {(e.customer_pk, client_key(e.session_id)) for e in events if e.session_id} - known
        if not missing or not reach.include(sessions_by_key(missing)):
            break
    return reach, events


def _sessions_rederive(windows: Windows, *, as_of: dt.datetime) -> None:
    """Re-derive every session of these customers' windows; replace the changed ones; adjust rollups."""
    if derivation_engine() == "sql":  # the same, set-based (docs/derivation.md): rollups once a drain
        swap_sql(windows, customer_age_groups(customer_pks=windows), as_of=as_of)
        return
    reach, events = _sessions_reached(windows)
    ages = customer_age_groups(customer_pks=reach.windows)
    stored = {(s.customer_id, s.key): s for s in reach.stored.values()}
    cancelled = orders_cancelled({e.order_id for e in events if e.order_id is not None and e.action == "purchase"})
    browser = browser_orders(browser_order_ids(events)) if any(e.browser and e.action == "purchase"
                                                               for e in events) else COUNT_ALL
    derived = {(d.customer_pk, d.key): d
               for d in derive_sessions(events, as_of=as_of, cancelled=cancelled, browser=browser)}
    unchanged = {k for k, s in stored.items()
                 if k in derived and s.summary == derived[k].to_json() and s.age_group == ages.get(k[0], "unknown")}
    gone = [s for k, s in stored.items() if k not in unchanged]
    fresh = [d for k, d in derived.items() if k not in unchanged]
    if gone or fresh:
        _sessions_replace(gone, fresh, ages)


def _sessions_replace(gone: Sequence[StoredSession], fresh: Sequence[DerivedSession], ages: dict[int, str]) -> None:
    """Take the old sessions' contributions out and the new ones' in; swap the stored rows."""
    sessions_delete([s.pk for s in gone])
    sessions_insert(fresh, ages)
    _contributions_swap([(DerivedSession.from_json(s.summary), s.age_group) for s in gone],
                        [(d, ages.get(d.customer_pk, "unknown")) for d in fresh], ages)


def _contributions_swap(old: Sequence[tuple[DerivedSession, str]], fresh: Sequence[tuple[DerivedSession, str]],
                        ages: dict[int, str]) -> None:
    """Take the old sessions' contributions out of the rollups and put the new ones' in."""
    category_of = product_categories([*(pk for d, _ in old for pk in d.products),
                                      *(pk for d, _ in fresh for pk in d.products)])
    contributions = new_contributions()
    tz = store_tz()
    add_session_contributions(contributions, old, category_of=category_of, tz=tz, sign=-1)
    add_session_contributions(contributions, fresh, category_of=category_of, tz=tz, sign=1)
    _rollups_add_with_retention(contributions, ages)


def _rollups_add_with_retention(contributions: Contributions, ages: dict[int, str]) -> None:
    """Add session contributions; where they change a customer's order days, replace the customer's
    retention contribution (``insights.retention``: computed from all their order days, before and after)."""
    changed = changed_order_customers(contributions)
    before = customer_order_days(changed) if changed else {}
    rollups_add(contributions)
    retention_redo(changed, before, ages)


def _rederive_by_customer_chunks(windows: Windows, *, as_of: dt.datetime, helpers: bool = False) -> None:
    """``helpers``: this transaction has changed none of these customers' events or sessions, so helper
    connections may derive chunks too (SQL engine: ``insights.derive_drain.swap_sql_chunks``)."""
    customers = sorted(windows)
    sql = derivation_engine() == "sql"
    size = CUSTOMERS_PER_REDERIVE_SQL if sql else CUSTOMERS_PER_REDERIVE
    if sql and helpers and settings.DERIVATION_WORKERS > 0:
        shared = -(-len(customers) // (2 * (settings.DERIVATION_WORKERS + 1)))
        size = min(size, max(CUSTOMERS_PER_SHARED_CHUNK, shared))
    chunks = [{c: windows[c] for c in customers[i:i + size]} for i in range(0, len(customers), size)]
    if sql and helpers:
        swap_sql_chunks(chunks, as_of=as_of)
        return
    for chunk in chunks:
        _sessions_rederive(chunk, as_of=as_of)


def pending_take(now: dt.datetime, *, max_rows: int,
                 max_events: int = EVENTS_PER_DRAIN_TRANSACTION) -> tuple[list[tuple[int, dict, int]], bool]:
    """The queued windows one drain transaction derives: the smallest batches first (a live visitor's
    few events before a backfill's thousands, docs/derivation.md#live-before-bulk), at most
    ``max_rows`` rows and, past the first row, at most ``max_events`` events; and whether more are due."""
    rows = list(due(now).order_by("events", "id").values_list("id", "windows", "attempts", "events")[:max_rows])
    taken: list[tuple[int, dict, int]] = []
    events = 0
    for pk, windows, attempts, n in rows:
        if taken and events + n > max_events:
            return taken, True
        taken.append((pk, windows, attempts))
        events += n
    return taken, len(rows) == max_rows


@transaction.atomic
def _pending_windows_process(*, max_rows: int, as_of: dt.datetime, now: dt.datetime) -> tuple[int, bool]:
    """Derive the queued windows ``pending_take`` takes (merged) and set-aside ones now due (each alone);
    set aside each customer's window that fails. Returns how many rows, and whether more are due."""
    derivation_lock()
    pending, more = pending_take(now, max_rows=max_rows)
    if not pending:
        return 0, False
    # Helper connections see only what is committed: they may derive the first windows this transaction
    # derives (nothing of theirs changed yet) when it is not nested in another (a test's, a caller's).
    helpers = [len(connection.atomic_blocks) == 1]

    def derive(windows: Windows) -> None:
        use, helpers[0] = helpers[0], False
        _rederive_by_customer_chunks(windows, as_of=as_of, helpers=use)

    # the queued windows together, each set-aside one alone; with the SQL engine, one rollup step for all
    groups = [units_of(windows_from_json(w for _, w, n in pending if not n))]
    groups += [units_of(windows_from_json([windows]), attempts) for _, windows, attempts in pending if attempts]
    failures: list[WindowFailure] = derive_collected(groups, derive)
    PendingWindow.objects.filter(id__in=[pk for pk, _, _ in pending]).delete()
    windows_set_aside(failures, now=now)
    return len(pending), more


def analytics_process_pending(*, max_rows: int | None = None, as_of: dt.datetime | None = None) -> int:
    """Process every queued window and every set-aside one due again (in chunks, one transaction
    each). Returns how many were processed (derived, or set aside again)."""
    total = 0
    max_rows = max_rows or settings.DRAIN_ROWS_PER_TRANSACTION
    read_statistics_refresh()  # after a bulk load, before its windows are derived
    while True:
        now = timezone.now()
        n, more = _pending_windows_process(max_rows=max_rows, as_of=as_of or now, now=now)
        total += n
        if not more:
            if total:
                rfm_refresh_if_due()  # the kept RFM scores follow the derived figures (insights.rfm_store)
                month_copies_refresh()  # the rollups' copies of closed months (insights.month_copies)
            return total


def sessions_close_idle(*, as_of: dt.datetime | None = None) -> int:
    """Close sessions idle for 30 minutes (their open carts become abandoned or emptied)."""
    as_of = as_of or timezone.now()
    closed = 0

    def derive(windows: Windows) -> None:
        _sessions_rederive(windows, as_of=as_of)

    while True:
        with transaction.atomic():
            derivation_lock()
            # A customer with a set-aside window waits for its retry (which closes its idle sessions too).
            waiting = set_aside_customers()
            # Without an open cart a session's closing changes only its flag; with one, its cart's outcome.
            quiet = sessions_close_quietly(idle_before=as_of - IDLE, exclude=waiting, limit=QUIET_CLOSE_BATCH)
            rows = (Session.objects.filter(closed=False, last_event_at__lte=as_of - IDLE, cart__state=CART_OPEN)
                    .exclude(customer_id__in=waiting).order_by("last_event_at")
                    .values_list("customer_id", "started_at", "last_event_at", "key")[:IDLE_CLOSE_BATCH])
            # each names its own session: the customer's other client sessions are not re-derived
            spans: list[Span] = [(c, lo, hi, frozenset(() if key.startswith(GAP_KEY) else (key,)))
                                 for c, lo, hi, key in rows]
            closed += quiet + len(spans)
            if spans:
                windows_set_aside(derive_collected([units_of(windows_merge(spans))], derive), now=timezone.now())
            elif not quiet:
                return closed


# --- for history changes (insights.upkeep, insights.source_removal, insights.recategorise) -------


def rollups_add_counted(contributions: Contributions, ages: dict[int, str]) -> None:
    """Add contributions; the retention rollups of the customers whose order days they change are redone."""
    _rollups_add_with_retention(contributions, ages)


def spans_rederive(*, spans: Iterable[Span], as_of: dt.datetime) -> None:
    """Re-derive these customers' time spans now, in the caller's transaction (which holds the
    derivation lock): their stored sessions are replaced and the rollups adjusted."""
    windows = windows_merge(spans)
    if windows:
        with collecting():
            _rederive_by_customer_chunks(windows, as_of=as_of)


# --- logout ----------------------------------------------------------------------------------------


def dashboard_session_end(*, session_key: str | None) -> None:
    """Close the dashboard sockets opened with this login session (called on logout).

    Best effort: a channel layer that is down must not fail the logout. Sockets that do not hear it
    (another process on the in-memory layer) still stop, because each reads its session again
    before every push."""
    if not session_key:
        return
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from insights.consumers import session_group

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.ended"})
    except Exception:  # noqa: BLE001 - the logout itself has happened; sockets re-check their session
        logger.exception("closing dashboard sockets on logout failed")
