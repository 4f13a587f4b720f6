"""Beat tasks of the metrics engine (scheduled by insights/migrations/0002_beat_schedule.py)."""

import logging

from celery import shared_task

from insights.clv.models import ClvFit
from insights.clv.services import NotEnoughData, clv_fit_create
from insights.filters import store_today
from insights.month_copies import month_copies_refresh
from insights.moves.services import MOVES_TASK, history_moves_run
from insights.recategorise import product_category_change
from insights.rfm_store import rfm_refresh
from insights.services import analytics_process_pending, sessions_close_idle
from insights.source_removal import source_remove

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def process_pending_analytics_task() -> int:
    """Re-derive the sessions and carts touched by recently ingested events (every 2 s); run the
    history moves no one has stepped for a minute (their task was lost)."""
    history_moves_run(only_if_stalled=True)
    return analytics_process_pending()


@shared_task(name=MOVES_TASK, ignore_result=True)
def history_moves_task() -> int:
    """Make the queued history moves (identity merges, age changes), step by step (sent when a
    request queues one too large to make at once). Returns the steps made."""
    return history_moves_run()


@shared_task(ignore_result=True)
def close_idle_sessions_task() -> int:
    """Close sessions idle for 30 minutes, settling their carts (every minute)."""
    return sessions_close_idle()


@shared_task(ignore_result=True)
def refresh_rfm_task() -> int:
    """Refresh the kept RFM scores (every minute): catches what changes buyers' figures outside a
    derivation batch (refunds stored at ingest, erasures, merges), and the rollups' copies of closed
    months (``insights.month_copies``). Returns the number of buyers."""
    buyers = rfm_refresh()
    month_copies_refresh()
    return buyers


@shared_task(ignore_result=True)
def fit_clv_task() -> int | None:
    """Refit predicted CLV on the orders up to today (nightly, insights/migrations/0008_clv_nightly_refit.py).

    Too few customers is logged, not raised: the pages say why there are no predictions."""
    try:
        return clv_fit_create(until=store_today(), trigger=ClvFit.Trigger.SCHEDULE).pk
    except NotEnoughData as exc:
        logger.warning("CLV refit skipped: %s", exc)
        return None


@shared_task(ignore_result=True)
def remove_source_task(source_pk: int) -> int:
    """Remove everything one source sent (asked for in admin: "Remove everything the selected sources
    sent"). Returns the number of events removed."""
    result = source_remove(source_pk=source_pk)
    logger.info("source %s removed: %d events in %d steps, %d customers deleted, %d identity records",
                source_pk, result.events, result.steps, result.customers_deleted, result.identity_links)
    return result.events


@shared_task(ignore_result=True)
def recategorise_product_task(product_pk: int, category: str) -> int:
    """Give a product a new category and move its history there (asked for in admin or by the
    catalogue loader). Returns the number of events moved."""
    move = product_category_change(product_pk=product_pk, category=category)
    logger.info("product %s: category %r → %r, %d events and %d sessions moved", product_pk, move.old, move.new,
                move.events, move.sessions)
    return move.events
