"""A product's category changed (admin, the command, the catalogue loader): its events and the
sessions holding it move to the new category in every report, as a rebuild with the new category
counts them, also when events and cancels arrive during the move."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.roles import Role
from customers.models import Customer
from insights import recategorise
from insights.models import CartValueDaily, EventDaily, SessionDaily
from insights.rebuild import analytics_rebuild
from insights.recategorise import product_category_change
from insights.services import analytics_process_pending
from insights.tasks import recategorise_product_task
from products.models import Product
from products.services import product_load_catalogue
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import build_store, ingest
from tests.insights.test_services import (
    batches_at,
    derived_and_events_clear,
    event_strategy,
    products_create,
    snapshot,
    wire_events,
)

pytestmark = pytest.mark.django_db


def assert_equals_rebuild() -> dict:
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    return incremental


def categories_in(rows: dict, position: int) -> set[str]:
    return {key[position] for key in rows}


def test_a_category_change_moves_the_products_events_and_sessions():
    build_store()
    before = snapshot()
    assert "clothing" in categories_in(before["events_daily"], 3)
    move = product_category_change(product_pk=Product.objects.get(external_id="p2").pk, category="shirts")
    assert (move.old, move.new, move.events) == ("clothing", "shirts", 8)
    assert move.sessions == 5
    assert Product.objects.get(external_id="p2").category == "shirts"
    after = assert_equals_rebuild()
    for name, position in (("events_daily", 3), ("sessions_daily", 2), ("cart_values_daily", 0)):
        assert "clothing" not in categories_in(after[name], position), name
    assert "shirts" in categories_in(after["sessions_daily"], 2)
    assert not EventDaily.objects.filter(category="clothing", events__gt=0).exists()
    assert not SessionDaily.objects.filter(category="clothing", sessions__gt=0).exists()
    assert not CartValueDaily.objects.filter(category="clothing", carts__gt=0).exists()
    # Nothing keyed otherwise changed.
    for name in ("events_hourly", "sessions_hourly", "products_daily", "customers_daily", "customer_totals",
                 "traffic_daily", "product_pairs", "cohort_months", "sessions"):
        assert after[name] == before[name], name


def test_events_and_a_cancel_arriving_during_the_move_end_up_under_the_new_category(monkeypatch):
    """Ingest is not held during the move: what it stores meanwhile counts under the old category
    (it reads the product's category as it was) and the catch-up moves it."""
    build_store()
    sessions_move = recategorise._sessions_move

    def with_ingest_meanwhile(move, customers):
        sessions_move(move, customers)
        if move.sessions:
            ingest([{"event_id": "mid-1", "customer_id": "D", "action": "cancel", "order_id": "o-2",
                     "timestamp": "2024-03-04T16:30:00Z"},
                    {"event_id": "mid-2", "customer_id": "B", "action": "purchase", "product_id": "p2",
                     "order_id": "o-7", "amount": "20.00", "timestamp": "2024-03-04T18:00:00Z"}])
            assert EventDaily.objects.filter(category="clothing", action="purchase", events__gt=0).exists()

    monkeypatch.setattr(recategorise, "_sessions_move", with_ingest_meanwhile)
    product_category_change(product_pk=Product.objects.get(external_id="p2").pk, category="shirts")
    analytics_process_pending()  # derivation catches up after the move
    after = assert_equals_rebuild()
    assert "clothing" not in categories_in(after["events_daily"], 3)


def test_the_command_moves_a_product_and_says_what_it_moved(capsys):
    build_store()
    call_command("recategorise_product", "p3", "rings", "--no-progress")
    assert "p3: 'jewelery' → 'rings'; 7 events and 3 sessions moved" in capsys.readouterr().out
    assert_equals_rebuild()
    call_command("recategorise_product", "p3", "rings", "--no-progress")
    assert "nothing to move" in capsys.readouterr().out


def test_admin_queues_the_move_and_the_product_keeps_its_category_until_done(client_for,
                                                                            django_capture_on_commit_callbacks):
    build_store()
    admin = client_for(Role.ADMIN)
    p1 = Product.objects.get(external_id="p1")
    form = admin.get(f"/admin/products/product/{p1.pk}/change/").content.decode()
    assert "moves all of this product" in form
    data = {"external_id": "p1", "title": "Smartphone", "category": "phones", "price": "100.00", "image_url": "",
            "description": ""}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin.post(f"/admin/products/product/{p1.pk}/change/", data, follow=True)
    assert "moves in the background" in response.content.decode()
    assert len(queued) == 1
    p1.refresh_from_db()
    assert (p1.title, p1.category) == ("Smartphone", "electronics")  # the rest is saved at once
    assert recategorise_product_task(p1.pk, "phones") == 5
    assert Product.objects.get(pk=p1.pk).category == "phones"
    assert_equals_rebuild()
    # A product nothing was sent for changes at once.
    idle = ProductFactory(external_id="p9", category="old")
    admin.post(f"/admin/products/product/{idle.pk}/change/",
               {**data, "external_id": "p9", "title": "Idle", "category": "new"})
    assert Product.objects.get(pk=idle.pk).category == "new"


def test_the_catalogue_loader_moves_history_through_the_hook(django_capture_on_commit_callbacks):
    build_store()
    items = [{"id": "p1", "title": "Phone", "price": "100.00", "category": "phones"},
             {"id": "p8", "title": "New", "price": "1.00", "category": "misc"}]
    ProductFactory(external_id="p8", title="New", price="1.00", category="")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        product_load_catalogue(items=items)
    assert len(queued) == 1  # p1 has events: its move is queued; p8 changed at once
    assert Product.objects.get(external_id="p1").category == "electronics"
    assert Product.objects.get(external_id="p8").category == "misc"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="k", sessions=["", "", "sa"],
                                      order=st.sampled_from([None, "o1"])), min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=4),
       move_after=st.integers(min_value=0, max_value=4), category=st.sampled_from(["a", "b", "c", ""]),
       process_after=st.lists(st.booleans(), min_size=5, max_size=5))
def test_random_category_changes_keep_incremental_equal_to_rebuild(stream, cuts, move_after, category,
                                                                    process_after):
    derived_and_events_clear()
    Customer.objects.all().delete()
    Product.objects.filter(external_id__startswith="k").delete()
    products_create(prefix="k")
    for ext, age in (("k1", 20), ("k2", None), ("k3", 60)):
        CustomerFactory(external_id=ext, age=age)
    batches = batches_at(wire_events(stream, prefix="k"), cuts)
    for n, batch in enumerate(batches):
        if n == move_after:
            product_category_change(product_pk=Product.objects.get(external_id="kp1").pk, category=category)
        ingest(batch)
        if process_after[n % len(process_after)]:
            analytics_process_pending()
    product_category_change(product_pk=Product.objects.get(external_id="kp3").pk, category="a")
    analytics_process_pending()
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
