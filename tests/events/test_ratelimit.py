"""events/ratelimit.py: token buckets in this process, and shared through a real Redis."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

import pytest

from events.ratelimit import RateLimit, rate_limit, retry_after_header

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (the PostgreSQL + Redis pass)")


def test_a_bucket_lets_its_burst_through_then_says_how_long_to_wait():
    limit = RateLimit(name="t", rate=1, burst=5)
    assert limit.take("k", 5) == 0
    assert 0.9 < limit.take("k", 1) <= 1.0  # one unit a second
    assert 1.9 < limit.take("k", 2) <= 2.0  # nothing was spent by the refusals
    assert limit.take("other", 5) == 0  # per key


def test_a_request_larger_than_the_burst_waits_for_a_full_bucket():
    limit = RateLimit(name="t", rate=10, burst=5)
    assert limit.take("k", 50) == 0  # takes the whole burst
    assert limit.take("k", 50) > 0


def test_every_unit_is_paid_for_a_request_larger_than_the_burst_leaves_a_debt():
    limit = RateLimit(name="t", rate=10, burst=5)
    assert limit.take("k", 50) == 0  # a full bucket lets it in ...
    assert 4 < limit.take("k", 1) <= 4.6  # ... 45 units in debt, paid back first: (1 + 45) / 10 s


def test_no_limit_when_the_rate_is_zero_and_retry_after_is_whole_seconds():
    assert rate_limit(name="t", rate=0, burst=10, redis_url=None) is None
    assert rate_limit(name="t", rate=5, burst=10, redis_url=None) is rate_limit(name="t", rate=5, burst=10,
                                                                                 redis_url=None)
    assert [retry_after_header(s) for s in (0.001, 1.0, 1.2)] == ["1", "1", "2"]


def test_atake_in_an_event_loop():
    limit = RateLimit(name="t", rate=1, burst=2)
    assert asyncio.run(limit.atake("k", 2)) == 0
    assert asyncio.run(limit.atake("k", 1)) > 0


@needs_redis
def test_processes_share_one_bucket_through_redis():
    name = f"t-{uuid.uuid4().hex}"
    web1 = RateLimit(name=name, rate=1, burst=5, redis_url=REDIS_URL)
    web2 = RateLimit(name=name, rate=1, burst=5, redis_url=REDIS_URL)  # another process's instance
    assert web1.take("k", 5) == 0
    assert 0.9 < web2.take("k", 1) <= 1.0
    assert asyncio.run(web2.atake("k", 1)) > 0
    assert web2.take("other", 1) == 0


@needs_redis
def test_a_request_larger_than_the_burst_leaves_a_debt_in_redis_too():
    limit = RateLimit(name=f"t-{uuid.uuid4().hex}", rate=10, burst=5, redis_url=REDIS_URL)
    assert limit.take("k", 50) == 0
    assert 4 < limit.take("k", 1) <= 4.6


@needs_redis
def test_a_lease_serves_a_stream_without_a_redis_round_trip_per_message():
    import redis

    name = f"t-{uuid.uuid4().hex}"
    limit = RateLimit(name=name, rate=1000, burst=1000, redis_url=REDIS_URL, lease_seconds=0.05)  # 50 a lease
    assert limit.take("k", 1) == 0
    client = redis.Redis.from_url(REDIS_URL)
    key = f"ratelimit:{name}:k"
    before = client.hgetall(key)
    assert float(before[b"tokens"]) == pytest.approx(950, abs=1)
    assert all(limit.take("k", 1) == 0 for _ in range(49))  # the rest of the lease
    assert client.hgetall(key) == before  # Redis untouched
    assert limit.take("k", 1) == 0  # a new lease
    assert client.hget(key, "ts") != before[b"ts"]


def test_an_unreachable_redis_lets_traffic_through_and_says_so(caplog):
    limit = RateLimit(name="t", rate=1, burst=1, redis_url="redis://127.0.0.1:1/0")  # nothing listens
    with caplog.at_level(logging.WARNING, logger="events.ratelimit"):
        assert [limit.take("k", 1) for _ in range(3)] == [0, 0, 0]
    assert "not enforced" in caplog.text
