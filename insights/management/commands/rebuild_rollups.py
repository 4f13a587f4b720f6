"""Recompute sessions, carts and every rollup from the events."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from events.models import Event
from insights.rebuild import analytics_rebuild


class Command(BaseCommand):
    help = "Recompute sessions, carts and all rollup tables from the event table (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, **options):
        started = time.perf_counter()
        total = Event.objects.count()
        with tqdm(total=total, unit="ev", disable=options["no_progress"] or not total) as bar:
            result = analytics_rebuild(progress=bar.update)
        self.stdout.write(self.style.SUCCESS(
            f"Rebuilt from {result['events']:,} events: {result['sessions']:,} sessions "
            f"in {time.perf_counter() - started:.1f} s."))
