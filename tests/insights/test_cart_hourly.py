"""The hour × channel cart-outcome rollup (insights.hourly_models.CartHourly) on the hand-built store
(tests/insights/store_fixture.py): each cart in the hour its session started."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.models import CartHourly
from insights.rebuild import analytics_rebuild
from insights.services import sessions_close_idle
from tests.insights.store_fixture import build_store

pytestmark = pytest.mark.django_db


def _rows() -> dict:
    out = {}
    for r in CartHourly.objects.all():
        counts = (r.carts_open, r.carts_converted, r.carts_abandoned, r.carts_emptied)
        if any(counts):
            out[(r.hour.hour, r.channel)] = counts
    return out


def test_cart_outcomes_by_the_hour_their_session_started():
    build_store()
    sessions_close_idle(as_of=dt.datetime(2024, 3, 5, tzinfo=dt.UTC))
    expected = {
        (10, "Direct"): (0, 1, 1, 0),  # A1 converted, A2 (10:37) abandoned when idle
        (11, "Direct"): (0, 0, 0, 1),  # B1 emptied
        (12, "Direct"): (0, 0, 1, 0),  # B2 abandoned (explicit)
        (14, "Direct"): (0, 1, 0, 0),  # C2 converted; its late 14:58 view moved its start into 14h
    }
    assert _rows() == expected
    analytics_rebuild()
    assert _rows() == expected
