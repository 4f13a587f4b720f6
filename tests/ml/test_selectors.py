"""ml.selectors: the events frame read for training (chunked rows, or COPY on PostgreSQL)."""

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection

from customers.models import Customer
from ml import selectors
from tests.factories import CustomerFactory, EventFactory, ModelVersionFactory, ProductFactory


@pytest.fixture
def some_events(db):
    book = ProductFactory(category="books", price=Decimal("12.50"))
    a, b = CustomerFactory(), CustomerFactory()
    EventFactory(customer=a, product=book, action="add_to_cart", session_id="s-1", quantity=2,
                 price=Decimal("12.50"), timestamp=datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC))
    EventFactory(customer=a, product=book, action="purchase", session_id="s-1", quantity=2, price=Decimal("12.50"),
                 order_id="o-9", timestamp=datetime(2024, 5, 1, 10, 5, tzinfo=UTC))
    EventFactory(customer=b, product=None, action="abandon", session_id="", price=Decimal("0"),
                 timestamp=datetime(2024, 5, 2, 9, 0, tzinfo=UTC))
    return a, b


def test_events_frame_has_the_feature_builders_columns_and_types(some_events):
    a, b = some_events
    frame = selectors.events_frame().sort_values("ts").reset_index(drop=True)
    assert len(frame) == 3
    assert frame["customer"].tolist() == [a.pk, a.pk, b.pk]
    assert frame["product"].iloc[2] == -1 and frame["category"].tolist() == ["books", "books", ""]
    assert frame["price"].tolist() == [12.5, 12.5, 0.0] and frame["quantity"].tolist() == [2, 2, 1]
    assert frame["order_id"].tolist() == [None, "o-9", None]
    assert frame["session_id"].tolist() == ["s-1", "s-1", ""]
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-05-01T10:00:00.123456Z")
    only_b = selectors.events_frame(customer_pks=[b.pk])
    assert only_b["customer"].tolist() == [b.pk]
    assert selectors.events_frame(customer_pks=[]).empty


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is the PostgreSQL-only fast path")
def test_copy_path_equals_the_row_path(some_events):
    every = list(Customer.objects.values_list("pk", flat=True))
    by_rows = selectors.events_frame(customer_pks=every).sort_values("pk").reset_index(drop=True)
    by_copy = selectors.events_frame().sort_values("pk").reset_index(drop=True)
    pd.testing.assert_frame_equal(by_rows, by_copy, check_dtype=False)


def test_model_report_defaults_to_the_active_version(db):
    active = ModelVersionFactory(is_active=True)
    newer = ModelVersionFactory()
    report = selectors.model_report()
    assert report["version"] == active
    assert [h["pk"] for h in report["history"]] == [active.pk, newer.pk]
    assert selectors.model_report(version_pk=newer.pk)["version"] == newer
