"""The ingest service every entry point calls (docs/sending-events.md).

``events_ingest`` validates a batch (events/wire), drops event_ids repeated in it, stores the rest
(events/persistence.py: one transaction, customers and products found or created, the metrics
hook, the dashboard broadcast after commit) and answers what happened to each event: the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError

from events import wire
from events.persistence import IngestUnavailable, Stored, events_store
from events.services.keys import KeyCredential, ingest_key_check
from events.services.rates import batches_convert
from events.services.sources import SourceRef, source_server, source_touch

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What happened to one batch (the ack, docs/sending-events.md)."""

    accepted: int = 0
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)  # Segment: acknowledged, not stored
    # Stored (and accepted) with an amount other than the one sent: refunds capped to their order's remainder.
    adjusted: list[dict[str, Any]] = field(default_factory=list)

    def as_ack(self) -> dict[str, Any]:
        ack = {"type": "ack", "accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}
        if self.ignored:
            ack["ignored"] = self.ignored
        if self.adjusted:
            ack["adjusted"] = self.adjusted
        return ack


def events_ingest(*, raw_events: Sequence[Any], source: SourceRef | None = None,
                  broadcast: bool = True) -> IngestResult:
    """Validate, deduplicate and store one batch in one transaction. ``source`` is what sent it
    (``events.services.sources``; store-level code without a key by default): recorded on each
    event, and its namespace is the one the batch's event ids are deduplicated in.

    Raises ``IngestUnavailable`` on a transient database failure (nothing stored).
    """
    return events_ingest_batches(batches=[raw_events], source=source, broadcast=broadcast)[0]


def events_ingest_batches(*, batches: Sequence[Sequence[Any]], source: SourceRef | None = None,
                          broadcast: bool = True) -> list[IngestResult]:
    """Several batches (e.g. WebSocket messages gathered for a group commit) stored in ONE
    transaction, with one result per batch. An event_id repeated in a later batch is a duplicate
    there, as if the batches had been sent one after the other."""
    latest = wire.latest_allowed()
    return events_ingest_parsed(batches=[wire.parse_batch(b, latest) for b in batches], source=source,
                                broadcast=broadcast)


def events_ingest_parsed(*, batches: Sequence[wire.ParsedBatch], source: SourceRef | None = None,
                         broadcast: bool = True, credential: KeyCredential | None = None) -> list[IngestResult]:
    """``events_ingest_batches`` for batches already validated with ``wire.parse_batch`` (the
    WebSocket consumer validates each message as it arrives, while the previous group commits).

    With a ``credential`` the key is re-checked in the transaction (``IngestKeyRevoked``).
    """
    try:
        if source is None:
            source = source_server()
        batches_convert(batches)  # to STORE_CURRENCY; events without a rate join their batch's rejected
    except (OperationalError, InterfaceError) as exc:  # the database is away: the sender may resend
        raise IngestUnavailable(str(exc)) from exc
    results = [IngestResult(rejected=list(batch.rejected)) for batch in batches]
    valid, owners = _distinct(batches, results)
    check = (lambda: ingest_key_check(credential=credential)) if credential is not None else None
    if valid:
        outcome = events_store(events=valid, broadcast=broadcast, check=check, source=source)
        _answer(valid, owners, outcome)
        source_touch(source)
        if outcome.refused:
            for result in results:
                result.rejected.sort(key=lambda r: r["index"])
    elif check is not None:
        check()
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("ingest from %s %s: %d accepted, %d duplicates, %d rejected", source.kind, source.pk,
                     sum(r.accepted for r in results), sum(len(r.duplicates) for r in results),
                     sum(len(r.rejected) for r in results))
    return results


def _distinct(batches: Sequence[wire.ParsedBatch], results: list[IngestResult]
              ) -> tuple[list[wire.NativeEvent], list[tuple[IngestResult, int]]]:
    """The valid events to store, each event_id once (later repeats are their batch's duplicates),
    with the result and batch index each belongs to."""
    valid: list[wire.NativeEvent] = []
    owners: list[tuple[IngestResult, int]] = []
    seen: set[str] = set()
    for batch, result in zip(batches, results, strict=True):
        for n, event in enumerate(batch.events):
            if event.event_id in seen:
                result.duplicates.append(event.event_id)
            else:
                seen.add(event.event_id)
                valid.append(event)
                owners.append((result, batch.position(n)))
    return valid, owners


def _answer(valid: list[wire.NativeEvent], owners: list[tuple[IngestResult, int]], outcome: Stored) -> None:
    """Each event stored (accepted; adjusted too when stored capped), refused when stored (rejected) or
    already there (duplicate)."""
    stored, refused, capped = outcome
    for event, (result, index) in zip(valid, owners, strict=True):
        if event.event_id in stored:
            result.accepted += 1
            if event.event_id in capped:
                result.adjusted.append({"index": index, "event_id": event.event_id,
                                        **capped[event.event_id].as_ack()})
        elif event.event_id in refused:
            result.rejected.append({"index": index, "event_id": event.event_id,
                                    "errors": {"event": refused[event.event_id]}})
        else:
            result.duplicates.append(event.event_id)
