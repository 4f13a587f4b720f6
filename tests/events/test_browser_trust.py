"""What a public (browser) key may say (docs/trust.md), tried as an attacker would: nothing but the key
copied from a store's page, the store's Origin and a browser User-Agent, through the real entry points
(the Segment paths, the native API). Forged refunds and cancels are refused per event (the good events
beside them stored); an identify naming a real customer changes neither their profile, nor their age
group, nor their events; alias is refused; an anonymous id a server linked stays linked; and the
store's figures (the KPI selector, after derivation) are the same afterwards."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from customers.models import Customer
from customers.services import customers_import_csv
from events.models import Event, IdentityLink, IngestKey
from events.services import events_ingest_segment, ingest_key_create, source_of_key
from insights import selectors
from insights.filters import MetricFilter
from insights.services import analytics_process_pending

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
TS = "2024-03-01T10:00:00Z"
DAY = MetricFilter.from_query({"start": "2024-03-01", "end": "2024-03-01"})
REFUSED = "not accepted from a public (browser) key"
OTHER_DAY = "2024-03-02T12:00:00Z"  # what a browser may send lands here: the figures of DAY stay the same


@pytest.fixture
def keys():
    _, public = ingest_key_create(name="storefront", public=True, origins=[SHOP])
    _, secret = ingest_key_create(name="server")
    return public, secret


def from_browser(path: str, body: dict, public: str, address: str = "203.0.113.5"):
    """What anyone with the page source can send: the public key, the shop's Origin, a browser's UA."""
    return Client().post(path, data=json.dumps({**body, "writeKey": public}).encode(), content_type="text/plain",
                         HTTP_ORIGIN=SHOP, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR=address)


def from_server(path: str, body: dict, secret: str):
    auth = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
    return Client().post(path, data=json.dumps(body).encode(), content_type="application/json",
                         HTTP_AUTHORIZATION=auth)


def order(message_id: str, user: str, order_id: str, minute: int) -> dict:
    return {"type": "track", "event": "Order Completed", "messageId": message_id, "userId": user,
            "timestamp": f"2024-03-01T10:{minute:02d}:00Z",
            "properties": {"order_id": order_id, "products": [{"product_id": "lamp", "price": 40, "quantity": 1},
                                                              {"product_id": "mug", "price": 12, "quantity": 2}]}}


@pytest.fixture
def store(keys):
    """Customer 12, known to the store's server (profile and age from a server identify, two orders);
    customer 7 from a profile import; an order of 7's; derived."""
    _, secret = keys
    identify = {"type": "identify", "messageId": "srv-i-12", "userId": "12", "anonymousId": "a-12", "timestamp": TS,
                "traits": {"name": "Ada Lovelace", "email": "ada@example.com", "age": 40, "city": "London"}}
    customers_import_csv(lines=["customer_id,name,email,age", "7,Grace Hopper,grace@example.com,70"])
    batch = [identify, order("srv-o-1", "12", "o-12", 1), order("srv-o-2", "12", "o-13", 40),
             order("srv-o-3", "7", "o-7", 20),
             {"type": "page", "messageId": "srv-p-1", "userId": "12", "timestamp": "2024-03-01T10:00:30Z"}]
    assert from_server("/v1/batch", {"batch": batch}, secret).json()["accepted"] == 8  # order lines one each
    analytics_process_pending()
    return figures()


def figures() -> dict:
    """The store's figures: every KPI for the day, overall and in the victims' age groups; each victim's
    profile and events."""
    analytics_process_pending()
    out: dict = {group: selectors.kpis_stats(DAY.__class__(start=DAY.start, end=DAY.end, age_group=group))
                 for group in ("36-45", "66+", "unknown")}
    out["all"] = selectors.kpis_stats(DAY)
    for external_id in ("12", "7"):
        c = Customer.objects.get(external_id=external_id)
        out[external_id] = ((c.name, c.email, c.age, c.age_group, c.city),
                            sorted(Event.objects.filter(customer=c).values_list("event_id", flat=True)))
    return out


