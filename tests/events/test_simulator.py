"""Distribution tests of the pure behaviour model (issue 4 acceptance), on seeded runs."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from events.simulator import (
    ACTIONS,
    LiveState,
    SimParams,
    StoreModel,
    backfill,
    catalogue_from_items,
    live_step,
    synthetic_customers,
)
from products.services import CATALOGUE_PATH

END = datetime(2026, 3, 1, tzinfo=UTC)
IDLE = timedelta(minutes=30)


def _catalogue() -> list[dict]:
    return catalogue_from_items(json.loads(CATALOGUE_PATH.read_text()))


def _model(params: SimParams | None = None, customers: int = 2000, seed: int = 7) -> StoreModel:
    return StoreModel(synthetic_customers(customers, seed=seed), _catalogue(), params, seed=seed)


def _ts(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def _sessions(events: list[dict]) -> dict[str, list[dict]]:
    sessions: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        sessions[event["session_id"]].append(event)
    return sessions


def _cart_outcomes(events: list[dict], window_end: datetime) -> Counter:
    """DESIGN §4 from the events alone: a cart converts when a purchase follows in the session,
    is abandoned when the session ends (30 min idle or `abandon`) with items and no purchase,
    emptied when every item was removed, open while the session may still continue."""
    outcomes: Counter = Counter()
    for session in _sessions(events).values():
        items: dict[str, int] = {}
        opened = purchased = explicit = False
        for event in session:
            action = event["action"]
            if action == "add_to_cart":
                opened = True
                items[event["product_id"]] = event["quantity"]
            elif action == "remove_from_cart":
                items.pop(event["product_id"], None)
            elif action == "purchase":
                purchased = True
            elif action == "abandon":
                explicit = True
        if not opened:
            continue
        if purchased:
            outcomes["converted"] += 1
        elif not items:
            outcomes["emptied"] += 1
        elif explicit or _ts(session[-1]) + IDLE <= window_end:
            outcomes["abandoned"] += 1
        else:
            outcomes["open"] += 1
    return outcomes


def _abandonment(outcomes: Counter) -> float:
    closed = outcomes["converted"] + outcomes["abandoned"] + outcomes["emptied"]
    return outcomes["abandoned"] / closed


@pytest.fixture(scope="module")
def month_run() -> list[dict]:
    """A 30-day seeded run with 2000 customers (visit rates decide the volume)."""
    model = _model()
    return backfill(model, start=END - timedelta(days=30), end=END, seed=7).events()


def test_events_are_wire_format_and_in_window(month_run):
    assert len(month_run) > 15_000
    ids = [e["event_id"] for e in month_run]
    assert len(set(ids)) == len(ids)
    for event in month_run[:5000]:
        assert event["action"] in ACTIONS
        assert event["quantity"] >= 1 and event["product_price"] >= 0
        assert event["timestamp"].endswith("Z")
        assert (event["order_id"] is not None) == (event["action"] == "purchase")
        assert (event["product_id"] is None) == (event["action"] in ("checkout", "abandon"))
    stamps = [_ts(e) for e in month_run]
    assert stamps == sorted(stamps)
    assert END - timedelta(days=30) <= stamps[0] and stamps[-1] < END


def test_sessions_follow_the_metrics_session_rule(month_run):
    """One session_id per session, events under 30 minutes apart, a customer's sessions apart."""
    by_customer: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for session in _sessions(month_run).values():
        assert len({e["customer_id"] for e in session}) == 1
        stamps = [_ts(e) for e in session]
        assert all(b - a < IDLE for a, b in zip(stamps, stamps[1:], strict=False))
        by_customer[session[0]["customer_id"]].append((stamps[0], stamps[-1]))
    for spans in by_customer.values():
        spans.sort()
        assert all(nxt[0] - prev[1] >= IDLE for prev, nxt in zip(spans, spans[1:], strict=False))


def test_busiest_hour_is_inside_the_peak_window(month_run):
    hours = Counter(_ts(e).hour for e in month_run)
    busiest = hours.most_common(1)[0][0]
    params = SimParams()
    assert params.peak_start <= busiest < params.peak_end
    assert hours[busiest] > 3 * hours[4]  # and the night is quiet


