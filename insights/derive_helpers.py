"""Batches of customers derived on helper connections as well (docs/derivation.md#helper-connections): a
rebuild's batches, and a drain's chunks of customers, are independent until their rollup step, so
``DERIVATION_WORKERS`` threads, each with its own database connection (its own PostgreSQL backend: the
second core), derive batches while the derivation's connection stores them and derives the others.

A helper derives a batch with the SQL engine's statements (``insights.derive_sql``) in its temporary
tables and hands their rows over in unlogged tables of this run (``STAGE``: committed by the helper,
read by the derivation's transaction and dropped by it; any left by a run that failed are dropped by the
next). The derivation's connection copies a handed-over batch into its own temporary tables of the same
names and goes on as with a batch it derived itself, so the result is the same whichever connection
derived a batch. A helper that fails hands its batch back, and the derivation's connection derives it.

Helpers see only what is committed. They read the events, the customers' age groups and (a drain's) the
stored sessions of the batch's customers; the caller uses them only where its own transaction has
changed none of these for those customers (``insights.rebuild_sql``, ``insights.derive_drain``).
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

logger = logging.getLogger(__name__)

STAGE = "insights_derive_stage"  # prefix of the unlogged tables a helper hands its batches over in


@dataclass(frozen=True)
class Batch:
    number: int
    events: int = 0  # a rebuild's batch: its events (progress)
    first: int = 0  # a rebuild's batch: its customers' ids, first and last (a run of whole customers)
    last: int = 0


@dataclass(frozen=True)
class Plan:
    """What helpers derive: ``derive(cur, batch)`` fills ``tables`` (temporary tables, each with columns
    ``c`` and ``k``, and the columns to analyse once taken) in the helper's transaction, under
    ``server_settings`` (``set_config`` for the transaction) and, when given, ``temp_buffers`` (set before
    the helper's first temporary table)."""
    derive: Callable[[Any, Batch], None]
    tables: Mapping[str, str]
    server_settings: dict[str, str]
    temp_buffers: str | None = None


class Helpers:
    """``count`` helper threads deriving batches from ``todo``; ``results()`` gives each handed-over batch
    (``staged``) or, when a helper failed, the batch to derive in the derivation's connection (``failed``)."""

    def __init__(self, count: int, todo: queue.SimpleQueue[Batch], plan: Plan) -> None:
        self.todo, self.plan = todo, plan
        token = uuid.uuid4().hex[:12]
        self.stage = {t: f"{STAGE}_{token}_{t}" for t in plan.tables}
        self.columns: dict[str, str] = {}  # each hand-over table's columns but the batch number
        self.done: queue.SimpleQueue[tuple[str, Batch]] = queue.SimpleQueue()
        self.made = False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, name=f"derive-helper-{i}", daemon=True)
                        for i in range(count)]
        self.running = len(self.threads)
        for t in self.threads:
            t.start()

    def _stage_make(self, cur: Any) -> None:
        """The hand-over tables (the temporary tables' columns and the batch number), made and committed once."""
        with self.lock:
            if self.made:
                return
            with transaction.atomic():
                for table, stage in self.stage.items():
                    cur.execute(f"CREATE UNLOGGED TABLE {stage} AS SELECT *, 0 AS batch FROM {table} WITH NO DATA;"
                                f" CREATE INDEX ON {stage} (batch)")
            self.made = True

    def _derive(self, batch: Batch) -> None:
        with connection.cursor() as cur:
            with transaction.atomic():  # the temporary tables keep their rows past the commit
                for name, value in self.plan.server_settings.items():
                    cur.execute("SELECT set_config(%s, %s, true)", [name, value])
                self.plan.derive(cur, batch)
            self._stage_make(cur)  # committed before any helper writes to it
            with transaction.atomic():
                for table, stage in self.stage.items():
                    cur.execute(f"INSERT INTO {stage} SELECT *, %s FROM {table}", [batch.number])

    def _run(self) -> None:
        try:
            if self.plan.temp_buffers:
                with connection.cursor() as cur:
                    cur.execute("SELECT set_config('temp_buffers', %s, false)", [self.plan.temp_buffers])
            while True:
                try:
                    batch = self.todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._derive(batch)
                except Exception:
                    logger.warning("a derivation helper failed on batch %s; the derivation's connection derives it",
                                   batch.number, exc_info=True)
                    self.done.put(("failed", batch))
                    break
                self.done.put(("staged", batch))
        finally:
            connection.close()
            self.done.put(("exit", Batch(-1)))

    def results(self, *, wait: bool) -> list[tuple[str, Batch]]:
        """What the helpers handed over so far; ``wait``: at least one result, unless every helper has
        finished."""
        out: list[tuple[str, Batch]] = []
        while self.running:
            try:
                kind, batch = self.done.get(block=wait and not out)
            except queue.Empty:
                break
            if kind == "exit":
                self.running -= 1
            else:
                out.append((kind, batch))
        return out

    def take(self, cur: Any, batch: Batch) -> None:
        """A handed-over batch into this connection's temporary tables of the same names (made from the
        hand-over tables' columns when this connection has not made them yet)."""
        for table, stage in self.stage.items():
            if table not in self.columns:
                cur.execute(f"SELECT * FROM {stage} LIMIT 0")
                self.columns[table] = ", ".join(d[0] for d in cur.description if d[0] != "batch")
            cols = self.columns[table]
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} AS SELECT {cols} FROM {stage} WITH NO DATA;"
                        f" CREATE INDEX IF NOT EXISTS {table}_ix ON {table} (c, k);"
                        f" TRUNCATE {table};"
                        f" INSERT INTO {table} SELECT {cols} FROM {stage} WHERE batch = %s;"
                        f" ANALYZE {table} ({self.plan.tables[table]})", [batch.number])

    def close(self, *, drop: bool) -> None:
        """Wait for every helper; ``drop``: the hand-over tables, in the derivation's transaction (after an
        error there, which may have aborted it, they are left to the next run)."""
        for t in self.threads:
            t.join()
        self.results(wait=False)
        if self.made and drop:
            with connection.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS " + ", ".join(self.stage.values()))


