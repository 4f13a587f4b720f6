"""Exposures through each server entry point land in the per-visitor table and the readout; the
hand-computed fixture pins conversion, its Wilson interval and net revenue per visitor
(docs/experiments.md)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from events.services import events_ingest, events_ingest_segment, ingest_key_create
from experiments.models import Exposure
from experiments.selectors import experiment_readout
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def ev(n, who, minute, action="page", **extra):
    event = {"event_id": f"x-{n}", "customer_id": who, "action": action,
             "timestamp": f"2026-11-01T10:{minute:02d}:00Z", **extra}
    return event


def buy(n, who, minute, order_id, price, **extra):
    return ev(n, who, minute, "purchase", product_id="lamp", product_price=price, order_id=order_id, **extra)


def fixture_events():
    """Control A: 4 visitors, 1 buys 40.00 (after exposure), 1 bought 30.00 before exposure only.
    B: 4 visitors: b1 buys 50.00 then 20.00 of it is refunded; b2 buys 10.00 then cancels; b3 buys
    15.00 with a 5.00 discount. Plus a bot in B and a visitor seen in A then B (counted apart)."""
    e = [ev(1, "a1", 1, experiment="hero", variant="A"), buy(2, "a1", 2, "o-a1", "40.00"),
         buy(3, "a2", 0, "o-a2", "30.00"), ev(4, "a2", 1, experiment="hero", variant="A"),
         ev(5, "a3", 1, experiment="hero", variant="A"), ev(6, "a4", 1, experiment="hero", variant="A"),
         ev(7, "b1", 1, experiment="hero", variant="B"), buy(8, "b1", 2, "o-b1", "50.00"),
         ev(9, "b1", 3, "refund", order_id="o-b1", amount="20.00"),
         ev(10, "b2", 1, experiment="hero", variant="B"), buy(11, "b2", 2, "o-b2", "10.00"),
         ev(12, "b2", 3, "cancel", order_id="o-b2"),
         ev(13, "b3", 1, experiment="hero", variant="B"),
         buy(14, "b3", 2, "o-b3", "15.00", order={"discount": "5.00"}),
         ev(15, "b4", 1, experiment="hero", variant="B"),
         ev(16, "bot", 1, experiment="hero", variant="B", context={"user_agent": BOT_UA}),
         ev(17, "x", 1, experiment="hero", variant="A"), ev(18, "x", 2, experiment="hero", variant="B")]
    return e


def test_hand_computed_fixture_pins_conversion_interval_and_net_revenue_per_visitor():
    ProductFactory(external_id="lamp", price=40)
    result = events_ingest(raw_events=fixture_events(), broadcast=False)
    assert result.rejected == []
    r = experiment_readout(name="hero")
    a, b = r.variants
    assert (r.control, a.name, b.name) == ("A", "A", "B")
    # A: a1 converts (40.00); a2's order came before exposure (pre-exposure revenue, not a conversion).
    assert (a.visitors, a.conversions, a.rate) == (4, 1, 0.25)
    assert a.rate_interval == pytest.approx((0.045587, 0.699359), abs=2e-6)  # Wilson, z = 1.96: 0.372473 ± 0.326886
    assert a.revenue_per_visitor == pytest.approx(40.00 / 4)
    # B: b1 50 − 20 refunded = 30; b2 cancelled: counts nowhere; b3 15 − 5 discount = 10.
    assert (b.visitors, b.conversions, b.rate) == (4, 2, 0.5)
    assert b.revenue_per_visitor == pytest.approx((30.00 + 10.00) / 4)
    assert (b.bots, a.conflicting) == (1, 1)
    rows = {e.customer.external_id: e for e in Exposure.objects.select_related("customer")}
    assert rows["a2"].pre_revenue == Decimal("30.00") and not rows["a2"].converted
    assert rows["b2"].revenue == Decimal("0.00") and not rows["b2"].converted
    assert rows["x"].variant == "A" and rows["x"].conflicting
    assert any("counted apart" in s for s in r.sentences)


def test_first_variant_wins_even_when_it_arrives_late():
    events_ingest(raw_events=[ev(1, "v", 5, experiment="e", variant="B")], broadcast=False)
    events_ingest(raw_events=[ev(2, "v", 1, experiment="e", variant="A")], broadcast=False)
    row = Exposure.objects.get()
    assert (row.variant, row.conflicting) == ("A", True)


def test_native_exposure_is_validated_and_bounded():
    result = events_ingest(raw_events=[ev(1, "v", 1, experiment="e"), ev(2, "v", 1, experiment="e" * 101,
                                                                           variant="A")], broadcast=False)
    assert result.accepted == 0
    assert result.rejected[0]["errors"] == {"variant": "experiment and variant are sent together"}
    assert "experiment" in result.rejected[1]["errors"]


def test_segment_experiment_viewed_and_a_buyer_who_identified_counts_as_converted():
    ProductFactory(external_id="lamp", price=40)
    at = "2026-11-01T10:{:02d}:00Z".format
    result = events_ingest_segment(messages=[
        {"type": "track", "event": "Experiment Viewed", "messageId": "m1", "anonymousId": "anon-1",
         "timestamp": at(1), "properties": {"experiment_name": "checkout", "variation_name": "green"}},
        {"type": "track", "event": "Experiment Viewed", "messageId": "m2", "anonymousId": "anon-2",
         "timestamp": at(1), "properties": {"experiment_id": "checkout", "variation_id": "control"}},
        {"type": "identify", "messageId": "m3", "userId": "c-1", "anonymousId": "anon-1", "timestamp": at(2)},
        {"type": "track", "event": "Order Completed", "messageId": "m4", "userId": "c-1", "timestamp": at(3),
         "properties": {"order_id": "o-1", "products": [{"product_id": "lamp", "price": 40, "quantity": 1}]}},
    ], broadcast=False)
    assert result.rejected == []
    r = experiment_readout(name="checkout")
    by = {v.name: v for v in r.variants}
    assert r.control == "control"
    assert (by["green"].visitors, by["green"].conversions, by["green"].revenue_per_visitor) == (1, 1, 40.0)
    assert Exposure.objects.get(variant="green").customer.external_id == "c-1"


def test_experiment_viewed_without_a_variation_is_refused_with_a_reason():
    result = events_ingest_segment(messages=[
        {"type": "track", "event": "Experiment Viewed", "messageId": "m1", "anonymousId": "a",
         "timestamp": "2026-11-01T10:00:00Z", "properties": {"experiment_name": "e"}}], broadcast=False)
    assert result.accepted == 0 and "properties.variation_name" in result.rejected[0]["errors"]


def test_a_public_key_may_send_exposures():
    _key, secret = ingest_key_create(name="shop", public=True, origins=["https://shop.example"])
    body = {"writeKey": secret, "batch": [
        {"type": "track", "event": "Experiment Viewed", "messageId": "m1", "anonymousId": "a-1",
         "timestamp": "2026-11-01T10:00:00Z", "properties": {"experiment_name": "e", "variation_name": "B"}}]}
    response = Client().post("/v1/b", data=json.dumps(body), content_type="text/plain",
                             HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200, response.content
    assert Exposure.objects.get().variant == "B"


def test_the_demo_reset_takes_the_experiments_with_the_events():
    from events.simulation import simulator_reset_demo
    from experiments.models import Experiment

    events_ingest(raw_events=[ev(1, "v", 1, experiment="e", variant="A")], broadcast=False)
    assert Experiment.objects.count() == 1
    simulator_reset_demo()
    assert Experiment.objects.count() == 0 and Exposure.objects.count() == 0


def test_native_exposure_over_http_then_identify_and_buy_counts_as_converted():
    ProductFactory(external_id="lamp", price=40)
    _key, secret = ingest_key_create(name="server")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def post(path, body):
        response = Client().post(path, data=json.dumps(body), content_type="application/json", **auth)
        assert response.status_code == 200, response.content[:300]

    post("/api/v1/events", {"events": [
        {"event_id": "n1", "anonymous_id": "v-1", "action": "page", "timestamp": "2026-11-01T10:00:00Z",
         "experiment": "banner", "variant": "B"},
        {"event_id": "n2", "anonymous_id": "v-2", "action": "page", "timestamp": "2026-11-01T10:00:00Z",
         "experiment": "banner", "variant": "A"}]})
    post("/v1/identify", {"messageId": "i1", "userId": "c-9", "anonymousId": "v-1",
                          "timestamp": "2026-11-01T10:01:00Z", "writeKey": secret})
    post("/api/v1/events", {"events": [{"event_id": "n3", "customer_id": "c-9", "action": "purchase",
                                        "product_id": "lamp", "order_id": "o-9",
                                        "timestamp": "2026-11-01T10:02:00Z"}]})
    by = {v.name: v for v in experiment_readout(name="banner").variants}
    assert (by["B"].visitors, by["B"].conversions, by["B"].revenue_per_visitor) == (1, 1, 40.0)
    assert (by["A"].visitors, by["A"].conversions) == (1, 0)
