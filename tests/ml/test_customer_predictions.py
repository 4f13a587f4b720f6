"""Customer predictions: features and labels on a hand-computed fixture, GA4's eligibility rule, and the
families on a seeded simulation."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ml.customer_features import features_at, labels_at, training_frame
from ml.customer_training import PredictionParams, eligibility, train_all
from ml.evaluation import EvalParams
from tests.ml.sim import END, simulated

T = datetime(2025, 3, 1, tzinfo=UTC)


def _ev(customer, days_before, action, session, price=0.0, quantity=1, order=None):
    return {"customer": customer, "session_id": session, "action": action, "price": price, "quantity": quantity,
            "order_id": order, "ts": pd.Timestamp(T - timedelta(days=days_before))}


@pytest.fixture
def fixture():
    rows = [
        # customer 1: bought twice (one order 40 days ago, one 3 days ago), buys again after T
        _ev(1, 40, "view", "a"), _ev(1, 40, "purchase", "a", 10.0, 2, "o1"),
        _ev(1, 3, "add_to_cart", "b"), _ev(1, 3, "purchase", "b", 25.0, 1, "o2"),
        _ev(1, -2, "purchase", "c", 5.0, 1, "o3"),
        # customer 2: active 10 days ago (an abandoned cart), never seen after T: churned
        _ev(2, 10, "view", "d"), _ev(2, 10, "add_to_cart", "d"),
        # customer 3: last seen 30 days ago: not active, no row
        _ev(3, 30, "view", "e"),
        # customer 4: seen yesterday, visits after T without buying
        _ev(4, 1, "view", "f"), _ev(4, -1, "view", "g"),
    ]
    customers = pd.DataFrame({"age_group": ["18-25", "66+", "36-45", "unknown"]}, index=[1, 2, 3, 4])
    return pd.DataFrame(rows), customers


def test_features_and_labels_match_the_hand_computed_fixture(fixture):
    events, customers = fixture
    f = features_at(events, customers, T)
    assert list(f.index) == [1, 2, 4]  # customer 3 was not active in the last 28 days
    one = f.loc[1]
    assert (one.recency_days, one.days_since_last_order, one.orders_total, one.revenue_total) == (3, 3, 2, 45.0)
    assert (one.orders_28d, one.revenue_28d, one.sessions_total, one.sessions_28d) == (1, 25.0, 2, 1)
    assert one.mean_order_value == 22.5 and one.tenure_days == 40 and one.events_7d == 2
    two = f.loc[2]
    assert two.days_since_last_order == 3650 and two.cart_sessions_28d == 1 and two.cart_abandon_share_28d == 1.0
    assert f.loc[4, "age_group"] == "unknown" and f.loc[2, "age_group"] == "66+"
    labels = labels_at(events, f.index, T)
    assert labels["purchase_7d"].to_dict() == {1: 1, 2: 0, 4: 0}
    assert labels["churn_7d"].to_dict() == {1: 0, 2: 1, 4: 0}


def test_eligibility_needs_enough_customers_with_and_without_the_outcome(fixture):
    events, customers = fixture
    frame = training_frame(events, customers, last_cutoff=T, weeks=1)
    ok, reason, counts = eligibility(frame, "purchase_7d", PredictionParams(min_positives=1, min_negatives=2))
    assert counts["positive"] == 1 and counts["negative"] == 2 and not ok and "3 weekly cut-offs" in reason
    ok, reason, _ = eligibility(frame, "purchase_7d", PredictionParams())
    assert not ok and "1 customers with purchase in the next 7 days (at least 1,000 needed)" in reason
    assert "2 customers without it (at least 1,000 needed)" in reason


def test_on_a_seeded_simulation_both_targets_train_and_report_every_family():
    events, customers = simulated(seed=11, customers=400, days=90)
    frame = training_frame(events, customers, last_cutoff=END - timedelta(days=7), weeks=5)
    params = PredictionParams(min_positives=20, min_negatives=20, n_estimators=30,
                              evaluation=EvalParams(resamples=50, importance_repeats=1, importance_max_rows=300))
    results = train_all(frame, params)
    for target, result in results.items():
        assert result.eligible, result.reason
        assert set(result.metrics["families"]) == {"logistic", "random_forest", "gradient_boosting", "mlp"}
        auc = result.metrics["families"][result.chosen]["metrics"]["roc_auc"]["value"]
        assert auc > 0.6, (target, auc)


FAST_PREDICTIONS = PredictionParams(min_positives=10, min_negatives=10, n_estimators=20,
                                    evaluation=EvalParams(resamples=30, importance_repeats=1, importance_max_rows=200,
                                                          families=("logistic", "gradient_boosting")))


def test_refresh_scores_active_customers_and_the_api_tells_what_each_prediction_means(history, client_for):
    from django.urls import reverse

    from accounts.roles import Role
    from ml.models import CustomerPrediction
    from ml.prediction_services import predictions_refresh

    analyst = client_for(Role.ANALYST)
    # Below GA4's 1,000 and 1,000: nothing is shown, and the reason says why.
    run = predictions_refresh(as_of=END, params=PredictionParams())
    purchase = run.targets["purchase_7d"]
    assert not purchase["eligible"] and "at least 1,000 needed" in purchase["reason"]
    row = CustomerPrediction.objects.first()
    assert row.purchase_probability is None and row.churn_probability is None
    body = analyst.get(reverse("ml:customer_predictions", args=[row.customer_id])).json()
    assert not body["predictions"]["purchase_7d"]["shown"]
    assert body["predictions"]["purchase_7d"]["reason"].startswith("not eligible in the last 28 days")

    run = predictions_refresh(as_of=END, params=FAST_PREDICTIONS)
    assert run.targets["purchase_7d"]["eligible"] and run.targets["churn_7d"]["eligible"]
    assert run.scored_count == CustomerPrediction.objects.count() > 0
    row = CustomerPrediction.objects.order_by("customer_id").first()
    assert 0 <= row.purchase_probability <= 1 and 0 <= row.churn_probability <= 1
    url = reverse("ml:customer_predictions", args=[row.customer_id])
    body = analyst.get(url).json()
    assert body["predictions"]["purchase_7d"]["probability"] == round(row.purchase_probability, 4)
    assert body["predictions"]["churn_7d"]["shown"] and "7 days" in body["predictions"]["churn_7d"]["meaning"]
    assert client_for(Role.VIEWER).get(url).status_code == 403
    assert analyst.get(reverse("ml:customer_predictions", args=[10**9])).status_code == 404
    # The audiences were refreshed with the run, by their written definitions.
    from ml.audiences import members
    from ml.models import AudienceMember

    scores = CustomerPrediction.objects.values_list("customer_id", "purchase_probability", "churn_probability")
    stored = {slug: sorted(AudienceMember.objects.filter(audience=slug).values_list("customer_id", flat=True))
              for slug in ("likely-buyers", "likely-churners", "high-value-slipping")}
    assert stored == members(list(scores), {})  # no CLV fit here: no high tier


def test_model_page_shows_each_targets_eligibility_and_reason(db, client_for):
    from django.urls import reverse

    from accounts.roles import Role
    from ml.models import PredictionRun

    PredictionRun.objects.create(cutoff=END, holdout_cutoff=END - timedelta(days=7), targets={
        "purchase_7d": {"eligible": False, "reason": "not eligible in the last 28 days: 12 customers with purchase",
                        "counts": {"positive": 12, "negative": 300, "min_positive": 1000, "min_negative": 1000}},
        "churn_7d": {"eligible": False, "reason": "not eligible in the last 28 days: 80 customers without it",
                     "counts": {}}})
    body = client_for(Role.ANALYST).get(reverse("ml:report")).content.decode()
    assert 'id="customer-predictions"' in body and "not eligible in the last 28 days: 12 customers" in body
    assert 'id="target-churn_7d"' in body and "at least 1,000 customers with" in body


def test_channel_mix_is_the_share_of_sessions_in_the_28_days_by_channel_group(fixture):
    events, customers = fixture
    sessions = pd.DataFrame({
        "customer": [1, 1, 1, 2, 4],
        "started_at": pd.to_datetime([T - timedelta(days=40), T - timedelta(days=3), T - timedelta(days=2),
                                      T - timedelta(days=10), T - timedelta(days=1)], utc=True),
        "channel": ["Email", "Paid Search", "Organic Social", "Display", "Direct"]})
    f = features_at(events, customers, T, sessions)
    # customer 1: the Email session is 40 days old; of the two in the 28 days one paid, one organic
    assert (f.loc[1, "share_paid_28d"], f.loc[1, "share_organic_28d"], f.loc[1, "share_email_28d"]) == (0.5, 0.5, 0)
    assert f.loc[2, "share_paid_28d"] == 1.0 and f.loc[4, "share_direct_28d"] == 1.0
    without = features_at(events, customers, T)
    assert (without[[c for c in without if c.startswith("share_")]] == 0).all().all()


def test_no_customer_feature_sees_an_event_at_or_after_the_cut_off():
    events, customers = simulated(seed=11, customers=400, days=90)
    cut = pd.Timestamp(END - timedelta(days=20))
    before = events[events["ts"] < cut]
    full, truncated = features_at(events, customers, cut), features_at(before, customers, cut)
    pd.testing.assert_frame_equal(full, truncated)
    assert full["p_alive"].between(0, 1).all() and (full["p_alive"] < 1).any()  # the BG/NBD fit took place
    assert (full["expected_orders_7d"] > 0).any()
