"""Re-derive every experiment's exposures, outcomes and sums from the exposures sent (docs/experiments.md)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from experiments.rebuild import exposures_rebuild


class Command(BaseCommand):
    help = ("Re-derive each experiment's per-visitor exposures (first variant, conflicts, outcomes) and its "
            "per-variant sums from the exposures as sent and the visitors' orders (idempotent).")

    def add_arguments(self, parser):
        parser.add_argument("--experiment", action="append", default=None, help="only this experiment (repeatable)")

    def handle(self, *args, **options):
        from experiments.models import Experiment

        started = time.perf_counter()
        pks = None
        if options["experiment"]:
            pks = list(Experiment.objects.filter(name__in=options["experiment"]).values_list("pk", flat=True))

        def progress(name: str, n: int) -> None:
            self.stdout.write(f"{name}: {n:,} visitors")

        total = exposures_rebuild(experiment_pks=pks, progress=progress)
        self.stdout.write(self.style.SUCCESS(f"Rebuilt {total:,} exposures in {time.perf_counter() - started:.1f} s."))
