"""Incremental upkeep (ingest hook + pending windows + idle closing) equals a full rebuild."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event
from insights.models import Cart, DailyPeople, PendingWindow, Session, SessionDaily
from insights.people import as_int, members
from insights.rebuild import analytics_rebuild
from insights.rollup_store import DERIVED_MODELS, ROLLUP_TABLES
from insights.services import analytics_process_pending, sessions_close_idle
from insights.tasks import close_idle_sessions_task, process_pending_analytics_task
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import build_store, ingest

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2024, 5, 6, 8, 0, tzinfo=dt.UTC)


def snapshot() -> dict:
    """Every derived table as comparable values (rollup rows that sum to nothing are left out)."""
    out: dict = {}
    for name, (model, key_cols) in ROLLUP_TABLES.items():
        counters = [f.column for f in model._meta.concrete_fields if not f.primary_key and f.column not in key_cols]
        rows = {}
        for row in model._default_manager.values_list(*key_cols, *counters):
            key, values = row[:len(key_cols)], row[len(key_cols):]
            values = tuple(Decimal(str(v)).quantize(Decimal("0.01")) if isinstance(v, Decimal | float) else v
                           for v in values)
            if any(v for v in values):
                rows[key] = values
        out[name] = rows
    # the people bitmaps (insights.people): compared as sets of customers, so trailing zero bytes do not count
    out["people"] = sorted((p.kind, p.day, tuple(members(as_int(p.bits)))) for p in DailyPeople.objects.all()
                           if as_int(p.bits))
    out["sessions"] = sorted((s.customer_id, s.key, s.age_group, s.closed, s.event_count, s.funnel_step,
                              json.dumps(s.summary, sort_keys=True)) for s in Session.objects.all())
    carts = list(Cart.objects.select_related("session"))
    # a cart carries its session's channel (the channel filter reads it from the carts' index)
    assert [c.channel for c in carts] == [c.session.channel for c in carts]
    out["carts"] = sorted((c.session.key, c.customer_id, c.channel, c.state, c.items, str(c.value),
                           str(c.revenue_left), c.opened_at, c.closed_at) for c in carts)
    return out


def test_fixture_incremental_equals_rebuild():
    build_store()
    incremental = snapshot()
    assert incremental["sessions"] and incremental["events_hourly"]
    analytics_rebuild()
    assert snapshot() == incremental


def test_rebuild_command_is_idempotent(capsys):
    build_store()
    before = snapshot()
    call_command("rebuild_rollups", "--no-progress")
    call_command("rebuild_rollups", "--no-progress")
    assert "Rebuilt from 23 events: 7 sessions" in capsys.readouterr().out
    assert snapshot() == before


def test_open_cart_closes_after_30_idle_minutes():
    CustomerFactory(external_id="live", age=50)
    ProductFactory(external_id="lp", category="books", price=Decimal("12.00"))
    now = timezone.now().replace(microsecond=0)
    ingest([{"event_id": "live-1", "customer_id": "live", "action": "add_to_cart", "product_id": "lp",
             "product_price": "12.00", "timestamp": (now - dt.timedelta(minutes=10)).isoformat()}])
    assert PendingWindow.objects.count() == 1
    assert process_pending_analytics_task() == 1 and PendingWindow.objects.count() == 0
    cart = Cart.objects.get()
    assert cart.state == "open" and not cart.session.closed
    assert SessionDaily.objects.get(category="").carts_open == 1
    assert close_idle_sessions_task() == 0  # still within 30 minutes
    later = now + dt.timedelta(minutes=21)
    assert sessions_close_idle(as_of=later) == 1
    cart = Cart.objects.get()
    assert cart.state == "abandoned" and cart.session.closed and cart.revenue_left == Decimal("12.00")
    row = SessionDaily.objects.get(category="")
    assert (row.carts_open, row.carts_abandoned, float(row.revenue_left)) == (0, 1, 12.0)
    incremental = snapshot()
    analytics_rebuild(as_of=later)
    assert snapshot() == incremental


def test_ingest_hook_adds_event_counters_in_the_transaction():
    CustomerFactory(external_id="x", age=70)
    ProductFactory(external_id="xp", category="toys")
    ingest([{"event_id": "h-1", "customer_id": "x", "action": "view", "product_id": "xp",
             "timestamp": BASE.isoformat()}])
    from insights.models import EventDaily, EventHourly

    assert EventHourly.objects.get().events == 1 and EventDaily.objects.get().category == "toys"
    assert EventHourly.objects.get().age_group == "66+"
    assert Session.objects.count() == 0  # sessions follow when the pending window is processed


def derived_and_events_clear() -> None:
    for model in DERIVED_MODELS:
        model._default_manager.all().delete()
    Event.objects.all().delete()


def products_create(*, prefix: str) -> None:
    for i, cat in ((1, "a"), (2, "a"), (3, "b")):
        ProductFactory(external_id=f"{prefix}p{i}", category=cat, price=Decimal(f"{i * 7}.50"))


def wire_events(stream: list[dict], *, prefix: str) -> list[dict]:
    """Drawn events in the wire format: ids ``<prefix>-<n>``, a product where the action needs one."""
    raw = []
    for i, e in enumerate(stream):
        event = {"event_id": f"{prefix}-{i}", "customer_id": e["customer"], "action": e["action"],
                 "timestamp": (BASE + dt.timedelta(minutes=e["minute"])).isoformat(), "quantity": e["quantity"]}
        if e["product"] or e["action"] in ("view", "add_to_cart", "remove_from_cart", "purchase"):
            event["product_id"] = e["product"] or f"{prefix}p1"
        if e["session"]:
            event["session_id"] = e["session"]
        if e.get("order") and e["action"] == "purchase":
            event["order_id"] = e["order"]
        if e.get("amount") and e["action"] == "purchase":
            event["amount"] = e["amount"]
        raw.append(event)
    return raw


def batches_at(raw: list[dict], cuts: list[int]) -> list[list[dict]]:
    bounds = sorted({0, len(raw), *(c for c in cuts if c < len(raw))})
    return [raw[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


# --- property: a random stream with late and duplicate events -----------------------------------

ACTIONS = ["view", "view", "add_to_cart", "add_to_cart", "remove_from_cart", "checkout", "purchase", "abandon"]


def event_strategy(*, prefix: str, sessions: list[str], **more: st.SearchStrategy) -> st.SearchStrategy:
    """Events of customers ``<prefix>1..3`` over four hours, on products ``<prefix>p1..3`` or none."""
    return st.fixed_dictionaries({
        "customer": st.sampled_from([f"{prefix}1", f"{prefix}2", f"{prefix}3"]),
        "minute": st.integers(min_value=0, max_value=240),
        "action": st.sampled_from(ACTIONS),
        "product": st.sampled_from([f"{prefix}p1", f"{prefix}p2", f"{prefix}p3", None]),
        "quantity": st.integers(min_value=1, max_value=3),
        "session": st.sampled_from(sessions),
        **more,
    })


SESSIONS = ["", "", "", "sa", "sb"]
# A late event: it lands by an early event (``anchor``: an index, modulo the early events), of the same
# customer, within 29 minutes of it, so inside or right beside the session the first derivation run
# stored for it; in the anchor's own client session (or, for ``same_session`` False, in a drawn one).
late_strategy = st.fixed_dictionaries({
    "anchor": st.integers(min_value=0, max_value=23),
    "offset": st.integers(min_value=-29, max_value=29),
    "same_session": st.booleans(),
    "action": st.sampled_from(ACTIONS),
    "product": st.sampled_from(["rp1", "rp2", "rp3", None]),
    "quantity": st.integers(min_value=1, max_value=3),
    "session": st.sampled_from(SESSIONS),
    "order": st.sampled_from([None, None, "o1", "o2"]),
})


def late_events(early: list[dict], late: list[dict]) -> list[dict]:
    """The late events as drawn events of the stream: the first always in its anchor's session, so
    every stream re-derives at least one stored session."""
    out = []
    for n, e in enumerate(late):
        anchor = early[e["anchor"] % len(early)]
        same = n == 0 or e["same_session"]
        out.append({**e, "customer": anchor["customer"], "minute": anchor["minute"] + e["offset"],
                    "session": anchor["session"] if same else e["session"]})
    return out


def batches_sent(raw: list[dict], cuts: list[int], process_after: list[bool]) -> None:
    """The events in batches cut at ``cuts``, pending windows processed after those ``process_after`` says."""
    for n, batch in enumerate(batches_at(raw, cuts)):
        ingest(batch)
        if n < len(process_after) and process_after[n]:
            analytics_process_pending()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="r", sessions=SESSIONS, order=st.sampled_from([None, None, "o1", "o2"])),
                       min_size=1, max_size=24),
       late=st.lists(late_strategy, min_size=1, max_size=16),
       cuts=st.lists(st.integers(min_value=1, max_value=24), max_size=6),
       process_after=st.lists(st.booleans(), min_size=7, max_size=7),
       duplicates=st.lists(st.integers(min_value=0, max_value=39), max_size=5))
def test_random_stream_incremental_equals_rebuild(stream, late, cuts, process_after, duplicates):
    """Arrival in random batches, then a derivation run, then late events into the customers' stored
    sessions (in random batches too), then resends: the incremental tables equal a rebuild."""
    derived_and_events_clear()
    if not ProductFactory._meta.model.objects.filter(external_id="rp1").exists():
        products_create(prefix="r")
        CustomerFactory(external_id="r1", age=20)
        CustomerFactory(external_id="r2", age=None)
        CustomerFactory(external_id="r3", age=60)
    raw = wire_events(stream + late_events(stream, late), prefix="r")
    early, later = raw[:len(stream)], raw[len(stream):]
    batches_sent(early, cuts, process_after[:4])
    analytics_process_pending()
    stored = set(Session.objects.values_list("pk", flat=True))
    assert stored  # every stream has sessions stored before its late events arrive
    batches_sent(later, cuts, process_after[4:])
    analytics_process_pending()
    assert stored - set(Session.objects.values_list("pk", flat=True)), "no stored session was re-derived"
    resent = [raw[i] for i in duplicates if i < len(raw)]
    if resent:
        ingest(resent)  # duplicates: nothing changes
        analytics_process_pending()
    incremental = snapshot()
    assert Event.objects.count() == len(raw)
    assert sum(v[0] for v in incremental["events_hourly"].values()) == len(raw)  # every event counted once
    analytics_rebuild()
    assert snapshot() == incremental
