"""``simulate`` and ``import_events`` return with the figures derived (docs/derivation.md): nothing is
left queued for the worker, the sessions and carts are there, and the command says how long deriving took."""

from __future__ import annotations

import csv
from io import StringIO

import pytest
from django.core.management import call_command

from events.models import Event
from insights.models import Cart, PendingWindow, Session, SessionDaily
from products.services import catalogue_read, product_load_catalogue


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_import_events_returns_with_sessions_carts_and_rollups_derived(tmp_path):
    path = tmp_path / "events.csv"
    rows = [  # two customers; c-1 buys, c-2's cart is left open
        ["e1", "c-1", "view", "p-1", "1", "4.50", "", "2024-01-01T10:00:00Z"],
        ["e2", "c-1", "add_to_cart", "p-1", "2", "4.50", "", "2024-01-01T10:01:00Z"],
        ["e3", "c-1", "purchase", "p-1", "2", "4.50", "o-1", "2024-01-01T10:02:00Z"],
        ["e4", "c-2", "add_to_cart", "p-2", "1", "9.00", "", "2024-01-01T11:00:00Z"],
        ["e5", "c-1", "view", "p-2", "1", "9.00", "", "2024-01-03T09:00:00Z"],  # a second session of c-1
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer_id", "action", "product_id", "quantity", "product_price", "order_id",
                         "timestamp"])
        writer.writerows(rows)
    output = run("import_events", str(path), "--batch-size", "2")  # three ingest batches, three queued windows
    assert Event.objects.count() == 5
    assert not PendingWindow.objects.exists()
    assert Session.objects.filter(customer__external_id="c-1").count() == 2
    assert Session.objects.filter(customer__external_id="c-2").count() == 1
    assert Cart.objects.count() == 2
    assert sum(SessionDaily.objects.filter(category="").values_list("sessions", flat=True)) == 3
    assert "derived in" in output and "(5 queued events" in output


@pytest.mark.django_db
def test_simulate_backfill_returns_with_the_figures_derived():
    product_load_catalogue(items=catalogue_read())
    output = run("simulate", "--days", "2", "--customers", "60", "--seed", "4")
    assert Event.objects.exists()
    assert not PendingWindow.objects.exists()
    assert Session.objects.exists()
    sessions = Event.objects.values("customer_id", "session_id").distinct().count()
    assert sum(SessionDaily.objects.filter(category="").values_list("sessions", flat=True)) == Session.objects.count()
    assert Session.objects.count() <= sessions
    assert "derived in" in output and f"({Event.objects.count():,} queued events" in output
