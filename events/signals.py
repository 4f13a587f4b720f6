"""Signals through which the events app (a lower layer) triggers higher apps without importing them.

Layers only point down (ARCHITECTURE.md): ``events`` must not import ``insights``. Where ingest has
to start work that belongs higher up (keeping derived metrics in step), it sends a signal and the
higher app connects its receiver in its ``AppConfig.ready()``, as Django's own apps do.

- ``events_stored(sender, events=[StoredEvent, ...])``: sent INSIDE the ingest transaction with the
  newly stored events (never duplicates). A receiver's exception rolls the batch back: receivers
  must be exact, never best effort.
- ``exposures_stored(sender, exposures=[Exposure, ...])``: sent INSIDE the ingest transaction, before
  ``events_stored``, with the A/B exposures (``experiment`` and ``variant``) the newly stored events
  carried, bots' included (flagged): the experiments app keeps each visitor's first variant.
- ``events_deleted(sender)``: sent inside the transaction that deleted events in bulk (the demo
  reset); receivers re-derive what they keep from what is left.
- ``identity_linked(sender, source_pk=…, target_pk=…, trusted=…)``: an identify or alias said that
  customer ``source`` (an anonymous visitor, ``anon:<id>``, or a previous id) is ``target``
  (``trusted``: said by a server, not a browser); sent inside a transaction of its own. The
  receiver (insights) points the source at the target and queues the move of its events, which
  keeps every rollup exact (``customers.services.customer_history_settle`` makes it).
- ``rates_imported(sender)``: exchange rates were imported (sent after the import's commit); store
  connections store the deliveries that waited for a rate.
- ``derivation_wanted(sender, progress=None)``: a bulk load (``simulate``, ``import_events``) has
  committed its last batch and wants the figures derived from the events before it returns; sent
  outside any transaction. Receivers derive what ingest queued for them (insights: the queued
  windows), calling ``progress(done, total)`` (events) now and then when it is given.
"""

from django.dispatch import Signal

events_stored = Signal()
events_deleted = Signal()
exposures_stored = Signal()
identity_linked = Signal()
rates_imported = Signal()
derivation_wanted = Signal()
