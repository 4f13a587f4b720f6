"""ml.services: training records versions (activation rule, artifact + SHA-256), rollback, scoring. The simulated
history is stored once for the module and one version trained once for TestOneTrainedVersion; refusing too
little data is in test_services_empty.py."""

import hashlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer
from events.models import Event
from ml import selectors
from ml.models import CartScore, ModelVersion
from ml.page_extensions import masked_score_rows
from ml.services import (
    ArtifactError,
    activation_decision,
    cart_scores_refresh,
    model_activate,
    model_load,
    model_train,
)
from products.models import Product
from tests.factories import CustomerFactory, EventFactory, ModelVersionFactory, ProductFactory
from tests.kept import kept
from tests.ml.conftest import FAST


def test_activation_rule_tolerates_at_most_001_worse():
    active = ModelVersion(pk=1, roc_auc=0.80)
    assert activation_decision(new_auc=0.70, active=None)[0]
    assert activation_decision(new_auc=0.791, active=active)[0]
    assert activation_decision(new_auc=0.85, active=active)[0]
    ok, reason = activation_decision(new_auc=0.789, active=active)
    assert not ok and "kept inactive" in reason and "0.8000" in reason


def test_a_worse_model_stays_inactive_with_the_reason(history_shared, model_dir):
    best = ModelVersionFactory(roc_auc=0.99, is_active=True)
    version = model_train(trigger=ModelVersion.Trigger.TEST, params=FAST)
    version.refresh_from_db()
    best.refresh_from_db()
    assert not version.is_active and best.is_active
    assert version.decision.startswith("kept inactive") and f"v{best.pk}" in version.decision
    assert selectors.model_version_active() == best


def test_rollback_activates_exactly_one_version(db):
    old = ModelVersionFactory(roc_auc=0.8)
    new = ModelVersionFactory(roc_auc=0.82, is_active=True)
    model_activate(version=old, reason="rollback")
    assert list(ModelVersion.objects.filter(is_active=True)) == [old]
    new.refresh_from_db()
    assert not new.is_active and old.decision == "rollback"
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=new.pk).update(is_active=True)


def _open_cart(customer: Customer, product: Product, *, minutes_ago: int, price: str, session: str):
    now = timezone.now()
    EventFactory(customer=customer, product=product, action="view", session_id=session, price=Decimal(price),
                 timestamp=now - timedelta(minutes=minutes_ago + 1))
    EventFactory(customer=customer, product=product, action="add_to_cart", session_id=session,
                 price=Decimal(price), timestamp=now - timedelta(minutes=minutes_ago))


def test_no_active_model_scores_nothing_and_a_tampered_artifact_is_refused(history_shared, model_dir):
    assert cart_scores_refresh() == 0
    version = model_train(trigger=ModelVersion.Trigger.TEST, params=FAST)
    (model_dir / version.artifact).write_bytes(b"tampered")
    from ml import services

    services._cache.clear()
    with pytest.raises(ArtifactError, match="SHA-256"):
        model_load(version=version)


@pytest.fixture(scope="class")
def _trained_for_the_class(_history_for_the_module, model_dir_for_the_class, django_db_blocker):
    progress: list[str] = []
    with kept(django_db_blocker):
        with django_db_blocker.unblock():
            version = model_train(trigger=ModelVersion.Trigger.TEST, params=FAST, progress=progress.append)
        yield version, progress


@pytest.fixture
def trained(_trained_for_the_class, db):
    """(version, progress messages): one model_train on the module's history, active, shared by the tests
    of the class (each test's writes are rolled back; the version is rolled back when the class ends)."""
    return _trained_for_the_class


class TestOneTrainedVersion:
    def test_train_records_an_active_version_with_a_verified_artifact(self, trained, history_shared,
                                                                       model_dir_for_the_class):
        version, progress = trained
        assert version.is_active and version.activated_at is not None and version.decision.startswith("activated")
        assert version.events_count == history_shared == Event.objects.count()
        assert version.train_rows + version.test_rows == version.carts_count > 1000
        assert version.roc_auc > 0.7 and version.baseline_roc_auc is not None
        assert version.metrics["calibration"] and version.metrics["importances"] and "checkouts" in version.features
        path = model_dir_for_the_class / version.artifact
        assert hashlib.sha256(path.read_bytes()).hexdigest() == version.sha256
        assert model_load(version=version).threshold == version.threshold
        calibrated = model_load(version=version).pipeline
        inner = [part.estimator.estimator for part in calibrated.calibrated_classifiers_]  # the frozen pipelines
        assert all(v == 1 for p in inner for k, v in p.get_params().items() if k.endswith("n_jobs"))  # no loky workers
        assert any("carts with a known outcome" in p for p in progress)

    def test_since_limits_the_training_carts(self, trained):
        everything, _progress = trained
        recent = model_train(since=date(2025, 3, 1), trigger=ModelVersion.Trigger.TEST, params=FAST)
        assert recent.carts_count < everything.carts_count
        assert recent.data_start.date() >= date(2025, 3, 1) and recent.since == date(2025, 3, 1)

    def test_open_carts_are_scored_with_the_active_model(self, trained):
        product = ProductFactory(category="electronics")
        cheap, dear, gone = CustomerFactory(), CustomerFactory(), CustomerFactory()
        _open_cart(cheap, product, minutes_ago=2, price="12.00", session="live-1")
        _open_cart(dear, product, minutes_ago=5, price="900.00", session="live-2")
        _open_cart(gone, product, minutes_ago=90, price="50.00", session="old-3")  # session over: abandoned
        assert cart_scores_refresh() == 2
        scores = {s.customer_id: s for s in CartScore.objects.all()}
        assert set(scores) == {cheap.pk, dear.pk}
        assert all(0 <= s.probability <= 1 for s in scores.values())
        assert scores[dear.pk].value == Decimal("900.00") and scores[dear.pk].items == 1
        mine = selectors.cart_scores_for_customer(customer_pk=dear.pk)
        assert [r["value"] for r in mine] == [900.0]
        likely = masked_score_rows(selectors.cart_scores_likely_buyers(limit=5))
        assert len(likely) == 2 and likely[0]["probability"] >= likely[1]["probability"]
        assert all("***" in r["customer_name"] for r in likely)
        at_risk = selectors.cart_scores_at_risk(limit=5, max_probability=1.01)
        assert at_risk[0]["customer_pk"] == dear.pk  # the higher value at stake comes first
        # Scoring again replaces, not duplicates.
        assert cart_scores_refresh() == 2 and CartScore.objects.count() == 2
