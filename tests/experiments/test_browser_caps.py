"""What a public (browser) key may create is bounded, and goes with its source
(docs/experiments.md#what-a-browser-key-may-create)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from events.models import Source
from events.services import events_ingest, ingest_key_create
from experiments.models import Experiment, Exposure, ExposureRecord, VariantStats
from insights.source_removal import source_remove

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example"


def _viewed(n: int, who: str, experiment: str, variant: str) -> dict:
    return {"type": "track", "event": "Experiment Viewed", "messageId": f"m{n}", "anonymousId": who,
            "timestamp": f"2026-11-01T10:{n % 60:02d}:00Z",
            "properties": {"experiment_name": experiment, "variation_name": variant}}


def _browser(secret: str, batch: list[dict]):
    response = Client().post("/v1/b", data=json.dumps({"writeKey": secret, "batch": batch}),
                             content_type="text/plain", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200, response.content
    return response


@override_settings(EXPERIMENT_BROWSER_MAX_EXPERIMENTS=3, EXPERIMENT_BROWSER_MAX_VARIANTS=2)
def test_a_public_key_creates_at_most_its_caps_and_a_server_is_not_bound_by_them():
    _key, secret = ingest_key_create(name="shop", public=True, origins=[ORIGIN])
    _browser(secret, [_viewed(n, f"a-{n}", f"exp-{n}", "A") for n in range(5)])
    assert sorted(Experiment.objects.values_list("name", flat=True)) == ["exp-0", "exp-1", "exp-2"]
    _browser(secret, [_viewed(10 + n, f"b-{n}", "exp-0", v) for n, v in enumerate("BCD")])
    assert set(VariantStats.objects.filter(experiment__name="exp-0").values_list("variant", flat=True)) == {"A", "B"}
    # A variant already there still counts from browsers; a server may add more.
    _browser(secret, [_viewed(20, "c-1", "exp-0", "B")])
    events_ingest(raw_events=[{"event_id": "s1", "customer_id": "s", "action": "page", "experiment": "exp-0",
                               "variant": "C", "timestamp": "2026-11-01T10:30:00Z"},
                              {"event_id": "s2", "customer_id": "s", "action": "page", "experiment": "srv",
                               "variant": "A", "timestamp": "2026-11-01T10:30:00Z"}], broadcast=False)
    assert Exposure.objects.filter(experiment__name="exp-0").count() == 4  # a-0, b-0, c-1, s
    assert Experiment.objects.get(name="srv").source_id is None
    assert Experiment.objects.filter(source__isnull=False).count() == 3


def test_a_browser_key_cannot_send_overlong_or_multiline_names():
    _key, secret = ingest_key_create(name="shop", public=True, origins=[ORIGIN])
    response = Client().post("/v1/b", data=json.dumps({"writeKey": secret, "batch": [
        _viewed(1, "a", "e" * 101, "A"), _viewed(2, "a", "e", "A\nB")]}), content_type="text/plain",
        HTTP_ORIGIN=ORIGIN)
    assert response.status_code in (200, 400)
    assert not Experiment.objects.exists()


def test_removing_the_key_removes_its_exposures_and_the_experiments_only_it_sent():
    key, secret = ingest_key_create(name="shop", public=True, origins=[ORIGIN])
    _browser(secret, [_viewed(1, "a-1", "mine", "A"), _viewed(2, "a-2", "shared", "B")])
    events_ingest(raw_events=[{"event_id": "s1", "customer_id": "s", "action": "page", "experiment": "shared",
                               "variant": "A", "timestamp": "2026-11-01T10:30:00Z"}], broadcast=False)
    source = Source.objects.get(ingest_key=key)
    assert ExposureRecord.objects.filter(source=source).count() == 2
    source_remove(source_pk=source.pk)
    assert list(Experiment.objects.values_list("name", flat=True)) == ["shared"]
    assert not ExposureRecord.objects.filter(source=source).exists()
    stats = {s.variant: s.visitors for s in VariantStats.objects.all() if s.visitors}
    assert stats == {"A": 1}


def test_removing_the_source_of_an_order_takes_the_conversion_out():
    from tests.factories import ProductFactory

    ProductFactory(external_id="lamp", price=40)
    _k, exposures = ingest_key_create(name="site")
    orders_key, orders = ingest_key_create(name="orders")

    def post(secret, events):
        response = Client().post("/api/v1/events", data=json.dumps({"events": events}),
                                 content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 200, response.content[:300]

    post(exposures, [{"event_id": "e1", "customer_id": "c", "action": "page", "experiment": "hero", "variant": "B",
                      "timestamp": "2026-11-01T10:00:00Z"}])
    post(orders, [{"event_id": "o1", "customer_id": "c", "action": "purchase", "product_id": "lamp",
                   "order_id": "o-1", "timestamp": "2026-11-01T10:05:00Z"}])
    assert VariantStats.objects.get(variant="B").conversions == 1
    source_remove(source_pk=Source.objects.get(ingest_key=orders_key).pk)
    stats = VariantStats.objects.get(variant="B")
    assert (stats.visitors, stats.conversions, stats.sum_y) == (1, 0, 0)
