"""ml.features: one row per cart at its decision point, built only from what was known then."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.features import FEATURES, TARGET, build_features, open_cart_features
from ml.training import TrainParams, train

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)


class Log:
    """Builds an events frame the way ml.selectors.events_frame returns it."""

    def __init__(self):
        self.rows = []

    def add(self, minutes, action, *, customer=1, product=1, session="s1", quantity=1, price=10.0, order_id=None,
            category="books", amount=np.nan, discount=np.nan):
        self.rows.append({"pk": len(self.rows) + 1, "customer": customer, "product": product, "session_id": session,
                          "action": action, "quantity": quantity, "price": price, "order_id": order_id,
                          "ts": T0 + timedelta(minutes=minutes), "category": category if product >= 0 else "",
                          "amount": amount, "discount": discount})

    def frame(self):
        f = pd.DataFrame(self.rows)
        f["ts"] = pd.to_datetime(f["ts"], utc=True)
        return f


def customers(*pks, group="26-35"):
    c = pd.DataFrame({"age_group": [group] * len(pks), "signed_up_at": pd.NaT}, index=list(pks))
    c["signed_up_at"] = pd.to_datetime(c["signed_up_at"], utc=True)
    return c


def test_one_row_per_closed_cart_with_cart_contents_at_the_decision_point():
    log = Log()
    log.add(0, "view")
    log.add(1, "add_to_cart", quantity=2, price=10.0)
    log.add(2, "add_to_cart", product=2, price=30.0, category="electronics")
    log.add(3, "remove_from_cart", product=2)
    log.add(4, "checkout", product=-1)
    log.add(5, "purchase", quantity=2, order_id="o1")
    log.add(0, "add_to_cart", customer=2, session="s2", price=50.0)  # abandoned by going idle
    log.add(0, "add_to_cart", customer=3, session="s3")               # emptied: not a training row
    log.add(1, "remove_from_cart", customer=3, session="s3")
    rows = build_features(log.frame(), customers(1, 2, 3), as_of=T0 + timedelta(days=1)).set_index("customer")
    assert sorted(rows.index) == [1, 2]
    one = rows.loc[1]
    assert one[TARGET] == 1 and one["state"] == "converted"
    assert (one["views"], one["adds"], one["removes"], one["checkouts"]) == (1, 2, 1, 1)
    assert one["items"] == 2 and one["value"] == pytest.approx(20.0) and one["cart_lines"] == 1
    assert one["decided_at"] == pd.Timestamp(T0 + timedelta(minutes=4))  # the checkout, not the purchase
    assert one["session_minutes"] == pytest.approx(4.0) and one["cart_minutes"] == pytest.approx(3.0)
    assert one["hour"] == 10 and one["weekday"] == 0 and one["age_group"] == "26-35"
    assert one["top_category"] == "books"
    two = rows.loc[2]
    assert two[TARGET] == 0 and two["value"] == pytest.approx(50.0) and two["past_orders"] == 0


def test_history_counts_only_orders_before_the_decision_moment():
    log = Log()
    log.add(0, "add_to_cart", session="a", price=20.0)
    log.add(1, "purchase", session="a", price=20.0, order_id="o1")
    log.add(600, "add_to_cart", session="b")
    log.add(601, "purchase", session="b", order_id="o2")
    log.add(1200, "add_to_cart", session="c")
    rows = build_features(log.frame(), customers(1), as_of=T0 + timedelta(days=2))
    assert rows["past_orders"].tolist() == [0, 1, 2]
    assert rows["past_revenue"].tolist() == pytest.approx([0.0, 20.0, 30.0])
    assert rows["past_sessions"].tolist() == [0, 1, 2]
    assert rows["days_since_last_order"].iloc[1] == pytest.approx(599 / 1440)
    assert rows[TARGET].tolist() == [1, 1, 0]


def test_past_revenue_is_net_of_discounts_refunds_at_their_time_and_cancelled_orders():
    log = Log()
    log.add(0, "add_to_cart", session="a", price=50.0)
    log.add(1, "purchase", session="a", price=50.0, order_id="o1", discount=5.0)
    log.add(2, "purchase", session="a", price=30.0, order_id="gone")
    log.add(900, "refund", product=-1, session="", order_id="o1", amount=15.0)
    log.add(301, "cancel", product=-1, session="", order_id="gone")
    log.add(600, "add_to_cart", session="b")
    log.add(1200, "add_to_cart", session="c")
    rows = build_features(log.frame(), customers(1), as_of=T0 + timedelta(days=2))
    assert rows["past_orders"].tolist() == [0, 1, 1]
    # 50 − 5 of discount; the refund only from its own time on (seen by cart c, not by cart b)
    assert rows["past_revenue"].tolist() == pytest.approx([0.0, 45.0, 30.0])
    assert rows["days_since_last_order"].iloc[1] == pytest.approx(599 / 1440)


def test_open_carts_are_scored_rows_and_closed_ones_are_not():
    log = Log()
    log.add(0, "add_to_cart")
    log.add(-60, "add_to_cart", customer=2, session="old")  # idle for 70 minutes: abandoned, not open
    frame = open_cart_features(log.frame(), customers(1, 2), as_of=T0 + timedelta(minutes=10))
    assert frame["customer"].tolist() == [1] and frame["state"].tolist() == ["open"]
    assert frame["items"].tolist() == [1]


def _leaky_log(n_carts: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Carts whose outcome is a coin flip: the purchase (or the explicit abandon) is the only signal."""
    rng = np.random.default_rng(seed)
    log = Log()
    outcome = rng.random(n_carts) < 0.4
    minute = 0
    for i in range(n_carts):
        cust = int(rng.integers(1, 80))
        sess = f"s{i}"
        minute += int(rng.integers(40, 400))
        price = float(rng.choice([10.0, 25.0, 60.0]))
        prod = int(rng.integers(1, 6))
        log.add(minute, "view", customer=cust, product=prod, session=sess, price=price)
        log.add(minute + 1, "add_to_cart", customer=cust, product=prod, session=sess, price=price)
        if rng.random() < 0.5:
            log.add(minute + 2, "checkout", customer=cust, product=-1, session=sess)
        if outcome[i]:
            log.add(minute + 3, "purchase", customer=cust, product=prod, session=sess, price=price, order_id=f"o{i}")
        else:
            log.add(minute + 3, "abandon", customer=cust, product=-1, session=sess)
    return log.frame(), outcome


