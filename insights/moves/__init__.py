"""History moves: an identity link or an age change that moves a customer's history (their events
re-attributed, every rollup kept exact) made in the background, in bounded steps, so that no
request and no ingest transaction ever waits for a whole history (docs/operations.md).

- ``models``: ``HistoryMove``, the queue (one row a move, its progress).
- ``counted``: where an event is counted while its customer's age move is under way.
- ``steps``: one bounded step of a move (the arithmetic of ``insights.upkeep``, a chunk at a time).
- ``services``: queueing (``history_link``, ``history_age_queue``), running (``history_moves_run``,
  ``history_moves_settle``, ``history_moves_drain``).
"""
