"""Predicted CLV on the pages: analysts see per-customer predictions (drill-down, top customers, the
slipping-away list and its CSV), viewers only aggregates; the model page shows the holdout check; without
a fit the pages say why."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from accounts.roles import Role
from customers.models import Customer
from insights.clv.models import ClvFit, ClvPrediction
from insights.clv.selectors import NO_FIT, clv_slipping_away
from insights.clv.services import clv_fit_create

pytestmark = pytest.mark.django_db

WHOLE = "start=2024-01-01&end=2025-06-30"


@pytest.fixture
def fitted(cdnow_recent_shared):
    return clv_fit_create(until=dt.date(2025, 6, 30), trigger=ClvFit.Trigger.TEST)


def test_the_slipping_away_list_is_valuable_customers_with_low_or_falling_p_alive(fitted):
    answer = clv_slipping_away()
    rows = answer["rows"]
    assert answer["reason"] is None and rows
    edge = sorted(ClvPrediction.objects.filter(fit=fitted).values_list("clv_if_active", flat=True),
                  reverse=True)[int(fitted.customers * 0.2)]
    assert all(r["value_if_active"] >= round(edge, 2) for r in rows)
    assert all(r["p_alive"] < 0.5 or (r["p_alive_before"] or 0) - r["p_alive"] >= 0.2 for r in rows)
    risks = [r["value_at_risk"] for r in rows]
    assert risks == sorted(risks, reverse=True)


def test_analyst_sees_predictions_in_the_drill_down(client_for, fitted):
    customer = Customer.objects.get(external_id="00004")
    page = client_for(Role.ANALYST).get(f"/customers/{customer.pk}/?{WHOLE}").content.decode()
    prediction = ClvPrediction.objects.get(fit=fitted, customer=customer)
    assert 'id="predicted-clv"' in page and "Predicted 12-month value" in page
    assert f"${prediction.clv_12m:,.2f}" in page
    assert "Spend tier" in page and prediction.tier in page


def test_customers_page_for_analyst_and_viewer(client_for, fitted):
    analyst = client_for(Role.ANALYST).get(f"/customers/?{WHOLE}").content.decode()
    assert 'id="slipping-away"' in analyst and "/export/slipping_away.csv" in analyst
    assert "Predicted 12-month value" in analyst and 'id="rfm-predicted"' in analyst
    viewer = client_for(Role.VIEWER).get(f"/customers/?{WHOLE}").content.decode()
    assert 'id="slipping-away"' not in viewer and "Predicted 12-month value" not in viewer
    assert 'id="rfm-predicted"' in viewer  # per segment: an aggregate


def test_viewer_gets_no_per_customer_prediction_from_the_api_or_exports(client_for, fitted):
    viewer = client_for(Role.VIEWER)
    top = viewer.get(f"/api/v1/metrics/customers?{WHOLE}").json()["top_customers"]
    assert top and all("predicted_clv_12m" not in r and "tier" not in r for r in top)
    assert viewer.get(f"/export/slipping_away.csv?{WHOLE}").status_code == 403
    customer = Customer.objects.get(external_id="00004")
    assert viewer.get(f"/customers/{customer.pk}/").status_code == 403
    analyst_top = client_for(Role.ANALYST).get(f"/api/v1/metrics/customers?{WHOLE}").json()["top_customers"]
    assert all(r["tier"] in {"high", "medium", "low"} for r in analyst_top)


def test_slipping_away_csv_is_escaped(client_for, fitted):
    first = clv_slipping_away(limit=1)["rows"][0]
    Customer.objects.filter(pk=first["pk"]).update(name="=HYPERLINK(\"http://x\")")
    response = client_for(Role.ANALYST).get(f"/export/slipping_away.csv?{WHOLE}")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\")"
    assert float(rows[0]["value_at_risk"]) == first["value_at_risk"]


def test_model_page_shows_the_parameters_and_holdout_check(client_for, fitted):
    page = client_for(Role.ANALYST).get("/model/").content.decode()
    assert 'id="clv-parameters"' in page and 'id="clv-holdout"' in page
    assert f"{fitted.parameters['r']:.4f}" in page
    holdout = fitted.diagnostics["holdout"]
    assert f"the next {holdout['holdout_days']} days held out" in page
    assert "chart-clv_holdout" in page


def test_without_a_fit_the_pages_say_why(client_for, cdnow_recent_shared):
    analyst = client_for(Role.ANALYST)
    assert NO_FIT in analyst.get("/model/").content.decode()
    customer = Customer.objects.get(external_id="00004")
    assert NO_FIT in analyst.get(f"/customers/{customer.pk}/").content.decode()
    assert NO_FIT in analyst.get("/customers/").content.decode()
