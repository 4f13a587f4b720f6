"""An event's ``context`` (docs/sending-events.md): where it happened. A JSON object of short strings;
known keys are kept (each checked as a one-line label with its own length limit), unknown ones are
dropped, anything else is that event's reason."""

from __future__ import annotations

from typing import Any

from events.wire.reasons import NOT_OBJECT, Reason
from events.wire.values import label

# key → longest value kept (characters)
CONTEXT_KEYS: dict[str, int] = {
    "page_url": 2000, "page_path": 1000, "page_title": 300, "referrer": 2000, "landing_page": 2000,
    "utm_source": 200, "utm_medium": 200, "utm_campaign": 200, "utm_term": 200, "utm_content": 200,
    "user_agent": 500, "session_start": 40, "library": 100,
}


def parse_context(value: Any, limit: Any = None, latest: Any = None) -> tuple[dict[str, str] | None, Reason | None]:
    """The known keys of a context object, each a label within its limit; ``(None, None)`` when empty."""
    if type(value) is not dict:
        return None, NOT_OBJECT
    out: dict[str, str] = {}
    for key, longest in CONTEXT_KEYS.items():
        raw = value.get(key)
        if raw is None:
            continue
        text, reason = label(raw, longest)
        if reason is not None:
            return None, Reason(f"{key}: {reason}", reason.code)
        if text is not None:
            out[key] = text
    return (out or None), None
