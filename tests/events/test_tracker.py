"""/tracker.js: served to anyone, cacheable, small (≤ 6 KB gzipped), no dependencies; the snippet
that loads it."""

from __future__ import annotations

import gzip
import re

import pytest
from django.test import Client

from events.services import ingest_key_create, snippet_for
from events.views import TRACKER_PATH


@pytest.mark.django_db
def test_the_tracker_is_served_signed_out_with_a_cache_header():
    response = Client().get("/tracker.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "public, max-age=3600"
    assert b"tracker.js" in response.content and response.content == TRACKER_PATH.read_bytes()


def test_the_tracker_is_small_and_has_no_dependencies():
    source = TRACKER_PATH.read_bytes()
    assert len(gzip.compress(source, compresslevel=9)) <= 6 * 1024
    text = source.decode()
    assert not re.search(r"\bimport\b|\brequire\(|<script", text)  # loads nothing else
    for needed in ("sendBeacon", "keepalive", "localStorage", "/v1/b", "utm_", "consent", "data-track"):
        assert needed in text, needed


@pytest.mark.django_db
def test_the_snippet_queues_calls_and_loads_the_tracker_from_this_server():
    key, secret = ingest_key_create(name="web", public=True, origins=["https://shop.example"])
    snippet = snippet_for(key, server="https://analytics.example")
    assert secret in snippet and "'https://analytics.example'" in snippet and "/tracker.js" in snippet
    assert "t.q.push" in snippet and "tracker.page();" in snippet


@pytest.mark.django_db
def test_the_snippet_asks_for_consent_with_one_switch_to_turn_it_off():
    key, _ = ingest_key_create(name="web", public=True, origins=["https://shop.example"])
    snippet = snippet_for(key, server="https://analytics.example")
    assert snippet.count("tracker.consentRequired = true;") == 1
    assert snippet.index("tracker.consentRequired = true;") < snippet.index("tracker.page();")
    assert "tracker.consent(true)" in snippet and "set false" in snippet  # what to call, and the switch


def test_the_trackers_batches_fit_what_a_public_key_may_send():
    from django.conf import settings

    batch = int(re.search(r"MAX_BATCH = (\d+)", TRACKER_PATH.read_text())[1])
    assert batch <= settings.PUBLIC_MAX_BATCH_EVENTS
    assert TRACKER_PATH.read_text().count("buf.splice(0, MAX_BATCH)") == 2  # fetch and sendBeacon alike
