"""Fitting from the database: the CDNOW sample imported through ``import_events`` gives the published
parameters through ``fit_clv --until 1997-09-30``; predictions are stored per customer with the fit.
Every test here sees the sample, imported once for the module (conftest ``cdnow_imported``); the fit on
an empty database is in test_services_empty.py."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command

from customers.models import Customer
from insights.clv.models import ClvFit, ClvPrediction
from insights.clv.services import KEEP_PREDICTION_SETS, clv_fit_create, clv_transactions
from tests.insights.clv.cdnow import BGNBD_PUBLISHED, CALIBRATION_END, GAMMA_GAMMA_PUBLISHED, within

pytestmark = pytest.mark.django_db


def fit_json(*args: str) -> dict:
    out, err = StringIO(), StringIO()
    call_command("fit_clv", *args, "--json", stdout=out, stderr=err)
    assert "order days of 2357 customers" in err.getvalue()  # progress goes to stderr
    return json.loads(out.getvalue())


def test_fit_clv_on_the_imported_cdnow_sample_prints_the_published_parameters(cdnow_imported):
    printed = fit_json("--until", "1997-09-30")
    params = printed["parameters"]
    # BG/NBD is fitted in days; α in weeks is printed beside it (r, a, b have no unit).
    weeks = {"r": params["r"], "alpha": params["alpha_weeks"], "a": params["a"], "b": params["b"]}
    assert within(weeks, BGNBD_PUBLISHED) == {}
    assert params["alpha"] == pytest.approx(params["alpha_weeks"] * 7)
    assert within({"p": params["p"], "q": params["q"], "v": params["gamma"]}, GAMMA_GAMMA_PUBLISHED) == {}
    assert (printed["customers"], printed["repeat_customers"]) == (2357, 946)
    assert printed["diagnostics"]["gamma_gamma"]["customers"] == 946

    # The same fit, as text: units said.
    out = StringIO()
    call_command("fit_clv", "--until", "1997-09-30", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert f"alpha {params['alpha']:.4f} days = {params['alpha_weeks']:.4f} weeks" in text
    assert "r 0.24" in text and "p 6.2" in text


def test_predictions_are_stored_for_every_buyer_with_the_fit(cdnow_imported):
    fit = clv_fit_create(until=CALIBRATION_END, trigger=ClvFit.Trigger.TEST)
    assert fit.predictions.count() == 2357
    counts = {t: fit.predictions.filter(tier=t).count() for t in ("high", "medium", "low")}
    assert counts["high"] == 236  # ceil(10% of 2,357)
    assert counts["low"] >= 942  # floor(40%), plus any zero predicted value
    assert sum(counts.values()) == 2357
    first = ClvPrediction.objects.get(fit=fit, customer__external_id="00004")
    assert (first.orders, first.last_order) == (3, dt.date(1997, 8, 2))
    assert 0 < first.p_alive < 1 and first.orders_365 > first.orders_90 > 0
    assert first.clv_12m == pytest.approx(first.orders_365 * first.order_value)
    assert first.p_alive_before is None  # no fit before
    # Holdout check: calibration to a third of the history before, at most 90 days held out.
    holdout = fit.diagnostics["holdout"]
    assert holdout["holdout_days"] == 90 and sum(r["customers"] for r in holdout["rows"]) > 2000


def test_a_refit_keeps_the_previous_p_alive_and_prunes_old_prediction_sets(cdnow_imported):
    fits = [clv_fit_create(until=until, trigger=ClvFit.Trigger.TEST)
            for until in (dt.date(1997, 6, 30), dt.date(1997, 9, 30), dt.date(1997, 12, 31))]
    assert ClvFit.objects.count() == 3
    assert set(ClvPrediction.objects.values_list("fit_id", flat=True).distinct()) == {f.pk for f in
                                                                                     fits[-KEEP_PREDICTION_SETS:]}
    latest = ClvPrediction.objects.get(fit=fits[-1], customer__external_id="00004")
    previous = ClvPrediction.objects.get(fit=fits[-2], customer__external_id="00004")
    assert latest.p_alive_before == pytest.approx(previous.p_alive)


def test_transactions_are_one_row_per_customer_and_day_with_the_days_revenue(cdnow_imported):
    pks, days, values = clv_transactions(until=dt.date(1997, 1, 31))
    customer = Customer.objects.get(external_id="00004").pk
    mine = sorted(zip(days[pks == customer].tolist(), values[pks == customer].tolist(), strict=True))
    assert mine == [(dt.date(1997, 1, 1), pytest.approx(29.33)), (dt.date(1997, 1, 18), pytest.approx(29.73))]
