"""Remove everything one source sent, with progress (docs/trust.md: Removing a source)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from events.models import Event, Source
from insights.source_removal import RemovalStep, source_remove


class Command(BaseCommand):
    help = ("Remove everything one source (a key, a store connection, an import run; see admin → Sources) sent: "
            "its key is revoked or its connection deactivated, its events deleted in steps and every figure "
            "re-derived. Safe to run again after an interruption.")

    def add_arguments(self, parser):
        parser.add_argument("source_id", type=int, help="The source's id (admin → Sources).")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, **options):
        source = Source.objects.filter(pk=options["source_id"]).first()
        if source is None:
            raise CommandError(f"No source with id {options['source_id']}.")
        total = Event.objects.filter(source_id=source.pk).count()
        self.stdout.write(f"Removing {source} ({total:,} events).")
        started = time.perf_counter()
        with tqdm(total=total, unit="ev", disable=options["no_progress"] or not total) as bar:
            def advance(step: RemovalStep) -> None:
                bar.update(step.events)

            result = source_remove(source_pk=source.pk, progress=advance)
        self.stdout.write(self.style.SUCCESS(
            f"Removed {result.events:,} events in {result.steps} steps ({time.perf_counter() - started:.1f} s); "
            f"{result.customers_deleted:,} customers left empty deleted; {result.identity_links:,} identify/alias "
            f"records deleted ({result.merges_kept:,} merges they made are kept)."))