def test_busiest_hour_follows_a_configured_peak():
    model = _model(SimParams(peak_start=9, peak_end=12), customers=800)
    events = backfill(model, start=END - timedelta(days=30), end=END, seed=3).events()
    busiest = Counter(_ts(e).hour for e in events).most_common(1)[0][0]
    assert 9 <= busiest < 12


def test_cart_abandonment_rate_matches_the_parameter(month_run):
    outcomes = _cart_outcomes(month_run, END)
    assert outcomes["converted"] > 300 and outcomes["emptied"] > 0
    assert abs(_abandonment(outcomes) - 0.70) <= 0.05


@pytest.mark.parametrize("rate", [0.5, 0.85])
def test_cart_abandonment_rate_follows_other_parameters(rate):
    model = _model(SimParams(abandonment_rate=rate), customers=1500)
    events = backfill(model, start=END - timedelta(days=30), end=END, seed=11).events()
    assert abs(_abandonment(_cart_outcomes(events, END)) - rate) <= 0.05


def test_returning_customers_convert_better(month_run):
    """Sessions of customers with an earlier purchase in the run convert better than sessions of
    customers who have not bought yet."""
    bought: set[str] = set()
    stats = {True: [0, 0], False: [0, 0]}  # returning -> [sessions, purchasing sessions]
    for session in sorted(_sessions(month_run).values(), key=lambda s: s[0]["timestamp"]):
        customer = session[0]["customer_id"]
        returning = customer in bought
        purchased = any(e["action"] == "purchase" for e in session)
        stats[returning][0] += 1
        stats[returning][1] += purchased
        if purchased:
            bought.add(customer)
    returning_rate = stats[True][1] / stats[True][0]
    first_rate = stats[False][1] / stats[False][0]
    assert returning_rate > 1.2 * first_rate


def test_dearer_carts_and_price_sensitive_shoppers_abandon_more(month_run):
    model = _model()
    sensitivity = {p.customer_id: p.price_sensitivity for p in model.profiles}
    carts = []  # (value, sensitivity, abandoned)
    for session in _sessions(month_run).values():
        adds = [e for e in session if e["action"] == "add_to_cart"]
        if not adds or not any(e["action"] in ("purchase", "abandon") for e in session) and \
                session[-1]["action"] == "remove_from_cart":
            continue
        purchased = any(e["action"] == "purchase" for e in session)
        value = sum(e["product_price"] * e["quantity"] for e in adds)
        carts.append((value, sensitivity[session[0]["customer_id"]], not purchased))

    def rate(rows):
        return sum(r[2] for r in rows) / len(rows)

    carts.sort(key=lambda r: r[0])
    third = len(carts) // 3
    assert rate(carts[-third:]) > rate(carts[:third])
    carts.sort(key=lambda r: r[1])
    assert rate(carts[-third:]) > rate(carts[:third])