def stage_leftovers_drop() -> None:
    """Hand-over tables a failed run left (its helpers had committed them); under the derivation lock."""
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE %s",
                    [STAGE + "\\_%"])
        names = [r[0] for r in cur.fetchall()]
        if names:
            cur.execute("DROP TABLE IF EXISTS " + ", ".join(names))


def batches_derive(batches: Sequence[Batch], *, workers: int, plan: Plan, own: Callable[[Batch], None],
                   staged: Callable[[Helpers, Batch], None]) -> None:
    """Every batch derived once: by ``workers`` helpers and by this connection (``own``), which also goes on
    with each batch a helper handed over (``staged``) as soon as it is there."""
    todo: queue.SimpleQueue[Batch] = queue.SimpleQueue()
    for b in batches:
        todo.put(b)
    if workers < 1 or len(batches) < 2:
        while not todo.empty():
            own(todo.get_nowait())
        return
    stage_leftovers_drop()
    helpers = Helpers(min(workers, len(batches) - 1), todo, plan)
    done = False
    try:
        while True:
            _handle(helpers, helpers.results(wait=False), own, staged)
            try:
                batch = todo.get_nowait()
            except queue.Empty:
                break
            own(batch)
        while helpers.running:
            _handle(helpers, helpers.results(wait=True), own, staged)
        done = True
    finally:
        while not todo.empty():  # on an error here, the helpers stop after their batch in hand
            todo.get_nowait()
        helpers.close(drop=done)


def _handle(helpers: Helpers, results: list[tuple[str, Batch]], own: Callable[[Batch], None],
            staged: Callable[[Helpers, Batch], None]) -> None:
    for kind, batch in results:
        if kind == "staged":
            staged(helpers, batch)
        else:
            own(batch)
