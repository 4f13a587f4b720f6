"""Token-bucket rate limits by key, shared through Redis when ``REDIS_URL`` is set.

A ``RateLimit`` allows ``rate`` units a second with a capacity of ``burst``. ``take(key, n)`` spends
``n`` units and answers ``0.0``, or answers the seconds to wait until ``n`` units are there and
spends nothing. Every unit is paid for: a request larger than the burst is let through only when
the bucket is full, and leaves it in debt (``burst - n``), so the next request waits until that
debt is paid back at ``rate`` units a second (a batch of 5,000 events from one address against a
limit of 20 a second holds that address back for about four minutes). Entry points answer a
refusal with HTTP 429 + ``Retry-After`` or a WebSocket error reply carrying ``retry_after``. Keys
are opaque strings (an ingest key's id, a public key's id and client address), namespaced by the
limit's ``name``.

Without Redis the buckets live in this process. With Redis they are shared by every process: a
Lua script refills and spends atomically on Redis's clock. So that a busy stream does not pay a
Redis round trip per message, a process takes a small lease of units at a time (``lease_seconds``
of the rate, used within a second); the limit may be exceeded by at most one lease per process.
If Redis cannot be reached the limit lets everything through (logged): a rate limit must not
stop ingest.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
local wait = 0
local admit = math.min(need, burst)
if tokens >= admit then
  granted = math.max(need, math.min(tokens, want))
  tokens = tokens - granted
else
  wait = (admit - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {tostring(granted), tostring(wait)}
"""

LEASE_TTL = 1.0  # seconds a leased unit may wait to be spent
_PRUNE_AT = 10_000  # in-process buckets kept before idle ones are dropped


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    def __init__(self, *, name: str, rate: float, burst: float, redis_url: str | None = None,
                 lease_seconds: float = 0.05):
        if rate <= 0:
            raise ValueError("rate must be > 0 (leave the limit out to disable it)")
        self.name = name
        self.rate = float(rate)
        self.burst = max(float(burst), 1.0)
        self.lease_units = max(1.0, min(self.burst, self.rate * lease_seconds))
        self._lock = threading.Lock()
        self._local: dict[str, _Bucket] = {}  # no Redis: the buckets; with Redis: the leases
        self._redis: Any = None
        self._script: Any = None
        self._warned_at = 0.0
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1,
                                               health_check_interval=30)
            self._script = self._redis.register_script(_LUA)

    def take(self, key: str, n: int = 1) -> float:
        """Spend ``n`` units of ``key``'s bucket: 0.0, or the seconds to wait (nothing spent)."""
        need, wait = self._take_here(key, n)
        return wait if wait is not None else self._take_remote(key, need)

    async def atake(self, key: str, n: int = 1) -> float:
        """``take`` for the event loop: only a Redis round trip leaves it (in a thread)."""
        need, wait = self._take_here(key, n)
        return wait if wait is not None else await asyncio.to_thread(self._take_remote, key, need)

    def _take_here(self, key: str, n: int) -> tuple[float, float | None]:
        """The units to spend, and the answer when it needs no Redis round trip (else None)."""
        need = float(n)  # every unit is paid for (a request larger than the burst leaves a debt)
        if need <= 0:
            return need, 0.0
        if self._redis is None:
            return need, self._take_local(key, need)
        if self._take_lease(key, need):
            return need, 0.0
        return need, None

    # In-process buckets -------------------------------------------------------------------------

    def _take_local(self, key: str, need: float) -> float:
        now = time.monotonic()
        with self._lock:
            bucket = self._local.get(key)
            if bucket is None:
                if len(self._local) >= _PRUNE_AT:
                    self._prune(now)
                bucket = self._local[key] = _Bucket(self.burst, now)
            else:
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
                bucket.at = now
            admit = min(need, self.burst)  # larger than the burst: a full bucket lets it in, in debt
            if bucket.tokens >= admit:
                bucket.tokens -= need
                return 0.0
            return (admit - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = self.burst / self.rate
        for key in [k for k, b in self._local.items() if now - b.at >= full]:
            del self._local[key]

    # Shared buckets (Redis) with a local lease ------------------------------------------------------

    def _take_lease(self, key: str, need: float) -> bool:
        now = time.monotonic()
        with self._lock:
            lease = self._local.get(key)
            if lease is not None and now - lease.at < LEASE_TTL and lease.tokens >= need:
                lease.tokens -= need
                return True
        return False

    def _take_remote(self, key: str, need: float) -> float:
        want = max(need, self.lease_units)
        try:
            granted_text, wait_text = self._script(keys=[f"ratelimit:{self.name}:{key}"],
                                                   args=[self.rate, self.burst, need, want])
            granted, wait = float(granted_text), float(wait_text)
        except Exception as exc:  # noqa: BLE001 - Redis down: let traffic through, say so now and then
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                logger.warning("rate limit %s not enforced: Redis unavailable (%s)", self.name, exc)
            return 0.0
        if granted >= need:
            with self._lock:
                if len(self._local) >= _PRUNE_AT:
                    self._local.clear()
                self._local[key] = _Bucket(granted - need, time.monotonic())
            return 0.0
        return max(wait, 0.001)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds (at least 1)."""
    return str(max(1, math.ceil(seconds)))


_limits: dict[tuple[str, float, float, str | None], RateLimit] = {}
_limits_lock = threading.Lock()


def rate_limit(*, name: str, rate: float, burst: float, redis_url: str | None) -> RateLimit | None:
    """The process's limit with these settings (None when ``rate`` is 0: no limit)."""
    if rate <= 0:
        return None
    spec = (name, float(rate), float(burst), redis_url)
    with _limits_lock:
        limit = _limits.get(spec)
        if limit is None:
            limit = _limits[spec] = RateLimit(name=name, rate=rate, burst=burst, redis_url=redis_url)
        return limit


def ingest_rate_limit() -> RateLimit | None:
    """Events a second per ingest key (settings INGEST_RATE_LIMIT, INGEST_RATE_BURST)."""
    from django.conf import settings

    return rate_limit(name="ingest", rate=settings.INGEST_RATE_LIMIT,
                      burst=max(settings.INGEST_RATE_BURST, settings.INGEST_MAX_BATCH_EVENTS),
                      redis_url=settings.REDIS_URL)
