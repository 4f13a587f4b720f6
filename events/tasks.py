"""Celery tasks of the events app."""

from __future__ import annotations

from celery import shared_task

from events.simulation import simulator_tick


@shared_task(ignore_result=True)
def simulate_tick_task() -> int:
    """Run by Celery beat (every 5 s by default; django-celery-beat PeriodicTask, editable in
    admin): emit the live simulator's next slice of events. Returns how many were sent."""
    return simulator_tick().sent
