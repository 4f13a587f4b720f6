"""What a public (browser) key may say, checked before anything is stored. PURE.

A public key sits in every page of a store: anyone can copy it. What it sends therefore speaks for
an anonymous visitor, never for the store (docs/trust.md):

- events: ``page``, ``view``, ``add_to_cart``, ``remove_from_cart``, ``checkout`` and ``purchase``
  (and the original format's ``purchase_cart``). A refund, a cancellation or an ``abandon`` is the
  store's word: it comes from a server (secret key), a store connection or an import;
- Segment calls: ``page``, ``screen``, ``track`` of those events, and ``identify`` (which links the
  visitor's anonymous id to a user id); ``alias`` (which merges two ids) is refused.

Each refusal is one event's (or message's) rejection with a reason and the code
``not_allowed_from_browser``; the events beside it are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from events.wire.native import ACTIONS
from events.wire.reasons import Reason
from events.wire.segment import SEGMENT_ACTIONS

BROWSER_ACTIONS = frozenset({"page", "view", "add_to_cart", "remove_from_cart", "checkout", "purchase"})
BROWSER_REFUSED = "not_allowed_from_browser"
_STORE_SOURCES = "send it from your server with a secret key, a store connection or an import"


def _action_refused(action: str) -> Reason:
    what = {"refund": "refunds", "cancel": "cancellations"}.get(action, f"{action!r} events")
    return Reason(f"{what} are not accepted from a public (browser) key: {_STORE_SOURCES}", BROWSER_REFUSED)


ALIAS_REFUSED = Reason("alias merges two customers and is not accepted from a public (browser) key: "
                       f"{_STORE_SOURCES} (identify links a visitor's anonymous id to a user id)", BROWSER_REFUSED)


def native_refusal(raw: Any) -> dict[str, str] | None:
    """The reason a public key may not send this native event (None: it may, or validation will say
    what is wrong with it)."""
    if type(raw) is not dict:
        return None
    action = ACTIONS.get(raw["action"]) if type(raw.get("action")) is str and raw["action"] in ACTIONS else None
    if action is None or action in BROWSER_ACTIONS:
        return None
    return {"action": _action_refused(action)}


def segment_refusal(message: Any) -> dict[str, str] | None:
    """The reason a public key may not send this Segment message (None: it may, or mapping will say
    what is wrong with it)."""
    if type(message) is not dict:
        return None
    call = message.get("type", "track")
    if call == "alias":
        return {"type": ALIAS_REFUSED}
    if call != "track" or type(message.get("event")) is not str:
        return None
    action = SEGMENT_ACTIONS.get(message["event"])
    if action is None or action in BROWSER_ACTIONS:
        return None
    return {"event": _action_refused(action)}


class _Acked(Protocol):
    rejected: list[dict[str, Any]]


Result = TypeVar("Result", bound=_Acked)


@dataclass
class Screened:
    """A public key's native batch after ``native_screen``: the events it may send (``events``, at
    ``positions`` of the batch) and the refused ones as ack entries."""

    events: list[Any]
    positions: list[int] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, result: Result) -> Result:
        """``result`` (of storing ``events``) as the answer to the whole batch: its rejections at
        their batch positions, with the refused ones."""
        if self.refused:
            moved = [{**entry, "index": self.positions[entry["index"]]} for entry in result.rejected]
            result.rejected = sorted([*moved, *self.refused], key=lambda r: r["index"])
        return result


def native_screen(raw_events: Sequence[Any]) -> Screened:
    """Split a public key's batch into what it may send and what it may not."""
    screened = Screened([])
    for index, raw in enumerate(raw_events):
        errors = native_refusal(raw)
        if errors is None:
            screened.events.append(raw)
            screened.positions.append(index)
        else:
            event_id = raw.get("event_id") if type(raw) is dict else None
            screened.refused.append({"index": index, "event_id": event_id if type(event_id) is str
                                     and len(event_id) <= 100 and event_id.isprintable() else None,
                                     "errors": errors})
    return screened
