"""The simulator's output: events in the native wire format (docs/sending-events.md), with deterministic ids.

An event id is a UUID-shaped prefix derived from the seed and the run plus a 12-hex-digit counter;
session and order ids are the prefix's first eight characters plus a counter. So the same seed and
inputs give the same ids, cheaply and without ``uuid4``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from events.simulator.catalogue import NO_PRODUCT, Catalogue
from events.simulator.session import ACTIONS


def to_ms(moment: datetime) -> int:
    """An aware datetime → milliseconds since the epoch."""
    if moment.tzinfo is None:
        raise ValueError("aware datetimes only")
    return int(moment.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch → ISO 8601 UTC with a Z."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def id_prefix(*parts: object) -> str:
    """A UUID-shaped 24-character prefix ("xxxxxxxx-xxxx-4xxx-8xxx-") derived from ``parts``."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-8{digest[15:18]}-"


EventRow = tuple[int, str, int, int, int, int, int, str]
"""(event number in the run, customer_id, session number, action code, product index or -1,
quantity, order number or -1, timestamp)"""


def wire_events(catalogue: Catalogue, prefix: str, rows: Iterable[EventRow]) -> list[dict]:
    """The run ``prefix``'s events, as wire-format dicts. A product index of -1 is no product
    (checkout, abandon); an order number of -1 is no order (all but purchase lines). The one place
    both drivers build events (a loop here, not a call per event: backfill builds millions)."""
    short, fields = prefix[:8], catalogue.wire_fields
    events = []
    for number, customer_id, session_no, action, product, quantity, order_no, timestamp in rows:
        product_id, price, title, category = fields[product] if product >= 0 else NO_PRODUCT
        events.append({
            "event_id": f"{prefix}{number:012x}",
            "customer_id": customer_id,
            "session_id": f"s-{short}-{session_no:x}",
            "action": ACTIONS[action],
            "product_id": product_id,
            "quantity": quantity,
            "product_price": price,
            "order_id": f"o-{short}-{order_no:x}" if order_no >= 0 else None,
            "timestamp": timestamp,
            "product_title": title,
            "category": category,
        })
    return events
