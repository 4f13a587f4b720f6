"""Money (DESIGN §4, issue 13): gross, discounts, refunds, net; cancelled orders count nowhere.

The property test sends any mix of orders (in USD, EUR or GBP, some with an order object carrying a
discount and coupon), refunds (of lines or amounts, of known orders and of orders never seen) and
cancels (before or after their orders), in random batches and order, with re-derivation at random
points; then net = gross − discounts − refunds (each converted at the rate of the event's date)
in every rollup that holds money, and the incremental rollups equal a rebuild.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events.models import ExchangeRate
from events.services import events_ingest
from events.types import StoredEvent
from insights.filters import MetricFilter
from insights.models import CustomerTotals, EventDaily, EventHourly, SessionDaily
from insights.money import OrderBook, event_money, money_total, winners_of
from insights.rebuild import analytics_rebuild
from insights.selectors import kpis_stats
from insights.services import analytics_process_pending
from tests.insights.test_services import snapshot

CENT = Decimal("0.01")
T0 = dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC)  # a Monday
# 1 EUR = … (a rate every weekday from 2024-03-01; none on weekends: the latest earlier one applies)
RATES = {"USD": [Decimal("1.0850"), Decimal("1.0900"), Decimal("1.0790"), Decimal("1.0810")],
         "GBP": [Decimal("0.85500"), Decimal("0.85320"), Decimal("0.86010"), Decimal("0.85870")]}


def _rate_days() -> list[dt.date]:
    days, d = [], dt.date(2024, 3, 1)
    while d <= dt.date(2024, 4, 30):
        if d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=1)
    return days


def seed_rates() -> None:
    ExchangeRate.objects.bulk_create([
        ExchangeRate(day=d, currency=code, per_eur=values[n % len(values)])
        for n, d in enumerate(_rate_days()) for code, values in RATES.items()])


def expected_rate(currency: str, when: dt.datetime) -> Decimal:
    """USD per unit, as the ECB layout implies: the latest weekday rate on or before the date."""
    if currency == "USD":
        return Decimal(1)
    days = [d for d in _rate_days() if d <= when.date()]
    n = len(days) - 1
    usd = RATES["USD"][n % 4]
    per_eur = Decimal(1) if currency == "EUR" else RATES[currency][n % 4]
    return (usd / per_eur).quantize(Decimal("1E-10"), rounding=ROUND_HALF_UP)


def usd(amount: Decimal, currency: str, when: dt.datetime) -> Decimal:
    return (amount * expected_rate(currency, when)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- the pure rule ------------------------------------------------------------------------------


def ev(pk, action="purchase", order="o1", amount=None, price="10.00", quantity=1, discount=None, coupon=""):
    return StoredEvent(pk, f"e{pk}", 1, 7, "", action, quantity, Decimal(price), order, T0,
                       None if amount is None else Decimal(amount), None if discount is None else Decimal(discount),
                       coupon)


def test_event_money_counts_a_discount_once_from_the_first_stored_line():
    lines = [ev(2, discount="3.00", coupon="X"), ev(1, discount="5.00"), ev(3)]
    book = OrderBook(winners=winners_of(lines))
    assert book.winners == {"o1": 1}
    assert money_total(lines, book).discount == Decimal("5.00")
    assert money_total(lines, book).gross == Decimal("30.00")


def test_cancelled_orders_count_nowhere_and_refunds_count_otherwise():
    events = [ev(1, discount="2.00"), ev(2, action="refund", amount="4.00"),
              ev(3, action="refund", order="never-seen", amount="1.50", price="0")]
    book = OrderBook(winners=winners_of(events))
    total = money_total(events, book)
    assert (total.gross, total.discount, total.refund, total.net) == (
        Decimal("10.00"), Decimal("2.00"), Decimal("5.50"), Decimal("2.50"))
    cancelled = money_total(events, OrderBook(cancelled=frozenset({"o1"}), winners=book.winners))
    assert (cancelled.gross, cancelled.discount, cancelled.refund) == (0, 0, Decimal("1.50"))


def test_a_refund_line_without_amount_is_price_times_quantity():
    assert event_money(ev(1, action="refund", price="4.25", quantity=2), OrderBook()).refund == Decimal("8.50")


# --- through ingest and the rollups -------------------------------------------------------------

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2)


@st.composite
def scenarios(draw):
    """Events (native dicts) and the money they must add up to, in USD."""
    events: list[dict] = []
    gross = discounts = refunds = Decimal(0)
    orders = 0
    for n in range(draw(st.integers(1, 5))):
        order_id, customer = f"o{n}", str(draw(st.integers(1, 3)))
        currency = draw(st.sampled_from(["USD", "EUR", "GBP"]))
        when = T0 + dt.timedelta(days=draw(st.integers(0, 20)), minutes=n)
        cancelled = draw(st.booleans()) and draw(st.booleans())
        order_gross = sent = Decimal(0)  # USD; and in the order's currency
        lines = draw(st.integers(1, 3))
        carriers = draw(st.sets(st.integers(0, lines - 1), max_size=lines))
        discount = draw(money)
        for k in range(lines):
            price, quantity = draw(money), draw(st.integers(1, 3))
            line = {"event_id": f"{order_id}-{k}", "customer_id": customer, "action": "purchase",
                    "product_id": str(draw(st.integers(1, 4))), "product_price": str(price), "quantity": quantity,
                    "order_id": order_id, "timestamp": when.isoformat(), "currency": currency, "session_id": order_id}
            if draw(st.booleans()):
                line["amount"] = str(draw(money))
                order_gross += usd(Decimal(line["amount"]), currency, when)
                sent += Decimal(line["amount"])
            else:
                order_gross += usd(price, currency, when) * quantity
                sent += price * quantity
            if k in carriers:  # every line carrying the order object carries the same one
                line["order"] = {"discount": str(discount), "coupon": f"C{n}", "shipping": "4.99"}
            events.append(line)
        order_refunds = Decimal(0)
        # Refunds within what the order was paid (each at most 45% of it: room for the rates moving
        # between the order's and the refund's day), so none is capped (tests/events/test_bounds.py).
        paid = sent - (discount if carriers else 0)
        for r in range(draw(st.integers(0, 2))):
            later = when + dt.timedelta(days=draw(st.integers(0, 10)), hours=1)
            amount = (paid * draw(st.integers(1, 45)) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            if amount < CENT:
                continue
            refund = {"event_id": f"{order_id}-r{r}", "customer_id": customer, "action": "refund",
                      "order_id": order_id, "amount": str(amount), "timestamp": later.isoformat(),
                      "currency": currency}
            if draw(st.booleans()):
                refund["product_id"] = "1"
            events.append(refund)
            order_refunds += usd(amount, currency, later)
        if cancelled:
            shift = dt.timedelta(hours=draw(st.integers(-48, 48)))
            events.append({"event_id": f"{order_id}-x", "customer_id": customer, "action": "cancel",
                           "order_id": order_id, "timestamp": (when + shift).isoformat()})
        else:
            gross += order_gross
            discounts += usd(discount, currency, when) if carriers else 0
            refunds += order_refunds
            orders += 1
    if draw(st.booleans()):  # a refund for an order never seen: kept, counted on its date
        events.append({"event_id": "stray-refund", "customer_id": "9", "action": "refund", "order_id": "old-1",
                       "amount": "12.34", "currency": "EUR", "timestamp": T0.isoformat()})
        refunds += usd(Decimal("12.34"), "EUR", T0)
    seed = draw(st.integers(0, 2**32 - 1))
    return events, (gross, discounts, refunds, orders), seed


def _sum(model, field, **filters) -> Decimal:
    return Decimal(str(model.objects.filter(**filters).aggregate(t=Sum(field))["t"] or 0)).quantize(CENT)


def _refunds_before_or_after_their_order(events: list[dict]) -> list[dict]:
    """The events with each refund sent amid its order's lines moved after the last of them: a refund
    comes before any line of its order (a webhook race: counted as sent) or after all of them (so
    what remains of the order is all of it, as stored: ``events.refund_caps``)."""
    lines = [(n, e["order_id"]) for n, e in enumerate(events) if e["action"] == "purchase"]
    first, last = {o: n for n, o in reversed(lines)}, {o: n for n, o in lines}
    out: list[dict] = []
    held: dict[str, list[dict]] = {}
    for n, e in enumerate(events):
        order = e.get("order_id")
        if e["action"] == "refund" and order in first and first[order] < n < last[order]:
            held.setdefault(order, []).append(e)
            continue
        out.append(e)
        if e["action"] == "purchase" and n == last[order]:
            out += held.pop(order, [])
    return out


def _send_randomly(events: list[dict], seed: int) -> None:
    rng = random.Random(seed)
    pending = events[:]
    rng.shuffle(pending)
    pending = _refunds_before_or_after_their_order(pending)
    while pending:
        size = rng.randint(1, 4)
        batch = pending[:size]
        for k, e in enumerate(batch):  # a refund sent before its order ends its batch (the batch's lines count)
            if e["action"] == "refund" and any(x.get("order_id") == e["order_id"] for x in batch[k + 1:]):
                batch = batch[:k + 1]
                break
        pending = pending[len(batch):]
        result = events_ingest(raw_events=batch, broadcast=False)
        assert not result.rejected, result.rejected
        if rng.random() < 0.4:
            analytics_process_pending(as_of=T0 + dt.timedelta(days=40))
    analytics_process_pending(as_of=T0 + dt.timedelta(days=40))


def _usd_line(k: int, price: str) -> dict:
    return {"event_id": f"o0-{k}", "customer_id": "1", "action": "purchase", "product_id": "1", "product_price": price,
            "quantity": 1, "order_id": "o0", "timestamp": T0.isoformat(), "currency": "USD", "session_id": "o0"}


# Shrunk from a failure on SQLite: seed 1194 stores and derives 0.10, then 0.20 (the day's revenue
# becomes the float 0.30000000000000004), then the cancel takes 0.30 out: unrounded, 5.6e-17 stayed and
# the customer stayed a buyer that day (people bitmaps), where a rebuild holds exactly 0.
CANCELLED_AFTER_TWO_DERIVATIONS = ([_usd_line(0, "0.10"), _usd_line(1, "0.20"), {
    "event_id": "o0-x", "customer_id": "1", "action": "cancel", "order_id": "o0", "timestamp": T0.isoformat()}],
    (Decimal(0), Decimal(0), Decimal(0), 0), 1194)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(scenario=scenarios())
@example(scenario=CANCELLED_AFTER_TWO_DERIVATIONS)
def test_net_is_gross_minus_discounts_minus_refunds_and_incremental_equals_rebuild(scenario):
    events, (gross, discounts, refunds, orders), seed = scenario
    with transaction.atomic():
        seed_rates()
        _send_randomly(events, seed)
        for model in (EventDaily, EventHourly):
            assert (_sum(model, "revenue"), _sum(model, "discounts"), _sum(model, "refunds")) == (
                gross, discounts, refunds)
        customers = (_sum(CustomerTotals, "revenue"), _sum(CustomerTotals, "discounts"),
                     _sum(CustomerTotals, "refunds"))
        assert customers == (gross, discounts, refunds)
        assert _sum(SessionDaily, "orders", category="") == orders
        kpis = kpis_stats(MetricFilter(start=T0.date() - dt.timedelta(days=5), end=T0.date() + dt.timedelta(days=40)))
        assert Decimal(str(kpis["net_revenue"])) == gross - discounts - refunds
        assert Decimal(str(kpis["gross_revenue"])) == gross
        incremental = snapshot()
        analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
        assert snapshot() == incremental
        transaction.set_rollback(True)


# --- readable cases -------------------------------------------------------------------------------


def _line(event_id, oid="1001", customer="c1", product="17", price="20.00", quantity=1, when=T0, **kw):
    return {"event_id": event_id, "customer_id": customer, "action": "purchase", "product_id": product,
            "product_price": price, "quantity": quantity, "order_id": oid, "timestamp": when.isoformat(),
            "session_id": f"s-{oid}", **kw}


def _send(*events):
    result = events_ingest(raw_events=list(events), broadcast=False)
    assert not result.rejected, result.rejected
    analytics_process_pending(as_of=T0 + dt.timedelta(days=40))


PERIOD = MetricFilter(start=T0.date(), end=T0.date() + dt.timedelta(days=30))


@pytest.mark.django_db
def test_a_cancel_after_the_order_takes_everything_out_once_and_a_second_cancel_changes_nothing():
    _send(_line("a", order={"discount": "5.00", "coupon": "SPRING10"}), _line("b", product="18", price="10.00"))
    _send({"event_id": "r", "customer_id": "c1", "action": "refund", "order_id": "1001", "product_id": "17",
           "amount": "20.00", "timestamp": (T0 + dt.timedelta(days=2)).isoformat()})
    before = kpis_stats(PERIOD)
    assert (before["gross_revenue"], before["discounts"], before["refunds"], before["net_revenue"],
            before["orders"], before["aov"]) == (30.0, 5.0, 20.0, 5.0, 1, 5.0)
    from insights.selectors import customer_detail, products_stats
    refund_rate = products_stats(PERIOD)["refund_rate"]
    assert [(p["product_id"], p["units"], p["refunded_units"], p["rate"]) for p in refund_rate] == [("17", 1, 1, 1.0)]
    profile = customer_detail(Customer.objects.get(external_id="c1").pk)["profile"]
    assert (profile["revenue"], profile["gross_revenue"]) == (5.0, 30.0)
    for n in range(2):
        _send({"event_id": f"x{n}", "customer_id": "c1", "action": "cancel", "order_id": "1001",
               "timestamp": (T0 + dt.timedelta(days=3)).isoformat()})
        after = kpis_stats(PERIOD)
        assert (after["gross_revenue"], after["discounts"], after["refunds"], after["orders"]) == (0, 0, 0, 0)
        assert _sum(CustomerTotals, "revenue") == _sum(CustomerTotals, "discounts") == 0
    assert products_stats(PERIOD)["refund_rate"] == []
    incremental = snapshot()
    analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
    assert snapshot() == incremental


@pytest.mark.django_db
def test_money_that_adds_up_to_nothing_is_exactly_nothing_and_the_day_has_no_buyer():
    """SQLite keeps decimals as floats: each stored sum is rounded to the cent as PostgreSQL's numeric is."""
    from insights.models import CustomerDaily, DailyPeople

    for event in (_line("a", price="0.10"), _line("b", price="0.20"),
                  {"event_id": "x", "customer_id": "c1", "action": "cancel", "order_id": "1001",
                   "timestamp": T0.isoformat()}):
        _send(event)  # each derived on its own: the session's revenue goes 0.10, 0.30, 0
    assert list(CustomerDaily.objects.filter(revenue__gt=0)) == []
    assert list(EventDaily.objects.exclude(revenue=0)) == []
    assert sorted(DailyPeople.objects.values_list("kind", flat=True)) == ["v"]
    assert kpis_stats(PERIOD)["gross_revenue"] == 0
    incremental = snapshot()
    analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
    assert snapshot() == incremental


