"""manage.py train_predictions: train and score the customer predictions (purchase and churn in 7 days)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ml.prediction_services import predictions_refresh


class Command(BaseCommand):
    help = ("Train the customer predictions (purchase in the next 7 days, no activity in the next 7 days) on "
            "weekly cut-offs, score the customers active in the last 28 days and refresh the stored predictions. "
            "A target below GA4's eligibility (ML_PREDICTION_MIN_POSITIVES / _NEGATIVES) is not trained.")

    def handle(self, *args, **options):
        verbose = options["verbosity"] >= 1
        run = predictions_refresh(progress=self.stdout.write if verbose else None)
        for target, state in run.targets.items():
            chosen = (state.get("choice") or {}).get("label", "—")
            self.stdout.write(f"{target}: {state['reason']}; model: {chosen}")
        self.stdout.write(f"{run.scored_count:,} customers scored in {run.duration_seconds} s")
