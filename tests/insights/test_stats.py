import pytest

from insights.stats import quintile_scores, rfm_segment, separated_best, wilson_interval


def test_wilson_interval_known_value():
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
    assert wilson_interval(0, 0) == (None, None)


def test_separated_best_only_when_intervals_separate():
    assert separated_best([("a", 60, 100), ("b", 20, 100)])[0] == "a"
    assert separated_best([("a", 55, 100), ("b", 50, 100)]) is None
    assert separated_best([("a", 9, 10), ("b", 1, 10)]) is None  # too little data


def test_quintiles_and_segments():
    assert quintile_scores([1, 2, 3, 4, 5]) == [1, 2, 3, 4, 5]
    assert quintile_scores([7, 7, 7]) == [1, 1, 1]
    assert rfm_segment(5, 5) == "Champions" and rfm_segment(1, 1) == "Lost" and rfm_segment(1, 5) == "Can't lose"
