"""The simulator's experiment: a known true lift reaches the readout (events/simulator/experiment.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from events.simulator.experiment import ExperimentPlan, apply_experiment
from experiments.selectors import experiment_readout


def test_variants_are_stable_and_the_plan_parses():
    plan = ExperimentPlan.parse("hero:0.1:0.05")
    assert plan == ExperimentPlan("hero", 0.1, 0.05)
    assert ExperimentPlan.parse("") is None
    assert [plan.variant(f"c-{i}") for i in range(5)] == [plan.variant(f"c-{i}") for i in range(5)]
    share = sum(plan.variant(f"c-{i}") == "B" for i in range(10_000)) / 10_000
    assert 0.48 < share < 0.52


def test_orders_are_thinned_in_control_to_give_b_its_true_lift():
    plan = ExperimentPlan("hero", lift=0.25, value_lift=0.1)
    events = [{"customer_id": f"c-{i}", "session_id": "s", "action": "purchase", "order_id": f"o-{i}",
               "product_price": 10.0} for i in range(20_000)]
    kept = apply_experiment(events, plan)
    by = {v: [e for e in kept if e["variant"] == v] for v in "AB"}
    rate_a = len(by["A"]) / sum(plan.variant(f"c-{i}") == "A" for i in range(20_000))
    assert rate_a == pytest.approx(1 / 1.25, abs=0.02) and len(by["B"]) == sum(
        plan.variant(f"c-{i}") == "B" for i in range(20_000))
    assert {e["product_price"] for e in by["B"]} == {11.0} and {e["product_price"] for e in by["A"]} == {10.0}


@pytest.mark.django_db
def test_simulate_with_an_experiment_fills_the_readout():
    call_command("simulate", days=5, customers=300, seed=5, experiment="hero", lift=0.5, value_lift=0.0,
                 stdout=open("/dev/null", "w"))  # noqa: SIM115
    r = experiment_readout(name="hero", now=dt.datetime.now(dt.UTC))
    names = {v.name: v for v in r.variants}
    assert set(names) == {"A", "B"} and names["A"].visitors + names["B"].visitors > 20  # 5 days of visitors
    assert names["A"].conversions + names["B"].conversions > 0 and r.control == "A"
