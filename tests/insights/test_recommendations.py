"""Insights that recommend (issue 14): cohort retention against the cohorts before, the best pair, the
carts abandoned this week; each with its evidence link and one computed action; no claim where the
Wilson intervals overlap."""

from __future__ import annotations

import datetime as dt

import pytest

from insights import sentences
from insights.filters import MetricFilter
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest

pytestmark = pytest.mark.django_db

F = MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))


def _purchase(n: int, customer: str, at: str, products: list[str]) -> list[dict]:
    prices = {"p1": "100.00", "p2": "20.00", "p3": "50.00"}
    return [{"event_id": f"rc-{n}-{i}", "customer_id": customer, "action": "purchase", "timestamp": at,
             "product_id": p, "product_price": prices[p], "quantity": 1, "order_id": f"o-{n}"}
            for i, p in enumerate(products)]


def _carts(events: list[dict]) -> None:
    """25 more customers (26-35) add a Charger and buy it on 2024-03-05; 25 more (36-45) add a Phone on
    2024-03-28 and leave it: Phone's carts 31 of 31 abandoned, Charger's 0 of 25."""
    for i in range(25):
        CustomerFactory(external_id=f"b{i}", email=f"b{i}@example.com", age=30)
        events.append({"event_id": f"bc-{i}", "customer_id": f"b{i}", "action": "add_to_cart",
                       "timestamp": "2024-03-05T09:00:00Z", "product_id": "p3", "product_price": "50.00",
                       "quantity": 1})
        events += _purchase(1000 + i, f"b{i}", "2024-03-05T09:05:00Z", ["p3"])
        CustomerFactory(external_id=f"d{i}", email=f"d{i}@example.com", age=40)
        events.append({"event_id": f"dc-{i}", "customer_id": f"d{i}", "action": "add_to_cart",
                       "timestamp": "2024-03-28T11:00:00Z", "product_id": "p1", "product_price": "100.00",
                       "quantity": 1})


def _store(*, feb_returners: int, carts: bool = False) -> None:
    """January cohort: 40 customers, 30 order again in February. February cohort: 40 customers,
    ``feb_returners`` order again in March. Ten January first orders hold Phone + Case (the pair); the rest
    a Charger. Six carts with a Phone are abandoned on 2024-03-28, two by customers without an e-mail."""
    for pid, title, price in (("p1", "Phone", 100), ("p2", "Case", 20), ("p3", "Charger", 50)):
        ProductFactory(external_id=pid, title=title, price=price)
    events: list[dict] = []
    n = 0
    for i in range(80):
        CustomerFactory(external_id=f"c{i}", email=f"c{i}@example.com", age=30)
        first = "2024-01-10T10:00:00Z" if i < 40 else "2024-02-10T10:00:00Z"
        n += 1
        events += _purchase(n, f"c{i}", first, ["p1", "p2"] if i < 10 else ["p3"])
        again = (i < 30) if i < 40 else (i - 40 < feb_returners)
        if again:
            n += 1
            events += _purchase(n, f"c{i}", "2024-02-20T10:00:00Z" if i < 40 else "2024-03-20T10:00:00Z", ["p3"])
    for i, email in enumerate(["a1@example.com", "a2@example.com", "", "a4@example.com", "a5@example.com", ""]):
        CustomerFactory(external_id=f"a{i}", email=email, age=40)
        events.append({"event_id": f"ab-{i}", "customer_id": f"a{i}", "action": "add_to_cart",
                       "timestamp": "2024-03-28T09:00:00Z", "product_id": "p1", "product_price": "100.00",
                       "quantity": 1})
    if carts:
        _carts(events)
    ingest(events)
    from insights.services import analytics_process_pending

    analytics_process_pending()


def _items() -> dict:
    return {i["kind"]: i for i in sentences.insights_list(F)}


def test_cohort_retention_worse_than_before_recommends_a_second_order_offer():
    _store(feb_returners=4)  # 10% against 75%: the intervals separate
    item = _items()["cohort_retention"]
    assert item["text"] == ("10% of the 2024-02 cohort ordered again the month after their first order, worse than "
                            "75% for the cohorts of 2024-01.")
    assert item["recommendation"] == ("Send the 36 customers of the 2024-02 cohort who have not ordered again a "
                                      "second-order offer.")
    assert item["link"] == "/cohorts/?" + F.to_query()


def test_no_recovery_sentence_for_a_handful_of_carts():
    _store(feb_returners=4)
    from insights.models import Cart

    Cart.objects.filter(customer__external_id__in=["a0", "a1"]).update(state="emptied")  # 4 abandoned left
    assert "abandoned_carts" not in _items()


def test_cohort_retention_says_nothing_when_the_intervals_overlap():
    _store(feb_returners=26)  # 65% against 75% from 40 each: the 95% intervals overlap
    assert "cohort_retention" not in _items()


def test_best_pair_recommends_a_bundle():
    _store(feb_returners=4)
    item = sentences.insights_list(MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 3, 31)))
    pair = next(i for i in item if i["kind"] == "best_pair")
    # 114 orders; Phone in 10, Case in 10, both in 10: lift = (10/114) / ((10/114)(10/114)) = 11.4
    assert pair["recommendation"] == "Bundle Phone with Case: bought together 11.4× more often than chance."
    assert pair["figure"] == "11.4×"
    assert pair["link"].startswith("/products/?")


def test_no_best_pair_from_too_few_orders():
    _store(feb_returners=4)
    assert "best_pair" not in {i["kind"] for i in sentences.insights_list(
        MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31)))}  # 4 orders in March


def test_abandoned_carts_this_week_recommends_recovery_emails():
    _store(feb_returners=4)
    item = _items()["abandoned_carts"]
    assert item["text"] == (
        "6 carts worth $600.00 were abandoned in the week to 31 Mar 2024.")
    assert item["recommendation"] == "Send recovery e-mails to the 4 with an e-mail address."
    assert item["link"] == "/carts/?" + F.to_query()
    earlier = MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 20))
    assert "abandoned_carts" not in {i["kind"] for i in sentences.insights_list(earlier)}


def test_product_abandonment_and_age_conversion_carry_their_computed_action():
    _store(feb_returners=4, carts=True)
    items = _items()
    product = items["product_abandonment"]
    assert product["text"].startswith("Phone has the highest abandonment rate (100% of 31 carts")
    assert product["recommendation"] == ("Review Phone's price, shipping cost and stock messages: 31 carts holding "
                                         "it were left with $3,100.00 of it in them.")
    assert product["link"].startswith("/products/") and product["link"] != "/products/?" + F.to_query()
    age = items["age_conversion"]
    assert age["recommendation"] == ("Aim campaigns at customers aged 26–35: 100% of their sessions end in a "
                                     "purchase against 0% for the other age groups.")
