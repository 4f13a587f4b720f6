"""The nonlinear behaviour's ground truth (docs/retention-and-predictions.md#simulator-ground-truth)."""

import math
import random

import pytest

from events.simulator import SimParams
from events.simulator.nonlinear import extra_log_odds


def _extra(**kw):
    base = {"age_group": "36-45", "value_ratio": 1.2, "views_before_cart": 0, "hour": 12, "weekday": 2,
            "value_effect": 0.55}
    return extra_log_odds(**(base | kw))


def test_each_effect_as_written():
    assert _extra() == 0.0
    assert _extra(age_group="18-25") == 3.5 and _extra(age_group="18-25", value_ratio=0.9) == 0.0
    assert _extra(age_group="66+", value_ratio=2.0) == pytest.approx(-0.55 * math.log(2.0))
    assert _extra(views_before_cart=2, value_ratio=0.8) == -3.0 and _extra(views_before_cart=2) == 0.0
    assert _extra(weekday=6, hour=20) == -3.0 and _extra(weekday=6, hour=8) == 0.0
    assert _extra(weekday=0, hour=8) == 3.5 and _extra(weekday=0, hour=20) == 0.0
    assert _extra(hour=None, weekday=None) == 0.0


def test_behaviour_is_checked_and_linear_keeps_its_repr():
    with pytest.raises(ValueError, match="behaviour"):
        SimParams(behaviour="quadratic")
    assert "behaviour" not in repr(SimParams()) and repr(SimParams()) == repr(SimParams(behaviour="nonlinear"))


def test_same_seed_same_sessions_up_to_outcomes():
    from events.simulator import StoreModel, synthetic_customers
    from tests.ml.sim import catalogue

    people = synthetic_customers(50, seed=1)
    linear = StoreModel(people, catalogue(), seed=1)
    nonlinear = StoreModel(people, catalogue(), SimParams(behaviour="nonlinear"), seed=1)
    profile = linear.profiles[0]
    a = linear.session(random.Random(3), profile, returning=False, holiday=False, begin_ms=0)
    b = nonlinear.session(random.Random(3), nonlinear.profiles[0], returning=False, holiday=False, begin_ms=0)
    assert [s[2] for s in a if s[1] == 0][:3] == [s[2] for s in b if s[1] == 0][:3]  # the same first views
