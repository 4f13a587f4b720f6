"""Where simulated visits come from: each session's first event gets a ``context`` (UTM
parameters or a referrer) for one traffic channel, and channels convert differently, so the demo's
Acquisition page has something true to find (Email converts best, Paid Social worst). PURE (no ORM).

The behaviour model's random draws are untouched: a session's channel is chosen *after* its events
are drawn, from a hash of its session id, with odds weighted by whether the session bought:
P(channel | bought) ∝ share × lift, P(channel | not) ∝ share. So a channel's conversion moves with its
``lift`` (about ×2 for Email, ×0.45 for Paid Social at the store's usual 4–6% conversion) while the
store's overall conversion stays the model's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

# (name as insights.channels calls it, share of visits, conversion lift, context of the first event)
CHANNEL_MIX: tuple[tuple[str, float, float, Mapping[str, str] | None], ...] = (
    ("Direct", 0.24, 1.0, None),
    ("Organic Search", 0.24, 1.0, {"referrer": "https://www.google.com/", "landing_page": "/products/"}),
    ("Email", 0.12, 2.2, {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "weekly-picks",
                          "landing_page": "/"}),
    ("Paid Search", 0.12, 1.2, {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand",
                                "landing_page": "/"}),
    ("Paid Social", 0.14, 0.45, {"utm_source": "facebook", "utm_medium": "paid_social",
                                 "utm_campaign": "summer-ads", "landing_page": "/products/"}),
    ("Organic Social", 0.07, 0.8, {"referrer": "https://www.instagram.com/", "landing_page": "/"}),
    ("Referral", 0.07, 1.0, {"referrer": "https://blog.example.org/best-gifts", "landing_page": "/products/"}),
)


def _cumulative(bought: bool) -> list[float]:
    weights = [share * (lift if bought else 1.0) for _, share, lift, _ in CHANNEL_MIX]
    total = sum(weights)
    out, running = [], 0.0
    for w in weights:
        running += w / total
        out.append(running)
    return out


_BOUGHT, _BROWSED = _cumulative(True), _cumulative(False)


def _unit(session_id: str) -> float:
    digest = hashlib.sha256(f"traffic|{session_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def session_channel(session_id: str, *, bought: bool) -> int:
    """The index in ``CHANNEL_MIX`` of this session's channel (fixed by its id and whether it bought)."""
    u = _unit(session_id)
    for i, edge in enumerate(_BOUGHT if bought else _BROWSED):
        if u < edge:
            return i
    return len(CHANNEL_MIX) - 1


def session_context(session_id: str, *, bought: bool) -> dict[str, str] | None:
    """The context the session's first event carries (None: a Direct visit, no context)."""
    context = CHANNEL_MIX[session_channel(session_id, bought=bought)][3]
    return dict(context) if context is not None else None


def first_event_contexts(events: list[dict], *, first: set[int] | None = None,
                         bought: set[str] | None = None) -> None:
    """Give each session's first event (indices ``first``; None: every event here is one session's,
    the first is index 0) its context, in place; ``bought``: the session ids that placed an order
    (None: any purchase line among ``events``)."""
    if not events:
        return
    if first is None:
        first = {0}
    if bought is None:
        bought = {e["session_id"] for e in events if e["action"] == "purchase"}
    for i in first:
        event = events[i]
        context = session_context(event["session_id"], bought=event["session_id"] in bought)
        if context is not None:
            event["context"] = context
