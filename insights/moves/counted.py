"""Where a stored event is counted while its customer's age move is under way.

An age move switches the customer to the new age group first and then moves their older events
step by step, so for a while some of those events are still counted under the old group. Whoever
takes an older event's contribution out again in the meantime (a cancel taking its order's money
out) must take it out of the group it is counted in: ``counted_groups`` says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from events.types import StoredEvent
from insights.moves.models import HistoryMove


def counted_groups(events: Sequence[StoredEvent], ages: Mapping[int, str]
                   ) -> Iterable[tuple[list[StoredEvent], Mapping[int, str]]]:
    """The events in parts, each with the ``age_of`` its events are counted under: ``ages`` (the
    customers' current groups), except for the events an age move under way has not moved yet."""
    moves = {m.customer_id: m for m in HistoryMove.objects.filter(
        kind=HistoryMove.Kind.AGE, finished_at__isnull=True, started_at__isnull=False,
        customer_id__in={e.customer_pk for e in events})}
    if not moves:
        return [(list(events), ages)]
    current: list[StoredEvent] = []
    behind: dict[int, list[StoredEvent]] = {}
    for e in events:
        move = moves.get(e.customer_pk)
        if move is not None and not_moved_yet(move, e):
            behind.setdefault(e.customer_pk, []).append(e)
        else:
            current.append(e)
    parts: list[tuple[list[StoredEvent], Mapping[int, str]]] = [(current, ages)] if current else []
    parts += [(found, {customer: moves[customer].from_group}) for customer, found in behind.items()]
    return parts


def not_moved_yet(move: HistoryMove, e: StoredEvent) -> bool:
    """The event is one the move has still to move (counted under its old group)."""
    if move.boundary is None or e.pk > move.boundary:
        return False
    return move.cursor_at is None or (e.timestamp, e.pk) > (move.cursor_at, move.cursor_id)