def test_the_victims_are_set_up_as_the_store_said(store):
    assert store["12"][0] == ("Ada Lovelace", "ada@example.com", 40, "36-45", "London")
    assert store["7"][0][2:4] == (70, "66+")
    assert store["all"]["revenue"] == 3 * 64.0 and store["all"]["orders"] == 3


def test_forged_refunds_and_cancels_are_refused_beside_a_stored_page(keys, store):
    public, _ = keys
    batch = [
        {"type": "track", "event": "Order Refunded", "messageId": "att-r", "userId": "12", "timestamp": TS,
         "properties": {"order_id": "o-12", "total": 5_000_000}},
        {"type": "track", "event": "Order Cancelled", "messageId": "att-c", "userId": "7", "timestamp": TS,
         "properties": {"order_id": "o-7"}},
        {"type": "page", "messageId": "att-p", "anonymousId": "a-att", "timestamp": OTHER_DAY},
    ]
    ack = from_browser("/v1/b", {"batch": batch}, public).json()
    assert ack["accepted"] == 1 and ack["duplicates"] == []
    assert [(r["index"], r["event_id"], list(r["errors"])) for r in ack["rejected"]] == [
        (0, "att-r", ["event"]), (1, "att-c", ["event"])]
    assert REFUSED in ack["rejected"][0]["errors"]["event"] and "refunds" in ack["rejected"][0]["errors"]["event"]
    assert "cancellations" in ack["rejected"][1]["errors"]["event"]
    assert Event.objects.get(event_id="att-p").customer.external_id == "anon:a-att"
    assert not Event.objects.filter(action__in=["refund", "cancel"]).exists()
    assert figures() == store  # (the page the attacker may send is on another day)
    # The refusal carries a stable code (what a client reads to tell it from a bad field).
    public_key = IngestKey.objects.get(name="storefront")
    result = events_ingest_segment(messages=batch[:2], source=source_of_key(public_key))
    assert {r["errors"]["event"].code for r in result.rejected} == {"not_allowed_from_browser"}


