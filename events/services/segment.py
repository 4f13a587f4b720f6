"""Segment Tracking API messages (events/wire/segment.py) through the ingest service; identify and
alias calls through the identity service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events import wire
from events.services.identity import identities_record
from events.services.ingest import IngestResult, events_ingest
from events.services.sources import source_server
from events.types import SourceRef


def events_ingest_segment(*, messages: Sequence[Any], broadcast: bool = True,
                          max_message_bytes: int | None = None,
                          context_defaults: dict[str, str] | None = None,
                          source: SourceRef | None = None) -> IngestResult:
    """Segment messages (every call type; Ecommerce v2) stored as native events, identify / alias
    calls recorded.

    The result's rejected indexes are positions of messages (a message with several product
    lines may be rejected line by line); accepted counts stored lines and recorded identify / alias
    calls; ``ignored`` lists messages acknowledged but not stored (events that map to nothing). A
    message larger than ``max_message_bytes`` (as compact JSON) is rejected alone.
    ``context_defaults`` fill context keys a message lacks (a browser request's User-Agent).
    Identify and alias calls are applied before the batch's events are stored.

    A browser's ``source`` (a public key): what it may not send is rejected per message
    (``events.wire.trust``) and its identify calls follow the browser's rules (``identities_record``).
    """
    trusted = source is None or not source.is_browser
    batch = wire.segment_batch(messages, received_at=datetime.now(UTC).isoformat(),
                               max_message_bytes=max_message_bytes,
                               refusal=None if trusted else wire.segment_refusal)
    if context_defaults:
        for event in batch.events:
            event["context"] = {**context_defaults, **(event.get("context") or {})}
    # Identities first: the batch's own anonymous events then go straight to the identified customer
    # (and what was stored under the anonymous id before is merged into it first).
    source = source or source_server()
    identities = (identities_record(calls=batch.identities, trusted=trusted, source_pk=source.pk)
                  if batch.identities else None)
    result = events_ingest(raw_events=batch.events, source=source, broadcast=broadcast)
    result.rejected = batch.rejections(result.rejected)
    if identities is not None:
        result.accepted += len(identities.recorded)
        result.duplicates += identities.duplicates
        result.rejected = sorted(result.rejected + identities.rejected, key=lambda r: r["index"])
    result.ignored = batch.ignored
    return result