@pytest.mark.django_db
def test_a_cancel_before_its_order_and_a_refund_of_an_order_never_seen():
    _send({"event_id": "x", "customer_id": "c1", "action": "cancel", "order_id": "1001", "timestamp": T0.isoformat()})
    _send(_line("a", when=T0 + dt.timedelta(hours=1), order={"discount": "5.00"}),
          {"event_id": "r", "customer_id": "c2", "action": "refund", "order_id": "old-7", "amount": "7.50",
           "timestamp": (T0 + dt.timedelta(days=1)).isoformat()})
    k = kpis_stats(PERIOD)
    assert (k["gross_revenue"], k["discounts"], k["refunds"], k["net_revenue"], k["orders"]) == (
        0, 0, 7.5, -7.5, 0)


@pytest.mark.django_db
def test_coupons_panel_compares_orders_with_and_without_a_coupon():
    _send(_line("a", oid="1", price="100.00", order={"discount": "10.00", "coupon": "SPRING10"}),
          _line("b", oid="2", price="50.00", order={"discount": "5.00", "coupon": "SPRING10"}),
          _line("c", oid="3", price="40.00"),
          _line("d", oid="4", price="60.00", order={"shipping": "4.99"}),
          {"event_id": "r", "customer_id": "c1", "action": "refund", "order_id": "3", "amount": "10.00",
           "timestamp": (T0 + dt.timedelta(days=1)).isoformat()})
    from insights.selectors import coupons_stats
    c = coupons_stats(PERIOD)
    assert c["with_coupon"] == {"orders": 2, "gross_revenue": 150.0, "discounts": 15.0, "refunds": 0.0,
                                "net_revenue": 135.0, "aov": 67.5}
    assert c["without_coupon"] == {"orders": 2, "gross_revenue": 100.0, "discounts": 0.0, "refunds": 10.0,
                                   "net_revenue": 90.0, "aov": 45.0}
    assert [(t["coupon"], t["orders"]) for t in c["top_coupons"]] == [("SPRING10", 2)]
    assert c["discount_share"] == pytest.approx(15 / 250)


