"""manage.py fit_clv: fit BG/NBD + Gamma-Gamma on the orders, store the predictions, print the fit."""

from __future__ import annotations

import datetime as dt
import json
import time

from django.core.management.base import BaseCommand, CommandError

from insights.clv.models import ClvFit
from insights.clv.services import NotEnoughData, clv_fit_create
from insights.filters import store_today


def fit_report(fit: ClvFit) -> str:
    """The parameters (BG/NBD α per day and per week; r, a, b have no unit) and diagnostics, as text."""
    p, d = fit.parameters, fit.diagnostics
    lines = [f"CLV fit {fit.pk} ({fit.model_version}) on orders up to {fit.until}: {fit.customers} customers, "
             f"{fit.repeat_customers} with a repeat order",
             f"BG/NBD       r {p['r']:.4f}  alpha {p['alpha']:.4f} days = {p['alpha_weeks']:.4f} weeks  "
             f"a {p['a']:.4f}  b {p['b']:.4f}  (log-likelihood {d['bgnbd']['log_likelihood']:.2f}, "
             f"converged {d['bgnbd']['converged']})"]
    if "p" in p:
        gg = d["gamma_gamma"]
        lines.append(f"Gamma-Gamma  p {p['p']:.4f}  q {p['q']:.4f}  gamma {p['gamma']:.4f}  "
                     f"(on {gg['customers']} repeat buyers, log-likelihood {gg['log_likelihood']:.2f})")
    else:
        lines.append(f"Gamma-Gamma  not fitted: {d.get('gamma_gamma', {}).get('error', d.get('order_value'))}")
    holdout = d.get("holdout", {})
    if "rows" in holdout:
        lines.append(f"Holdout check: calibration to {holdout['calibration_end']}, {holdout['holdout_days']} days "
                     f"held out; repeat orders expected {holdout['predicted_total']:.0f}, "
                     f"actual {holdout['actual_total']:.0f}")
    else:
        lines.append(f"Holdout check: {holdout.get('error', 'not run')}")
    lines.append(f"Fit time {d['fit_seconds']} s")
    return "\n".join(lines)


class Command(BaseCommand):
    help = ("Fit BG/NBD + Gamma-Gamma (predicted CLV, P(alive), next order) on the orders up to --until "
            "(default today), store every buyer's predictions and print the parameters (BG/NBD time in days; "
            "alpha also in weeks) and diagnostics.")

    def add_arguments(self, parser):
        parser.add_argument("--until", type=dt.date.fromisoformat, default=None,
                            help="Use orders on or before this store day (YYYY-MM-DD; default today).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the fit as JSON.")

    def handle(self, *args, until=None, as_json=False, verbosity=1, **options):
        started = time.perf_counter()

        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(f"[{time.perf_counter() - started:6.1f}s] {message}")

        try:
            fit = clv_fit_create(until=until or store_today(), trigger=ClvFit.Trigger.COMMAND, progress=progress)
        except NotEnoughData as exc:
            raise CommandError(f"Not enough data to fit: {exc}") from exc
        if as_json:
            self.stdout.write(_as_json(fit))
        else:
            self.stdout.write(fit_report(fit))


def _as_json(fit: ClvFit) -> str:
    return json.dumps({"fit": fit.pk, "model_version": fit.model_version, "until": fit.until.isoformat(),
                       "customers": fit.customers, "repeat_customers": fit.repeat_customers,
                       "time_unit": "days", "parameters": fit.parameters, "diagnostics": fit.diagnostics},
                      indent=2)
