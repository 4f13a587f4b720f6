"""The experiment/variant filter of the funnel, carts and acquisition pages (and their API and CSV), on
a hand-computed store (docs/experiments.md#experiments-in-the-rest-of-the-product)."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.roles import Role
from insights.filters import FilterError, MetricFilter
from insights.selectors.acquisition import acquisition_stats
from insights.selectors.carts import carts_stats
from insights.selectors.funnel import funnel_stats
from insights.services import analytics_process_pending
from tests.factories import ProductFactory
from tests.insights.store_fixture import ingest

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 5, 6)
Q = f"?start={DAY}&end={DAY}"
EMAIL = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}
BOT = {"user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}


def _visit(who: str, steps: str, variants: str, hour: int, context: dict | None = None) -> list[dict]:
    """One session of ``who``: a view carrying each exposure, then ``steps`` (c: add to cart, k:
    checkout, p: purchase of a 40.00 lamp)."""
    at = dt.datetime(2024, 5, 6, hour, 0, tzinfo=dt.UTC)
    events, n = [], 0

    def add(action: str, **extra) -> None:
        nonlocal n
        event = {"event_id": f"{who}-{n}", "customer_id": who, "action": action, "product_id": "lamp",
                 "session_id": f"s-{who}", "timestamp": (at + dt.timedelta(minutes=n)).isoformat(), **extra}
        events.append({**event, "context": context} if context else event)
        n += 1

    for v in variants:
        add("view", experiment="hero", variant=v)
    for step in steps:
        add({"c": "add_to_cart", "k": "checkout", "p": "purchase"}[step],
            **({"order_id": f"o-{who}"} if step == "p" else {}))
    return events


@pytest.fixture
def store():
    """A (4, from the newsletter): a0 buys, a1 abandons its cart, a2 and a3 only look.
    B (3, direct): b0 and b1 buy, b2 abandons. Not counted in either: o (never exposed) buys,
    x (seen in A and B) buys, a bot in B abandons."""
    ProductFactory(external_id="lamp", price=40)
    events = [*_visit("a0", "ckp", "A", 8, EMAIL), *_visit("a1", "c", "A", 8, EMAIL), *_visit("a2", "", "A", 8, EMAIL),
              *_visit("a3", "", "A", 8, EMAIL), *_visit("b0", "ckp", "B", 9), *_visit("b1", "ckp", "B", 9),
              *_visit("b2", "c", "B", 9), *_visit("o", "ckp", "", 10), *_visit("x", "ckp", "AB", 10),
              *_visit("bot", "c", "B", 10, BOT)]
    ingest(events)
    analytics_process_pending()


def _f(**kw) -> MetricFilter:
    return MetricFilter(start=DAY, end=DAY, **kw)


def _funnel(**kw) -> list[int]:
    return [s["sessions"] for s in funnel_stats(_f(**kw))["steps"]]


def test_the_funnel_of_each_variant(store):
    assert _funnel(experiment="hero", variant="A") == [4, 2, 1, 1]
    assert _funnel(experiment="hero", variant="B") == [3, 3, 2, 2]
    assert _funnel(experiment="hero") == [7, 5, 3, 3]
    # Everyone: x too; o's session has no view, so the funnel (steps in order) does not count it.
    assert _funnel() == [8, 6, 4, 4]
    assert _funnel(experiment="nope") == [0, 0, 0, 0]


def test_the_carts_of_each_variant(store):
    def closed(**kw):
        stats = carts_stats(_f(**kw))
        day = stats["over_time"][0] if stats["over_time"] else {}
        abandoned = sorted(r["customer_id"] for r in stats["recent_abandoned"])
        return day.get("converted"), day.get("abandoned"), stats["revenue_left"], abandoned

    assert closed(experiment="hero", variant="A") == (1, 1, 40.0, ["a1"])
    assert closed(experiment="hero", variant="B") == (2, 1, 40.0, ["b2"])
    assert closed() == (5, 2, 80.0, ["a1", "b2"])  # + o's and x's converted carts; the bot's never counts


def test_acquisition_of_each_variant(store):
    a = acquisition_stats(_f(experiment="hero", variant="A"))
    b = acquisition_stats(_f(experiment="hero", variant="B"))
    figures = ("sessions", "purchasing_sessions", "orders", "net_revenue", "carts_abandoned")
    assert [(r["channel"], *(r[k] for k in figures)) for r in a["channels"]] == [("Email", 4, 1, 1, 40.0, 1)]
    assert [(r["channel"], *(r[k] for k in figures)) for r in b["channels"]] == [("Direct", 3, 2, 2, 80.0, 1)]
    assert [r["campaign"] for r in a["campaigns"]] == ["spring"] and b["campaigns"] == []
    assert a["people"] == {"visitors": 4, "customers": 4, "buyers": 1}
    assert b["people"] == {"visitors": 3, "customers": 3, "buyers": 2}
    touch = {r["channel"]: r for r in b["attribution"]}
    assert touch["Direct"]["first_touch_revenue"] == 80.0 and touch["Direct"]["first_touch_buyers"] == 2


def test_scoped_by_everyone_the_acquisition_figures_are_the_rollups():
    ProductFactory(external_id="lamp", price=40)
    ingest([*_visit("a0", "ckp", "A", 8, EMAIL), *_visit("a1", "c", "A", 8), *_visit("b0", "ckp", "B", 9)])
    analytics_process_pending()
    everyone = acquisition_stats(_f())
    scoped = [acquisition_stats(_f(experiment="hero", variant=v)) for v in "AB"]
    for key in ("sessions", "orders", "net_revenue", "carts_abandoned", "carts_closed"):
        for channel in ("Email", "Direct"):
            total = next(r[key] for r in everyone["channels"] if r["channel"] == channel)
            assert total == sum(r[key] for s in scoped for r in s["channels"] if r["channel"] == channel)


def test_api_csv_and_pages_carry_the_filter(store, client_for):
    viewer = client_for(Role.VIEWER)
    steps = viewer.get(f"/api/v1/metrics/funnel{Q}&experiment=hero&variant=B").json()["steps"]
    assert [s["sessions"] for s in steps] == [3, 3, 2, 2]
    carts = viewer.get(f"/api/v1/metrics/carts{Q}&experiment=hero&variant=A").json()
    assert carts["revenue_left"] == 40.0
    assert viewer.get(f"/api/v1/metrics/funnel{Q}&variant=B").status_code == 400
    page = viewer.get(f"/funnel/{Q}&experiment=hero&variant=A").content.decode()
    assert 'name="experiment"' in page and '<option value="hero" selected>' in page
    assert '<option value="A" selected>' in page and "experiment=hero" in page  # nav links keep it
    other = viewer.get(f"/products/{Q}&experiment=hero&variant=A").content.decode()
    assert "cuts the funnel, carts and acquisition pages only" in other
    assert 'type="hidden" name="experiment" value="hero"' in other
    analyst = client_for(Role.ANALYST)
    csv = b"".join(analyst.get(f"/export/acquisition_channels.csv{Q}&experiment=hero&variant=B")
                   .streaming_content).decode()
    assert "Direct,3,2" in csv and "Email" not in csv


def test_the_filter_is_read_and_written_back():
    f = MetricFilter.from_query({"start": str(DAY), "end": str(DAY), "experiment": "hero", "variant": "B"})
    assert (f.experiment, f.variant) == ("hero", "B")
    assert "experiment=hero&variant=B" in f.to_query()
    with pytest.raises(FilterError):
        MetricFilter.from_query({"variant": "B"})
    with pytest.raises(FilterError):
        MetricFilter.from_query({"experiment": "x" * 101})
