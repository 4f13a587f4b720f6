"""The event wire formats (docs/sending-events.md), parsed and validated without touching the database.

- ``native``: one native event, or one in the original system's format, → a ``NativeEvent`` or a
  dict of per-field reasons (``parse_event``, ``parse_batch``), driven by a field table
  (``FIELDS``); the ``{"events": [...]}`` envelope.
- ``segment``: Segment Tracking API messages (Ecommerce spec v2) → native event dicts.
- ``values``: one value (ids, labels, free text, prices, quantities, timestamps) and the limits.
- ``decoding``: a message or body (str or bytes) → JSON values, or ``MessageError``.
- ``reasons``: ``Reason``, a refusal's text with a stable machine-readable ``code``.
- ``trust``: what a public (browser) key may send (the rest is refused per event, with a reason).

All are hot paths (tens of thousands of events a second): plain code, no exceptions on the common
path.

Hostile input: nothing one event holds may fail the events beside it, so everything the
database would refuse is refused here, per field, with a reason: control characters in ids and
labels, NUL in free text, lone surrogates (invalid UTF-8 in a body, or ``\\ud800`` escapes: no
database driver can encode them), over-long strings, out-of-range numbers, timestamps outside what
the analytics can place.
"""

from events.wire.decoding import HugeNumber, MessageError, loads
from events.wire.native import (
    ACTIONS,
    FIELDS,
    EnvelopeError,
    Field,
    NativeEvent,
    ParsedBatch,
    latest_allowed,
    native_events,
    parse_batch,
    parse_event,
)
from events.wire.reasons import Reason, code_of
from events.wire.segment import (
    IdentityCall,
    SegmentBatch,
    SegmentError,
    segment_batch,
    segment_event_count,
    segment_messages,
    segment_single,
    segment_to_native,
    segment_track,
)
from events.wire.trust import (
    ALIAS_REFUSED,
    BROWSER_ACTIONS,
    BROWSER_REFUSED,
    Screened,
    native_refusal,
    native_screen,
    segment_refusal,
)
from events.wire.values import (
    FUTURE_TOLERANCE,
    MAX_CATEGORY,
    MAX_CUSTOMER_ID,
    MAX_EVENT_ID,
    MAX_ORDER_ID,
    MAX_PRODUCT_ID,
    MAX_PRODUCT_IMAGE,
    MAX_PRODUCT_TITLE,
    MAX_SESSION_ID,
    parse_price,
    parse_quantity,
    parse_timestamp,
)

__all__ = [
    "ACTIONS", "ALIAS_REFUSED", "BROWSER_ACTIONS", "BROWSER_REFUSED", "FIELDS", "FUTURE_TOLERANCE", "MAX_CATEGORY",
    "MAX_CUSTOMER_ID", "MAX_EVENT_ID", "MAX_ORDER_ID", "MAX_PRODUCT_ID", "MAX_PRODUCT_IMAGE", "MAX_PRODUCT_TITLE",
    "MAX_SESSION_ID",
    "EnvelopeError", "Field", "HugeNumber", "IdentityCall", "MessageError", "NativeEvent", "ParsedBatch", "Reason",
    "Screened", "SegmentBatch", "SegmentError", "code_of", "latest_allowed", "loads", "native_events",
    "native_refusal", "native_screen", "parse_batch", "parse_event", "parse_price", "parse_quantity",
    "parse_timestamp", "segment_batch", "segment_event_count", "segment_messages", "segment_refusal",
    "segment_single", "segment_to_native", "segment_track",
]
