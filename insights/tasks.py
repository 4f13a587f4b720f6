"""Beat tasks of the metrics engine (scheduled by insights/migrations/0002_beat_schedule.py)."""

from celery import shared_task

from insights.services import analytics_process_pending, sessions_close_idle


@shared_task(ignore_result=True)
def process_pending_analytics_task() -> int:
    """Re-derive the sessions and carts touched by recently ingested events (every 2 s)."""
    return analytics_process_pending()


@shared_task(ignore_result=True)
def close_idle_sessions_task() -> int:
    """Close sessions idle for 30 minutes, settling their carts (every minute)."""
    return sessions_close_idle()
