"""The simulated store's money (issue 13): coupons with discounts, a second currency when rates are
stored, refunds days later; through backfill the demo shows net revenue below gross."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from customers.services import customer_seed
from events.models import Event
from events.simulation import simulator_backfill, simulator_money_plan
from events.simulator.money import MoneyPlan, apply_money
from insights.filters import MetricFilter
from insights.selectors import coupons_stats, kpis_stats
from insights.services import analytics_process_pending
from products.services import catalogue_read, product_load_catalogue

END = datetime(2026, 6, 1, tzinfo=UTC)


def orders(n: int) -> list[dict]:
    events = []
    for i in range(n):
        for k in range(2):
            events.append({"event_id": f"00000000-0000-4000-8000-{i:06x}{k:06x}", "customer_id": str(i % 7),
                           "action": "purchase", "product_id": str(k + 1), "quantity": 1, "product_price": 10.0,
                           "order_id": f"o-{i}", "timestamp": "2026-05-01T12:00:00Z", "session_id": f"s-{i}"})
    events.append({"event_id": "v", "customer_id": "1", "action": "view", "product_id": "1",
                   "timestamp": "2026-05-01T12:00:00Z"})
    return events


def test_apply_money_is_fixed_by_the_order_id_and_gives_each_share():
    plan = MoneyPlan(currency="EUR", per_store_unit=Decimal("0.92"))
    events = orders(2000)
    refunds = apply_money(events, plan)
    again = orders(2000)
    assert [(w, r) for w, r in apply_money(again, plan)] == refunds and again == events
    lines = [e for e in events if e["action"] == "purchase"]
    eur = {e["order_id"] for e in lines if e.get("currency") == "EUR"}
    coupons = [e["order"] for e in lines if "order" in e]
    assert 0.15 < len(eur) / 2000 < 0.25 and 0.11 < len(coupons) / 2000 < 0.19
    assert {e["product_price"] for e in lines if e.get("currency") == "EUR"} == {9.2}
    assert all(Decimal(c["discount"]) <= Decimal("4.00") for c in coupons)  # ≤ 20% of a 20.00 order
    assert 0.04 < len(refunds) / 2000 < 0.08
    for when, refund in refunds:
        assert timedelta(days=2) <= when - datetime(2026, 5, 1, 12, tzinfo=UTC) <= timedelta(days=12)
        assert refund["action"] == "refund" and refund["quantity"] == 1
        assert (refund.get("currency") == "EUR") == (refund["order_id"] in eur)
    assert len({r["event_id"] for _, r in refunds}) == len(refunds)


def test_no_second_currency_without_rates(db):
    assert simulator_money_plan(on=END).currency is None


@pytest.mark.django_db
def test_backfill_with_rates_stores_eur_orders_coupons_and_refunds_and_net_is_below_gross():
    call_command("import_rates", "--sample", stdout=StringIO())
    product_load_catalogue(items=catalogue_read())
    customer_seed(count=150, seed=1)
    plan = simulator_money_plan(on=END)
    assert plan.currency == "EUR" and Decimal("0.8") < plan.per_store_unit < Decimal("1.1")
    result = simulator_backfill(days=20, customers=150, seed=5, end=END)
    assert result.rejected == 0 and result.accepted == result.events == Event.objects.count()
    assert Event.objects.filter(currency="EUR", fx_rate__isnull=False).exists()
    assert Event.objects.filter(action="refund").exists()
    assert not Event.objects.filter(timestamp__gte=END).exists()
    analytics_process_pending(as_of=END)
    f = MetricFilter(start=(END - timedelta(days=20)).date(), end=END.date())
    kpis = kpis_stats(f)
    assert kpis["discounts"] > 0 and kpis["refunds"] > 0
    assert kpis["net_revenue"] == pytest.approx(kpis["gross_revenue"] - kpis["discounts"] - kpis["refunds"])
    discounts = Event.objects.aggregate(d=Sum("discount"))["d"]
    assert Decimal(str(kpis["discounts"])) <= discounts  # an order's discount once (lines agree here)
    coupons = coupons_stats(f)
    assert coupons["with_coupon"]["orders"] > 0 and coupons["top_coupons"]
    assert 0 < coupons["discount_share"] < 0.2


@pytest.mark.django_db
def test_live_ticks_send_eur_orders_and_keep_refunds_pending_until_due():
    from events.simulation import simulator_configure, simulator_state_get, simulator_tick

    call_command("import_rates", "--sample", stdout=StringIO())
    product_load_catalogue(items=catalogue_read())
    simulator_configure(rate=2.0, customers=120)
    start = END - timedelta(minutes=40)  # a fixed past time: the same ids, orders and money every run
    rejected = 0
    for step in range(0, 2400, 60):
        rejected += simulator_tick(now=start + timedelta(seconds=step), target="").rejected
    assert rejected == 0
    orders = set(Event.objects.filter(action="purchase").values_list("order_id", flat=True))
    assert len(orders) > 5 and Event.objects.filter(currency="EUR").exists()
    pending = [event for _ms, event in simulator_state_get().state["pending"] if event["action"] == "refund"]
    assert pending and {e["order_id"] for e in pending} <= orders  # refunds of orders sent, due days later
    assert not Event.objects.filter(action="refund").exists()