def test_the_native_api_refuses_them_too(keys, store):
    public, _ = keys
    events = [{"event_id": "n-1", "customer_id": "12", "action": "refund", "order_id": "o-12", "amount": "5000000",
               "timestamp": TS},
              {"event_id": "n-2", "customer_id": "7", "action": "cancel", "order_id": "o-7", "timestamp": TS},
              {"event_id": "n-3", "customer_id": "12", "action": "abandon", "timestamp": TS},
              {"event_id": "n-4", "anonymous_id": "a-att", "action": "view", "product_id": "lamp",
               "timestamp": OTHER_DAY}]
    response = Client().post("/api/v1/events", data=json.dumps({"events": events}), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {public}", HTTP_ORIGIN=SHOP, HTTP_USER_AGENT=BROWSER)
    ack = response.json()
    assert response.status_code == 200 and ack["accepted"] == 1
    assert [(r["index"], r["event_id"]) for r in ack["rejected"]] == [(0, "n-1"), (1, "n-2"), (2, "n-3")]
    assert all(REFUSED in r["errors"]["action"] for r in ack["rejected"])
    assert list(Event.objects.filter(event_id__startswith="n-").values_list("event_id", flat=True)) == ["n-4"]
    assert figures() == store


def test_an_identify_naming_a_real_customer_changes_nothing_of_theirs(keys, store):
    public, _ = keys
    hijack = {"messageId": "att-i", "userId": "12", "anonymousId": "a-att", "timestamp": TS,
              "traits": {"name": "Mallory", "email": "mallory@evil.example", "age": 80, "city": "Nowhere",
                         "birthday": "1940-01-01"}}
    assert from_browser("/v1/i", hijack, public).json()["accepted"] == 1  # the link is recorded
    assert IdentityLink.objects.filter(message_id="att-i").exists()
    on_seven = {"messageId": "att-i7", "userId": "7", "anonymousId": "a-att7", "timestamp": TS,
                "traits": {"age": 19}}
    assert from_browser("/v1/identify", on_seven, public).json()["accepted"] == 1
    assert figures() == store  # profiles, age groups, events, and every figure


def test_a_browser_fills_only_empty_fields_and_never_an_age(keys, db):
    public, _ = keys
    body = {"messageId": "b-i", "userId": "new-1", "anonymousId": "a-new", "timestamp": TS,
            "traits": {"name": "New Shopper", "email": "new@example.com", "age": 30}}
    assert from_browser("/v1/i", body, public).json()["accepted"] == 1
    customer = Customer.objects.get(external_id="new-1")
    assert (customer.name, customer.email, customer.age, customer.age_group) == (
        "New Shopper", "new@example.com", None, "unknown")
    again = {**body, "messageId": "b-i2", "traits": {"name": "Someone Else", "city": "Paris"}}
    from_browser("/v1/i", again, public)
    customer.refresh_from_db()
    assert (customer.name, customer.city) == ("New Shopper", "Paris")
    assert IdentityLink.objects.get(message_id="b-i").traits["age"] == 30  # kept as sent, as a record


def test_alias_is_refused_and_the_servers_later_events_stay_with_their_customer(keys, store):
    public, secret = keys
    response = from_browser("/v1/a", {"messageId": "att-a", "userId": "x", "previousId": "12"}, public)
    ack = response.json()
    assert response.status_code == 200 and ack["accepted"] == 0
    assert REFUSED in ack["rejected"][0]["errors"]["type"] and "alias" in ack["rejected"][0]["errors"]["type"]
    batch = [{"type": "alias", "messageId": "att-a2", "userId": "x", "previousId": "7"},
             {"type": "page", "messageId": "att-p2", "anonymousId": "a-att", "timestamp": OTHER_DAY}]
    ack = from_browser("/v1/batch", {"batch": batch}, public).json()
    assert ack["accepted"] == 1 and [r["index"] for r in ack["rejected"]] == [0]
    assert not IdentityLink.objects.filter(kind="alias").exists()
    assert not Customer.objects.filter(external_id="x").exists()
    assert Customer.objects.get(external_id="12").merged_into_id is None
    later = {"event": "Product Viewed", "messageId": "srv-late", "userId": "12", "timestamp": "2024-03-01T11:00:00Z",
             "properties": {"product_id": "lamp"}}
    assert from_server("/v1/t", later, secret).json()["accepted"] == 1
    assert Event.objects.get(event_id="srv-late").customer.external_id == "12"
    assert figures()["12"][1] == sorted([*store["12"][1], "srv-late"])


def test_an_anonymous_id_the_server_linked_is_not_relinked_by_a_browser(keys, store):
    public, _ = keys
    # The server linked a-12 to customer 12 (the store fixture's identify); the attacker claims it.
    claim = {"messageId": "att-l", "userId": "mallory", "anonymousId": "a-12", "timestamp": TS}
    assert from_browser("/v1/i", claim, public).json()["accepted"] == 1
    visit = {"messageId": "a12-p", "anonymousId": "a-12", "timestamp": OTHER_DAY}
    assert from_browser("/v1/p", visit, public).json()["accepted"] == 1
    assert Event.objects.get(event_id="a12-p").customer.external_id == "12"  # still customer 12's visitor
    assert Customer.objects.get(external_id="anon:a-12").merged_into.external_id == "12"
    assert not Event.objects.filter(customer__external_id="mallory").exists()
    assert figures()["12"][1] == sorted([*store["12"][1], "a12-p"])


def test_a_visitors_own_browsing_joins_the_customer_it_names_without_touching_theirs(keys, store):
    """What every client-side identify allows (a visitor logging in), and all it allows: the visitor's
    own anonymous events join the named customer; the customer's events, profile and group stay."""
    public, _ = keys
    visit = {"messageId": "v-p", "anonymousId": "a-v", "timestamp": OTHER_DAY}
    assert from_browser("/v1/p", visit, public).json()["accepted"] == 1
    login = {"messageId": "v-i", "userId": "12", "anonymousId": "a-v", "timestamp": OTHER_DAY,
             "traits": {"name": "Not Ada"}}
    assert from_browser("/v1/i", login, public).json()["accepted"] == 1
    after = figures()
    assert after["12"] == (store["12"][0], sorted([*store["12"][1], "v-p"]))
    assert {k: v for k, v in after.items() if k != "12"} == {k: v for k, v in store.items() if k != "12"}