def test_leakage_the_outcome_event_is_invisible_to_the_features():
    events, outcome = _leaky_log(400, seed=3)
    as_of = events["ts"].max().to_pydatetime() + timedelta(days=1)
    real = build_features(events, customers(*range(1, 80)), as_of=as_of)
    # Same carts with every outcome flipped: a purchase becomes an abandon and vice versa.
    flipped = events.copy()
    buy, drop = flipped["action"] == "purchase", flipped["action"] == "abandon"
    flipped.loc[buy, "action"] = "abandon"
    flipped.loc[drop, "action"] = "purchase"
    flipped.loc[drop, "order_id"] = None
    other = build_features(flipped, customers(*range(1, 80)), as_of=as_of)
    assert len(real) == len(other) == 400
    assert real[TARGET].sum() == outcome.sum() and other[TARGET].sum() == 400 - outcome.sum()
    # Within a cart nothing changes; only the customer's *history* (earlier carts' purchases) may differ.
    current = [f for f in FEATURES if f not in ("past_orders", "past_revenue", "days_since_last_order",
                                                  "has_ordered")]
    pd.testing.assert_frame_equal(real[current].reset_index(drop=True), other[current].reset_index(drop=True))
    outcome_at = events[events["action"].isin(["purchase", "abandon"])].set_index("session_id")["ts"]
    assert (real["decided_at"] < real["key"].str.removeprefix("s:").map(outcome_at)).all()


def test_leakage_a_model_on_outcome_only_signal_scores_at_chance():
    events, _ = _leaky_log(1500, seed=11)
    as_of = events["ts"].max().to_pydatetime() + timedelta(days=1)
    frame = build_features(events, customers(*range(1, 80)), as_of=as_of)
    result = train(frame, TrainParams(seed=1, n_estimators=60, importance_repeats=2))
    auc = result.metrics["model"]["roc_auc"]
    assert 0.38 < auc < 0.62, auc
