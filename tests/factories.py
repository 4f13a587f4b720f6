"""factory_boy factories for the core models."""

from datetime import UTC, datetime
from decimal import Decimal

import factory

from customers.models import Customer
from events.models import Action, Event
from products.models import Product


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"c{n}")
    name = factory.Faker("name")
    email = factory.Faker("email")
    age = 30


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    external_id = factory.Sequence(lambda n: f"p{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    category = "electronics"
    price = Decimal("10.00")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    event_id = factory.Sequence(lambda n: f"evt-{n}")
    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    session_id = "s-1"
    action = Action.VIEW
    quantity = 1
    price = Decimal("10.00")
    timestamp = factory.LazyFunction(lambda: datetime(2024, 1, 1, 12, 0, tzinfo=UTC))


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A recorded model version (no artifact file: for activation and report tests)."""

    class Meta:
        model = "ml.ModelVersion"

    trigger = "test"
    roc_auc = 0.8
    baseline_roc_auc = 0.75
    threshold = 0.4
    carts_count = 1000
    train_rows = 800
    test_rows = 200
    artifact = factory.Sequence(lambda n: f"missing-{n}.joblib")
    sha256 = "0" * 64
    decision = "recorded by a test"
    metrics = factory.LazyAttribute(lambda o: {
        "model": {"roc_auc": o.roc_auc, "pr_auc": 0.6, "brier": 0.15, "threshold": o.threshold, "precision": 0.6,
                  "recall": 0.7, "positive_rate": 0.3, "predicted_positive_rate": 0.3},
        "baselines": {
            "logistic_regression": {"roc_auc": o.baseline_roc_auc, "pr_auc": 0.5, "brier": 0.17, "threshold": 0.3,
                                    "precision": 0.5, "recall": 0.6, "positive_rate": 0.3,
                                    "predicted_positive_rate": 0.3},
            "base_rate": {"roc_auc": 0.5, "pr_auc": 0.3, "brier": 0.21, "threshold": 0.5, "precision": 0.0,
                          "recall": 0.0, "positive_rate": 0.3, "predicted_positive_rate": 0.0, "rate": 0.3}},
        "calibration": [{"bin_low": 0.0, "bin_high": 0.5, "carts": 120, "mean_predicted": 0.2, "observed_rate": 0.22},
                        {"bin_low": 0.5, "bin_high": 1.0, "carts": 80, "mean_predicted": 0.7, "observed_rate": 0.66}],
        "importances": [{"feature": "checkouts", "importance": 0.2, "std": 0.01},
                        {"feature": "value", "importance": 0.01, "std": 0.002}],
    })
    features = ["checkouts", "value"]
