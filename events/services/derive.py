"""The end of a bulk load: the figures derived from its events brought up to date before the command returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from events.signals import derivation_wanted


def events_derive_queued(*, progress: Callable[[int, int], None] | None = None) -> tuple[float, int]:
    """Derive now, in this process, what ingest queued for derivation (sessions, carts, orders, funnel,
    session rollups: docs/derivation.md), instead of leaving it to the worker; ``progress(done, total)``
    in events. Returns the seconds it took and the events that were queued. Call it outside a
    transaction, after the last batch."""
    started = time.perf_counter()
    replies = derivation_wanted.send(sender=None, progress=progress)
    events = sum(int(cast(Any, reply) or 0) for _, reply in replies)  # receivers answer the events queued
    return time.perf_counter() - started, events
