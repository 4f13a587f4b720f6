"""Segment Tracking API messages (events/wire/segment.py) through the ingest service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events import wire
from events.services.ingest import IngestResult, events_ingest


def events_ingest_segment(*, messages: Sequence[Any], broadcast: bool = True,
                          max_message_bytes: int | None = None) -> IngestResult:
    """Segment messages (Ecommerce v2) stored as native events.

    The result's rejected indexes are positions of messages (a message with several product
    lines may be rejected line by line); accepted counts stored lines. A message larger than
    ``max_message_bytes`` (as compact JSON) is rejected alone.
    """
    batch = wire.segment_batch(messages, received_at=datetime.now(UTC).isoformat(),
                               max_message_bytes=max_message_bytes)
    result = events_ingest(raw_events=batch.events, source="segment", broadcast=broadcast)
    result.rejected = batch.rejections(result.rejected)
    return result
