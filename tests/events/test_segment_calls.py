"""Segment browser SDK calls (DESIGN §3 round 2): every call type on its long and short path, JSON
sent as text/plain, page calls stored with their context, identify filling the customer's profile,
alias recorded, events that map to nothing acknowledged as ignored."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from customers.models import Customer
from events.models import Event, IdentityLink
from insights.models import Session

pytestmark = pytest.mark.django_db
TS = "2024-03-01T10:00:00Z"


def send(path: str, body: dict, secret: str, *, basic: bool = True):
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()} if basic else {}
    if not basic:
        body = {**body, "writeKey": secret}
    return Client(enforce_csrf_checks=True).post(path, data=json.dumps(body).encode(), content_type="text/plain",
                                                 **headers)


@pytest.mark.parametrize("path", ["/v1/page", "/v1/p", "/v1/screen"])
def test_page_calls_are_stored_as_page_events_with_their_context(ingest_secret, path):
    body = {"messageId": "pg-1", "userId": "u-1", "anonymousId": "a-1", "timestamp": TS, "name": "Shoes",
            "properties": {"url": "https://shop.example/shoes?utm_campaign=spring", "path": "/shoes",
                           "title": "Shoes", "referrer": "https://news.example/"},
            "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
                        "library": {"name": "analytics.js", "version": "next-1.70.0"}}}
    response = send(path, body, ingest_secret)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    event = Event.objects.get(event_id="pg-1")
    assert (event.action, event.product_id, event.customer.external_id, event.anonymous_id) == (
        "page", None, "u-1", "a-1")
    assert event.context == {
        "page_url": "https://shop.example/shoes?utm_campaign=spring", "page_path": "/shoes", "page_title": "Shoes",
        "referrer": "https://news.example/", "utm_source": "newsletter", "utm_medium": "email",
        "utm_campaign": "spring", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
        "library": "analytics.js next-1.70.0"}
    assert not event.is_bot


@pytest.mark.parametrize("path", ["/v1/track", "/v1/t"])
def test_track_on_both_paths_with_the_write_key_in_the_body(ingest_secret, path):
    body = {"event": "Product Added", "messageId": "t-1", "anonymousId": "a-2", "timestamp": TS,
            "properties": {"product_id": "sku-1", "price": 12.5, "quantity": 2}}
    response = send(path, body, ingest_secret, basic=False)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    event = Event.objects.get(event_id="t-1")
    assert (event.action, event.quantity, event.customer.external_id) == ("add_to_cart", 2, "anon:a-2")


@pytest.mark.parametrize("name", ["Cart Viewed", "Coupon Applied", "Products Searched", "Signed Up"])
def test_events_that_map_to_nothing_are_acknowledged_as_ignored(ingest_secret, name):
    response = send("/v1/t", {"event": name, "messageId": "x-1", "userId": "u", "timestamp": TS}, ingest_secret)
    assert response.status_code == 200
    ack = response.json()
    assert ack["accepted"] == 0 and ack["rejected"] == []
    assert ack["ignored"] == [{"index": 0, "event_id": "x-1", "reason": f"'{name}' maps to no action "
                                                                         "(acknowledged, not stored)"}]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("path", ["/v1/identify", "/v1/i"])
def test_identify_fills_the_profile_and_is_recorded_once(ingest_secret, path):
    body = {"messageId": "id-1", "userId": "cust-9", "anonymousId": "a-9", "timestamp": TS,
            "traits": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "age": 30,
                       "gender": "F", "address": {"city": "London", "country": "GB"}, "plan": "gold"}}
    response = send(path, body, ingest_secret)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    customer = Customer.objects.get(external_id="cust-9")
    assert (customer.name, customer.email, customer.age, customer.age_group, customer.gender, customer.city,
            customer.country) == ("Ada Lovelace", "ada@example.com", 30, "26-35", "female", "London", "GB")
    link = IdentityLink.objects.get()
    assert (link.kind, link.customer_id, link.anonymous_id, link.traits["plan"]) == (
        "identify", customer.pk, "a-9", "gold")
    again = send(path, body, ingest_secret).json()
    assert again["accepted"] == 0 and again["duplicates"] == ["id-1"] and IdentityLink.objects.count() == 1


def test_identify_with_a_birthday_moves_the_customers_history_to_the_new_age_group(ingest_secret):
    track = {"event": "Order Completed", "messageId": "o-1", "userId": "cust-5", "timestamp": TS,
             "properties": {"order_id": "o-1", "products": [{"product_id": "p", "price": 10, "quantity": 1}]}}
    assert send("/v1/t", track, ingest_secret).json()["accepted"] == 1
    from insights.models import EventHourly

    assert set(EventHourly.objects.values_list("age_group", flat=True)) == {"unknown"}
    body = {"messageId": "id-2", "userId": "cust-5", "timestamp": TS, "traits": {"birthday": "1950-06-01"}}
    assert send("/v1/i", body, ingest_secret).json()["accepted"] == 1
    customer = Customer.objects.get(external_id="cust-5")
    assert customer.age_group == "66+"
    assert set(EventHourly.objects.filter(events__gt=0).values_list("age_group", flat=True)) == {"66+"}


@pytest.mark.parametrize("path", ["/v1/alias", "/v1/a"])
def test_alias_is_acknowledged_and_recorded(ingest_secret, path):
    body = {"messageId": "al-1", "userId": "cust-1", "previousId": "anon-77", "timestamp": TS}
    response = send(path, body, ingest_secret)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    link = IdentityLink.objects.get()
    assert (link.kind, link.customer.external_id, link.previous_id) == ("alias", "cust-1", "anon-77")
    missing = send(path, {"messageId": "al-2", "userId": "cust-1"}, ingest_secret).json()
    assert missing["rejected"][0]["errors"] == {"previousId": "required"}


def test_group_calls_are_ignored_and_a_batch_on_the_short_path_holds_every_type(ingest_secret):
    batch = [
        {"type": "page", "messageId": "b-1", "anonymousId": "a", "timestamp": TS},
        {"type": "track", "event": "Product Viewed", "messageId": "b-2", "anonymousId": "a", "timestamp": TS,
         "properties": {"product_id": "p-1"}},
        {"type": "identify", "messageId": "b-3", "userId": "u", "anonymousId": "a", "traits": {"name": "Bo"}},
        {"type": "alias", "messageId": "b-4", "userId": "u", "previousId": "a"},
        {"type": "group", "messageId": "b-5", "userId": "u", "groupId": "g"},
        {"type": "bogus", "messageId": "b-6", "userId": "u"},
    ]
    ack = send("/v1/b", {"batch": batch}, ingest_secret).json()
    assert ack["accepted"] == 4
    assert [i["index"] for i in ack["ignored"]] == [4]
    assert [(r["index"], list(r["errors"])) for r in ack["rejected"]] == [(5, ["type"])]
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["b-1", "b-2"]
    assert Customer.objects.get(external_id="u").name == "Bo"


def test_bad_identify_values_are_per_message_reasons(ingest_secret):
    batch = [{"type": "identify", "messageId": "i-1", "traits": {"name": "x"}},
             {"type": "identify", "messageId": "i-2", "userId": {"id": 1}},
             {"type": "identify", "messageId": "i-3", "userId": "ok", "traits": "not an object"},
             {"type": "identify", "messageId": "i-4", "userId": "ok", "timestamp": "yesterday"}]
    ack = send("/v1/b", {"batch": batch}, ingest_secret).json()
    assert ack["accepted"] == 0
    assert [(r["index"], sorted(r["errors"])) for r in ack["rejected"]] == [
        (0, ["userId"]), (1, ["userId"]), (2, ["traits"]), (3, ["timestamp"])]


def test_page_events_make_sessions_but_not_funnel_views(ingest_secret):
    for n in range(2):
        send("/v1/p", {"messageId": f"s-{n}", "userId": "u-s", "timestamp": f"2024-03-01T10:0{n}:00Z"}, ingest_secret)
    from insights.services import analytics_process_pending

    analytics_process_pending(max_rows=100)
    session = Session.objects.get()
    assert session.funnel_step == 0
