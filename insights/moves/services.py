"""Queueing and running history moves (see ``insights.moves``).

Queueing is cheap and happens where the change is said (an identify's link, a trait's new age):
``history_link`` points the linked id at its customer at once (later events under it are stored as
that customer's) and queues the move of what was stored before; ``history_age_queue`` queues an
age. Running is ``history_move_step`` repeated: each step is one transaction that takes the
derivation lock, holds ingest back (``insights.rollup_store.ingest_hold``) and moves at most
HISTORY_MOVE_STEP_EVENTS events and sessions, so ingest never waits for more than one step.

- ``history_moves_settle`` (after the request's writes commit): the small moves at once (a step
  that finishes its move), the rest to the Celery task ``history_moves_task``;
- ``history_moves_run``: every open move to its end, step by step (the task; the derivation beat
  task picks up a move no one has stepped for a minute);
- ``history_moves_drain``: the same inside the caller's transaction (admin's age change, erasure,
  which need every earlier move finished first).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from celery import signature
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from events.models import Event
from insights.models import Session
from insights.moves.models import HistoryMove
from insights.moves.steps import age_step, merge_step
from insights.rollup_store import DERIVATION_LOCK_ID, derivation_lock, ingest_hold

logger = logging.getLogger(__name__)

MOVES_TASK = "insights.tasks.history_moves_task"
SETTLE_STEPS = 10  # steps a request makes at most (each one holds ingest for one step only)
STALLED_AFTER = dt.timedelta(minutes=1)
_PROFILE_FIELDS = ("name", "email", "gender", "city", "country", "signed_up_at")


# --- queueing ---------------------------------------------------------------------------------------


@transaction.atomic
def history_link(*, source_pk: int, target_pk: int, trusted: bool = True) -> HistoryMove | None:
    """Customer ``source`` (an anonymous visitor, a previous id) turned out to be ``target``: from
    now on its id (and any id linked to it) names the target; what the target's profile lacks is
    taken from it (its age too, from a trusted source: through an age move); the move of its stored
    history is queued (returned; None when there is nothing to move or the link would be a loop)."""
    if (Customer.objects.filter(pk=source_pk, merged_into_id=target_pk).exists()
            and not Event.objects.filter(customer_id=source_pk).exists()):
        return None  # a repeated identify: nothing new
    rows = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[source_pk, target_pk])}
    if source_pk == target_pk or len(rows) < 2 or rows[target_pk].merged_into_id == source_pk:
        return None
    source, target = rows[source_pk], rows[target_pk]
    Customer.objects.filter(merged_into_id=source.pk).update(merged_into_id=target.pk)
    Customer.objects.filter(pk=source.pk).update(merged_into_id=target.pk)
    fill = {f: getattr(source, f) for f in _PROFILE_FIELDS if getattr(source, f) and not getattr(target, f)}
    if fill:
        Customer.objects.filter(pk=target.pk).update(**fill)
    if trusted and target.age is None and source.age is not None:
        history_age_queue(customer_pk=target.pk, age=source.age)
    if not (Event.objects.filter(customer_id=source.pk).exists() or Session.objects.filter(customer_id=source.pk)
            .exists()):
        return None
    open_move = HistoryMove.objects.filter(kind=HistoryMove.Kind.MERGE, customer_id=source.pk, target_id=target.pk,
                                           finished_at__isnull=True).first()
    return open_move or HistoryMove.objects.create(kind=HistoryMove.Kind.MERGE, customer_id=source.pk,
                                                   target_id=target.pk)


def history_age_queue(*, customer_pk: int, age: int | None) -> HistoryMove:
    """Queue giving the customer ``age`` (their history moves with it if the age group changes). A
    queued age not started yet is replaced."""
    waiting = HistoryMove.objects.filter(kind=HistoryMove.Kind.AGE, customer_id=customer_pk, finished_at__isnull=True,
                                         started_at__isnull=True).first()
    if waiting is not None:
        waiting.age = age
        waiting.save(update_fields=["age", "updated_at"])
        return waiting
    return HistoryMove.objects.create(kind=HistoryMove.Kind.AGE, customer_id=customer_pk, age=age)


# --- running ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepOutcome:
    move: HistoryMove | None  # the move stepped (None: nothing to run)
    busy: bool = False  # the derivation lock was taken (only when not waiting for it)


def _derivation_lock(wait: bool) -> bool:
    if wait or connection.vendor != "postgresql":
        derivation_lock()
        return True
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [DERIVATION_LOCK_ID])
        return bool(cur.fetchone()[0])


def _next_move(only: set[int] | None) -> HistoryMove | None:
    """The oldest open move that no older open move shares a customer with. ``only``: a request's
    choice, moves not started yet or started by it (those under way are the task's)."""
    taken: set[int] = set()
    for move in HistoryMove.objects.filter(finished_at__isnull=True).order_by("id")[:1000]:
        names = {move.customer_id, *([move.target_id] if move.target_id is not None else [])}
        if not names & taken and (only is None or not move.steps or move.pk in only):
            return move
        taken |= names
    return None


def history_move_step(*, budget: int | None = None, wait: bool = True, only: set[int] | None = None) -> StepOutcome:
    """One step of the next move, in a transaction of its own (or a savepoint of the caller's).
    ``wait=False``: none when derivation holds its lock now (``busy``). ``only``: see ``_next_move``."""
    with transaction.atomic():
        if not _derivation_lock(wait):
            return StepOutcome(None, busy=True)
        move = _next_move(only)
        if move is None:
            return StepOutcome(None)
        ingest_hold()
        size = budget or settings.HISTORY_MOVE_STEP_EVENTS
        done = (merge_step if move.kind == HistoryMove.Kind.MERGE else age_step)(move, size)
        move.steps += 1
        if done:
            move.finished_at = timezone.now()
        move.save()
        return StepOutcome(move)


def history_moves_run(*, only_if_stalled: bool = False) -> int:
    """Step every open move to its end (each step its own transaction). ``only_if_stalled``: only when
    some move has waited a minute without a step (its task was lost). Returns the steps made."""
    if only_if_stalled and not HistoryMove.objects.filter(
            finished_at__isnull=True, updated_at__lt=timezone.now() - STALLED_AFTER).exists():
        return 0
    steps = 0
    while history_move_step().move is not None:
        steps += 1
    return steps


def history_moves_drain() -> int:
    """Every open move to its end inside the caller's transaction (which then holds ingest back until
    it commits): for writers that need them finished first."""
    return history_moves_run()


def history_moves_settle() -> None:
    """After a request's writes are committed: make the moves not started yet, in at most SETTLE_STEPS
    steps in all (a visitor's few sessions and events: done at once); leave the rest, moves already
    under way, and everything while derivation holds its lock, to the background task."""
    mine: set[int] = set()
    try:
        for _ in range(SETTLE_STEPS):
            move = history_move_step(wait=False, only=mine).move
            if move is None:
                break
            mine.add(move.pk)
    except Exception:  # noqa: BLE001 - what the request stored is stored: the task tries again
        logger.exception("a history move step failed in the request; left to the background task")
    if HistoryMove.objects.filter(finished_at__isnull=True).exists():
        transaction.on_commit(_send_task)


def _send_task() -> None:
    try:
        # By name: insights.tasks imports the services this module imports.
        signature(MOVES_TASK).delay()
    except Exception:  # noqa: BLE001 - the broker is away: the beat task picks the move up later
        logger.exception("queueing the history moves task failed (the derivation task will run them)")
