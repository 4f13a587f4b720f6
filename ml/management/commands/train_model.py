"""manage.py train_model: train, evaluate and record a purchase-likelihood model version."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ml.bounds import TrainingLimitExceeded
from ml.models import ModelVersion
from ml.services import model_train
from ml.training import DEFAULT_MIN_CARTS, NotEnoughData


def metrics_table(version: ModelVersion) -> str:
    m = version.metrics
    chosen = (m.get("choice") or {}).get("label", "random forest")
    rows = [(f"{chosen} *"[:20], m["model"]), ("logistic regression", m["baselines"]["logistic_regression"]),
            ("base rate", m["baselines"]["base_rate"])]
    head = f"{'model':<20} {'ROC AUC':>8} {'PR AUC':>8} {'Brier':>7} {'thresh':>7} {'prec':>7} {'recall':>7}"
    lines = [head, "-" * len(head)]

    def f(x):
        return "     n/a" if x is None else f"{x:8.4f}"

    for name, s in rows:
        lines.append(f"{name:<20} {f(s['roc_auc'])} {f(s['pr_auc'])} {s['brier']:7.4f} {s['threshold']:7.2f} "
                     f"{s['precision']:7.4f} {s['recall']:7.4f}")
    lines.append("")
    if m.get("families"):
        lines.append("families (holdout log loss [95% interval], fit seconds, peak MB):")
        for name, report in m["families"].items():
            loss, used = report["metrics"]["log_loss"], m.get("resources", {}).get(name, {})
            lines.append(f"  {report['label']:<24} {loss['value']:.4f} [{loss['low']:.4f}, {loss['high']:.4f}] "
                         f"{used.get('seconds', 0):6.1f} s {used.get('peak_mb', 0):7.1f} MB")
        lines.append(f"* chosen: {m['choice']['reason']}")
        lines.append("")
    lines.append("top permutation importances of the chosen model (holdout ROC AUC drop):")
    for r in m["importances"][:8]:
        lines.append(f"  {r['feature']:<24} {r['importance']:+.4f} ± {r['std']:.4f}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = ("Train the purchase-likelihood model on carts with a known outcome (time-based holdout: the newest "
            "20%), print its metrics beside the baselines, and record a ModelVersion. It becomes active unless "
            "its holdout ROC AUC is worse than the active version's by more than 0.01.")

    def add_arguments(self, parser):
        parser.add_argument("--since", type=dt.date.fromisoformat, default=None,
                            help="Only carts opened on or after this date (YYYY-MM-DD); history still counts.")
        parser.add_argument("--min-carts", type=int, default=DEFAULT_MIN_CARTS,
                            help=f"Refuse to train with fewer carts (default {DEFAULT_MIN_CARTS}).")
        parser.add_argument("--if-none-active", action="store_true",
                            help="Do nothing when a model version is already active (make run: a first model "
                                 "for the demo).")

    def handle(self, *args, since=None, min_carts=DEFAULT_MIN_CARTS, verbosity=1, if_none_active=False, **options):
        if if_none_active and ModelVersion.objects.filter(is_active=True).exists():
            self.stdout.write("A model version is active already; nothing to do.")
            return
        started = time.perf_counter()
        bar = tqdm(total=None, desc="train_model", unit="step", disable=verbosity < 1, file=self.stderr._out)

        def progress(message: str) -> None:
            bar.set_postfix_str(message[:70])
            bar.update(1)
            if verbosity >= 1:
                bar.write(f"[{time.perf_counter() - started:6.1f}s] {message}")

        try:
            version = model_train(since=since, min_carts=min_carts, trigger=ModelVersion.Trigger.COMMAND,
                                  progress=progress)
        except NotEnoughData as exc:
            raise CommandError(f"Not enough data to train: {exc}") from exc
        except TrainingLimitExceeded as exc:
            raise CommandError(f"{exc} (see ML_TRAIN_* in docs/configuration.md)") from exc
        finally:
            bar.close()
        if verbosity >= 1:
            self.stdout.write(metrics_table(version))
            self.stdout.write("")
        self.stdout.write(f"version v{version.pk}: {version.carts_count} carts ({version.train_rows} train, "
                          f"{version.test_rows} holdout from {version.split_at:%Y-%m-%d %H:%M}), "
                          f"{version.events_count} events, {version.duration_seconds:.1f}s")
        style = self.style.SUCCESS if version.is_active else self.style.WARNING
        self.stdout.write(style(version.decision))
