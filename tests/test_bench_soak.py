"""The soak bench's arithmetic (bench/soak.py): percentiles, lag and catching up. No timing here."""

from __future__ import annotations

import pytest

from bench.soak import Requests, Sample, between, caught_up_after, percentile


def test_percentile_is_the_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert percentile([], 95) == 0.0


def test_lag_is_the_age_of_the_oldest_queued_window():
    assert Sample(at=100.0, queued_events=500, oldest=96.5).lag == pytest.approx(3.5)
    assert Sample(at=100.0, queued_events=0, oldest=None).lag == 0.0
    assert Sample(at=100.0, queued_events=10, oldest=100.2).lag == 0.0  # clocks a hair apart: never negative
    both = Sample(at=100.0, queued_events=10, oldest=50.0, live_oldest=98.0)
    assert (both.lag, both.live_lag) == (50.0, 2.0)


def test_caught_up_when_nothing_queued_before_the_moment_is_left():
    samples = [Sample(9.0, 100, 1.0), Sample(10.0, 100, 2.0), Sample(11.0, 50, 9.5), Sample(12.0, 40, 10.5),
               Sample(13.0, 0, None)]
    # Windows written at or before 10.0 are gone at 12.0 (the oldest left was written at 10.5).
    assert caught_up_after(samples, 10.0) == pytest.approx(2.0)
    assert caught_up_after(samples, 11.0) == pytest.approx(2.0)  # at 13.0 the queue is empty
    assert caught_up_after(samples[:4], 11.0) is None
    assert caught_up_after([Sample(5.0, 0, None)], 10.0) is None  # a sample before the moment does not count
    assert [s.at for s in between(samples, 10.0, 12.0)] == [10.0, 11.0]


def test_requests_window_counts_acknowledged_events_failures_and_latencies():
    requests = Requests()
    requests.add(1.0, 0.2, 500, True)
    requests.add(2.0, 0.4, 500, True)
    requests.add(2.5, 1.5, 0, False)
    requests.add(9.0, 0.1, 500, True)
    assert requests.window(0.0, 3.0) == (1000, 1, [0.2, 0.4, 1.5])
    assert requests.window(3.0, 10.0) == (500, 0, [0.1])