@pytest.mark.django_db(transaction=True)
def test_a_cancel_stored_while_its_order_is_being_stored_waits_for_it():
    """PostgreSQL READ COMMITTED: without the per-order lock, a cancel committed beside its order's
    lines would not see them (they stay counted) and they would not see it."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises write transactions already (IMMEDIATE)")
    inserted, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def order_then_wait() -> None:
        try:
            with transaction.atomic():
                events_ingest(raw_events=[_line("a", order={"discount": "5.00"})], broadcast=False)
                inserted.set()
                with connection.cursor() as cur:  # commit once the cancel waits for this order's lock
                    for _ in range(600):
                        cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'advisory'")
                        if cur.fetchone()[0]:
                            break
                        done.wait(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=order_then_wait)
    thread.start()
    try:
        assert inserted.wait(30)
        # (sent under another customer id, so no customer row orders the two transactions)
        result = events_ingest(raw_events=[{"event_id": "x", "customer_id": "c9", "action": "cancel",
                                            "order_id": "1001", "timestamp": T0.isoformat()}], broadcast=False)
        assert result.accepted == 1
    finally:
        done.set()
        thread.join(30)
    assert not errors
    analytics_process_pending(as_of=T0 + dt.timedelta(days=40))
    assert (_sum(EventDaily, "revenue"), _sum(EventDaily, "discounts")) == (0, 0)
    incremental = snapshot()
    analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
    assert snapshot() == incremental


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["age", "erase"])
def test_erasure_and_age_change_move_money_as_a_rebuild_would(change):
    from insights.upkeep import customer_age_group_change, customer_events_erase

    _send(_line("a", order={"discount": "5.00"}), _line("b", customer="c2", oid="2002"),
          {"event_id": "r", "customer_id": "c1", "action": "refund", "order_id": "1001", "product_id": "17",
           "amount": "8.00", "timestamp": (T0 + dt.timedelta(days=1)).isoformat()},
          {"event_id": "x", "customer_id": "c1", "action": "cancel", "order_id": "2002",
           "timestamp": (T0 + dt.timedelta(days=1)).isoformat()})
    c1 = Customer.objects.get(external_id="c1")
    if change == "age":
        customer_age_group_change(customer=c1, age=70)
    else:
        customer_events_erase(customer=c1)
    analytics_process_pending(as_of=T0 + dt.timedelta(days=40))
    incremental = snapshot()
    analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
    assert snapshot() == incremental
    if change == "age":
        assert (_sum(EventDaily, "discounts", age_group="66+"), _sum(EventDaily, "refunds", age_group="66+")) == (
            Decimal("5.00"), Decimal("8.00"))


@pytest.mark.django_db
def test_lines_disagreeing_on_the_order_object_the_first_stored_counts_in_both_paths():
    _send(_line("b", product="18", when=T0 + dt.timedelta(minutes=5), order={"discount": "3.00"}))
    _send(_line("a", order={"discount": "5.00", "coupon": "LATE"}))  # earlier in time, stored later
    assert (_sum(EventDaily, "discounts"), kpis_stats(PERIOD)["discounts"]) == (Decimal("3.00"), 3.0)
    incremental = snapshot()
    analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
    assert snapshot() == incremental


@pytest.mark.django_db
def test_an_identity_merge_moves_money_as_it_was_counted():
    from insights.upkeep import customers_merge

    anonymous = {k: v for k, v in _line("a", order={"discount": "5.00"}).items() if k != "customer_id"}
    _send({**anonymous, "anonymous_id": "v1"}, _line("b", oid="2002", customer="c1"),
          {"event_id": "x", "anonymous_id": "v1", "action": "cancel", "order_id": "2002",
           "timestamp": (T0 + dt.timedelta(days=1)).isoformat()})
    source, target = Customer.objects.get(external_id="anon:v1"), Customer.objects.get(external_id="c1")
    customers_merge(source_pk=source.pk, target_pk=target.pk)
    analytics_process_pending(as_of=T0 + dt.timedelta(days=40))
    assert (_sum(EventDaily, "revenue"), _sum(EventDaily, "discounts")) == (Decimal("20.00"), Decimal("5.00"))
    assert (_sum(CustomerTotals, "revenue"), _sum(CustomerTotals, "discounts")) == (Decimal("20.00"), Decimal("5.00"))
    incremental = snapshot()
    analytics_rebuild(as_of=T0 + dt.timedelta(days=40))
    assert snapshot() == incremental