def test_a_minority_of_frequent_buyers_makes_most_revenue(month_run):
    revenue: Counter = Counter()
    for event in month_run:
        if event["action"] == "purchase":
            revenue[event["customer_id"]] += event["product_price"] * event["quantity"]
    top = sorted(revenue.values(), reverse=True)[: 2000 // 10]  # top 10% of all customers
    assert sum(top) > 0.5 * sum(revenue.values())


def test_purchases_carry_one_line_per_cart_item(month_run):
    for session in list(_sessions(month_run).values())[:3000]:
        lines = [e for e in session if e["action"] == "purchase"]
        if not lines:
            continue
        assert len({e["order_id"] for e in lines}) == 1
        cart: dict[str, int] = {}
        for event in session:
            if event["action"] == "add_to_cart":
                cart[event["product_id"]] = event["quantity"]
            elif event["action"] == "remove_from_cart":
                cart.pop(event["product_id"], None)
        assert {e["product_id"]: e["quantity"] for e in lines} == cart
        assert any(e["action"] == "checkout" for e in session)


def test_november_december_revenue_above_the_monthly_mean():
    model = _model(customers=600)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = backfill(model, start=start, end=datetime(2026, 1, 1, tzinfo=UTC), seed=5, target_events=80_000).events()
    revenue: Counter = Counter()
    for event in events:
        if event["action"] == "purchase":
            revenue[_ts(event).month] += event["product_price"] * event["quantity"]
    assert len(revenue) == 12
    mean = sum(revenue.values()) / 12
    assert revenue[11] > mean and revenue[12] > mean
    assert revenue[12] > max(revenue[m] for m in range(1, 11))


def test_weekday_effects_follow_the_parameters():
    weights = (1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 2.0)  # quiet Saturdays, busy Sundays
    model = _model(SimParams(weekday_weights=weights), customers=800)
    events = backfill(model, start=END - timedelta(days=28), end=END, seed=2).events()
    days = Counter(_ts(e).weekday() for e in events)
    assert days[6] > days[0] > days[5]


def test_store_time_zone_moves_the_peak():
    model = _model(SimParams(time_zone="America/New_York"), customers=800)
    events = backfill(model, start=END - timedelta(days=30), end=END, seed=4).events()
    busiest_utc = Counter(_ts(e).hour for e in events).most_common(1)[0][0]
    assert 17 + 5 <= busiest_utc + (24 if busiest_utc < 12 else 0) < 22 + 5


def test_same_seed_same_events_and_other_seed_other_events():
    def run(seed: int) -> list[dict]:
        model = _model(customers=300, seed=seed)
        return backfill(model, start=END - timedelta(days=5), end=END, seed=seed).events()

    first = run(9)
    assert first == run(9)
    other = run(10)
    assert other != first
    assert not {e["event_id"] for e in first} & {e["event_id"] for e in other}


def test_target_event_count_is_met_within_one_session():
    model = _model(customers=500)
    run = backfill(model, start=END - timedelta(days=60), end=END, seed=1, target_events=20_000)
    assert 20_000 - 40 <= len(run) <= 20_000
    assert sum(len(chunk) for chunk in run.chunks(3000)) == len(run)


def test_live_step_unfolds_sessions_over_time_and_never_emits_the_future():
    model = _model(customers=2000)
    state = LiveState.new(seed=1, started=END)
    seen: list[dict] = []
    now = END
    for _ in range(120):  # ten minutes of 5-second ticks
        batch = live_step(model, state, now=now, rate=2.0, seed=1)
        assert all(_ts(e) <= now for e in batch)
        assert [e["timestamp"] for e in batch] == sorted(e["timestamp"] for e in batch)
        seen.extend(batch)
        state = LiveState.from_json(json.loads(json.dumps(state.to_json())))  # survives storage
        now += timedelta(seconds=5)
    assert state.pending  # sessions still in progress wait for later ticks
    assert all(item[0] > (now - timedelta(seconds=5)).timestamp() * 1000 for item in state.pending)
    assert 0.6 * 2.0 * 600 <= len(seen) <= 1.4 * 2.0 * 600  # about the configured rate
    assert len({e["event_id"] for e in seen}) == len(seen)
    sessions = _sessions(seen)
    spans = [(_ts(s[-1]) - _ts(s[0])) for s in sessions.values()]
    assert max(spans) > timedelta(seconds=30)  # sessions unfold over real time
    by_customer: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for session in sessions.values():
        by_customer[session[0]["customer_id"]].append((_ts(session[0]), _ts(session[-1])))
    for spans_ in by_customer.values():
        spans_.sort()
        assert all(nxt[0] > prev[1] for prev, nxt in zip(spans_, spans_[1:], strict=False))


def test_live_step_catches_up_only_a_bounded_slice_after_a_pause():
    model = _model(customers=500)
    state = LiveState.new(seed=1, started=END)
    live_step(model, state, now=END, rate=5.0)
    later = live_step(model, state, now=END + timedelta(hours=3), rate=5.0)
    assert len(later) < 5.0 * 60 * 2  # at most a minute's worth (plus pending), not three hours


def test_every_generated_event_passes_the_ingest_validation(month_run):
    from events.wire import FUTURE_TOLERANCE, parse_event

    model = _model(customers=500)
    state = LiveState.new(seed=2, started=END)
    live = []
    for step in range(60):
        live += live_step(model, state, now=END + timedelta(seconds=5 * step), rate=3.0, seed=2)
    assert live
    for event in month_run + live:
        parsed = parse_event(event, END + timedelta(seconds=300) + FUTURE_TOLERANCE * 0)
        assert not isinstance(parsed, dict), (event, parsed)
        assert parsed.timestamp <= END + timedelta(seconds=300)  # none in the future of its run


# --- golden runs: exact events, ids included, pinned across refactors ---------------------------

def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def test_golden_backfill_gives_exactly_the_pinned_events():
    model = StoreModel(synthetic_customers(200, seed=13), _catalogue(), seed=13)
    events = backfill(model, start=END - timedelta(days=3), end=END, seed=13).events()
    assert events[0]["event_id"] == "305ed728-ce3c-44bf-8bd4-000000000000"
    assert (len(events), _digest(events)) == (186, "dcb0f8f0c6beef66")  # issue 12: first events carry traffic context


def test_golden_backfill_to_a_target_in_another_time_zone_gives_exactly_the_pinned_events():
    params = SimParams(time_zone="Europe/Paris", abandonment_rate=0.6)
    model = StoreModel(synthetic_customers(150, seed=5), _catalogue(), params, seed=5)
    run = backfill(model, start=END - timedelta(days=10), end=END, seed=5, target_events=1500)
    events = [event for chunk in run.chunks(400) for event in chunk]
    assert (len(events), run.sessions, _digest(events)) == (1499, 418, "5cf5bc9de3aabdd9")


def test_golden_live_run_gives_exactly_the_pinned_events():
    model = StoreModel(synthetic_customers(600, seed=3), _catalogue(), seed=3)
    state = LiveState.new(seed=3, started=END)
    events: list[dict] = []
    for step in range(40):
        events += live_step(model, state, now=END + timedelta(seconds=5 * step), rate=1.5, seed=3)
    assert (len(events), _digest(events), _digest(state.pending)) == (194, "d5459dad91bf6572", "9c92de6dcdd2e511")
    assert (state.next_event, state.next_session, state.next_order, state.tick) == (314, 91, 6, 40)


def test_live_state_saved_under_the_old_keys_resumes_where_it_stopped():
    """A state stored before `carry`/`busy` were renamed carries on exactly as the renamed one."""
    model = _model(customers=500)
    state = LiveState.new(seed=2, started=END)
    for step in range(20):
        live_step(model, state, now=END + timedelta(seconds=5 * step), rate=3.0, seed=2)
    stored = json.loads(json.dumps(state.to_json()))
    assert "carry" not in stored and "busy" not in stored
    old_names = {"session_remainder": "carry", "busy_until": "busy"}
    saved_before = {old_names.get(key, key): value for key, value in stored.items()}
    assert saved_before["busy"] and 0 < saved_before["carry"] < 1
    resumed, renamed = LiveState.from_json(saved_before), LiveState.from_json(stored)
    assert resumed == renamed
    later = END + timedelta(seconds=100)
    assert live_step(model, resumed, now=later, rate=3.0, seed=2) == live_step(model, renamed, now=later, rate=3.0,
                                                                               seed=2)


def test_the_simulator_package_is_pure():
    """Nothing in events.simulator touches Django or the ORM: its only project import is the age rule."""
    import ast
    from pathlib import Path

    import events.simulator

    package = Path(events.simulator.__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    project = {name for name in imported if name.split(".")[0] in {"django", "customers", "events", "products",
                                                                     "insights", "ml", "accounts"}}
    assert project - {"customers.age"} == {name for name in project if name.startswith("events.simulator.")}


def test_sessions_come_from_channels_that_convert_differently():
    """Issue 12: each session's first event carries its traffic context (chunking does not change
    it), and Email visits convert clearly better than Paid Social ones."""
    from events.simulator.traffic import CHANNEL_MIX, session_channel
    from insights.channels import session_traffic

    model = StoreModel(synthetic_customers(300, seed=3), _catalogue(), seed=3)
    run = backfill(model, start=END - timedelta(days=20), end=END, seed=3)
    events = run.events()
    assert [e for chunk in run.chunks(333) for e in chunk] == events
    firsts: dict[str, dict] = {}
    bought: set[str] = set()
    for e in events:
        firsts.setdefault(e["session_id"], e)
        if e["action"] == "purchase":
            bought.add(e["session_id"])
        elif e is not firsts[e["session_id"]]:
            assert "context" not in e
    tally: dict[str, list[int]] = {}
    for sid, first in firsts.items():
        channel = session_traffic(first.get("context")).channel
        assert channel == CHANNEL_MIX[session_channel(sid, bought=sid in bought)][0]  # the rule table agrees
        tally.setdefault(channel, [0, 0])
        tally[channel][0] += sid in bought
        tally[channel][1] += 1
    assert set(tally) == {name for name, *_ in CHANNEL_MIX}
    email, social = (tally[c][0] / tally[c][1] for c in ("Email", "Paid Social"))
    assert email > 2 * social
