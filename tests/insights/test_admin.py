"""Django admin keeps the numbers true (issue 10): events and derived rows are read-only for everyone,
customers leave only through erasure, and an age change moves the customer's history."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from accounts.roles import Role
from customers.models import Customer
from events.models import Event
from insights.models import Cart, EventHourly, PendingWindow, Session
from insights.rebuild import analytics_rebuild
from tests.insights.store_fixture import build_store, ingest
from tests.insights.test_services import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client_for):
    return client_for(Role.ADMIN)


def test_events_are_read_only_for_the_admin_role_too(admin_client):
    build_store()
    event = Event.objects.order_by("id").first()
    listing = admin_client.get("/admin/events/event/")
    assert listing.status_code == 200
    assert b"/admin/events/event/add/" not in listing.content
    assert b'value="delete_selected"' not in listing.content
    assert admin_client.get("/admin/events/event/add/").status_code == 403
    detail = admin_client.get(f"/admin/events/event/{event.pk}/change/")
    assert detail.status_code == 200 and event.event_id.encode() in detail.content
    assert b'name="_save"' not in detail.content and b"/delete/" not in detail.content
    assert admin_client.post(f"/admin/events/event/{event.pk}/change/", {"action": "view"}).status_code == 403
    assert admin_client.get(f"/admin/events/event/{event.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/events/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post("/admin/events/event/", {"action": "delete_selected", "_selected_action": [event.pk],
                                                      "post": "yes"}).status_code in (200, 302)
    assert Event.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize("model,path", [(Session, "insights/session"), (Cart, "insights/cart"),
                                        (PendingWindow, "insights/pendingwindow")])
def test_derived_models_offer_no_add_change_or_delete(admin_client, model, path):
    build_store()
    ingest([{"event_id": "queued", "customer_id": "A", "action": "view", "product_id": "p1",
             "timestamp": "2024-03-04T20:00:00Z"}])  # leaves a pending window
    row = model.objects.order_by("pk").first()
    listing = admin_client.get(f"/admin/{path}/")
    assert listing.status_code == 200
    assert f"/admin/{path}/add/".encode() not in listing.content
    assert b'value="delete_selected"' not in listing.content
    assert admin_client.get(f"/admin/{path}/add/").status_code == 403
    detail = admin_client.get(f"/admin/{path}/{row.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client.post(f"/admin/{path}/{row.pk}/change/", {}).status_code == 403
    assert admin_client.post(f"/admin/{path}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_customers_are_erased_through_a_confirmation_page_and_leave_every_report(admin_client):
    objs = build_store()
    alice, bob = objs["customers"]["A"], objs["customers"]["B"]
    assert admin_client.get(f"/admin/customers/customer/{alice.pk}/delete/").status_code == 403
    listing = admin_client.get("/admin/customers/customer/")
    assert b'value="erase_customers"' in listing.content and b'value="delete_selected"' not in listing.content

    confirm = admin_client.post("/admin/customers/customer/", {"action": "erase_customers",
                                                               "_selected_action": [alice.pk, bob.pk]})
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Erase 2 customers and 15 events?" in text and "Alice Archer" in text
    assert Customer.objects.filter(pk__in=[alice.pk, bob.pk]).count() == 2  # nothing happens before "yes"

    done = admin_client.post("/admin/customers/customer/", {"action": "erase_customers", "post": "yes",
                                                            "_selected_action": [alice.pk, bob.pk]}, follow=True)
    assert "Erased 2 customers and their 15 events" in done.content.decode()
    assert not Customer.objects.filter(pk__in=[alice.pk, bob.pk]).exists()
    assert not Event.objects.filter(customer_id__in=[alice.pk, bob.pk]).exists()
    log = LogEntry.objects.filter(object_id=str(alice.pk)).get()
    assert log.object_repr == f"erased customer #{alice.pk}" and "Alice" not in log.change_message
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


def test_editing_age_in_admin_moves_the_customer_history_and_says_so(admin_client):
    objs = build_store()
    bob = objs["customers"]["B"]
    form = admin_client.get(f"/admin/customers/customer/{bob.pk}/change/")
    text = form.content.decode()
    assert "moves all of this customer" in text and "history included" in text
    assert 'name="external_id"' not in text  # the store's id is fixed once the row exists
    response = admin_client.post(f"/admin/customers/customer/{bob.pk}/change/", {
        "name": "Robert Baker", "email": "bob@example.com", "gender": "", "city": "", "country": "",
        "signed_up_at_0": "", "signed_up_at_1": "", "age": "70"}, follow=True)
    assert response.status_code == 200
    assert "Age group 36-45 → 66+: 8 events and 2 sessions moved in every report." in response.content.decode()
    bob.refresh_from_db()
    assert (bob.name, bob.age, bob.age_group) == ("Robert Baker", 70, "66+")
    assert not EventHourly.objects.filter(age_group="36-45", events__gt=0).exists()
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
