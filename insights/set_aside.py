"""Windows a derivation cannot derive are set aside; the others are derived (docs/operations.md).

``derive_isolating`` derives a list of customer windows together under a savepoint; when that fails
it tries halves, each under its own savepoint, down to single windows, so every window that can be
derived is, and each one that cannot is returned with its error. ``windows_set_aside`` keeps those
as ``PendingWindow`` rows of their own (one customer's window, the error, the attempts so far, when
to try again: ``RETRY_FIRST`` after the first failure, doubling up to ``RETRY_MAX``); the pending
windows processor tries them again once due, each alone. Admin lists them; the freshness banner
counts them.

A failure of the database connection itself (it is gone, or the transaction was aborted as a
deadlock) is not a window's fault: it is raised, and the whole run is tried again by the next tick.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Q, QuerySet

from insights.models import PendingWindow
from insights.session_store import Window, Windows, windows_json, windows_merge

logger = logging.getLogger(__name__)

RETRY_FIRST = dt.timedelta(seconds=30)
RETRY_MAX = dt.timedelta(hours=1)
_ERROR_CHARS = 4000
# PostgreSQL error classes that are the connection's or the server's state, not a window's content:
# connection exceptions, transaction rollback (deadlock, serialization), operator intervention
# (shutdown; a statement timeout, 57014, stays a window's fault), insufficient resources.
_TRANSIENT_PG_CLASSES = ("08", "40", "53")
_TRANSIENT_PG_CODES = ("57P01", "57P02", "57P03")


@dataclass(frozen=True)
class WindowUnit:
    """One customer's window to derive, and how many times it failed before."""

    customer: int
    lo: dt.datetime
    hi: dt.datetime
    attempts: int = 0
    keys: frozenset[str] | None = None  # the client sessions it names (insights.session_store.Window)


@dataclass(frozen=True)
class WindowFailure:
    unit: WindowUnit
    error: str


def units_of(windows: Windows, attempts: int = 0) -> list[WindowUnit]:
    return [WindowUnit(c, w.lo, w.hi, attempts, w.keys) for c, w in sorted(windows.items())]


def transient(exc: BaseException) -> bool:
    """The connection's or the server's state failed, not a window's content: the whole run is tried again."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.__cause__, "pgcode", None)
    if code is None:  # SQLite: the database is locked or busy; or the connection is gone
        return True
    return code[:2] in _TRANSIENT_PG_CLASSES or code in _TRANSIENT_PG_CODES


def _error_text(exc: BaseException) -> str:
    """The error (its first line says what failed) and where, innermost frames last."""
    if isinstance(exc, decimal.InvalidOperation):  # Python's own check of a column's digits (SQLite)
        text = "decimal.InvalidOperation: a value has more digits than its column holds"
    elif isinstance(exc, DatabaseError):
        text = str(exc).strip() or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {str(exc).strip()}"
    where = "".join(traceback.format_tb(exc.__traceback__, limit=-6))
    return f"{text}\n\n{where}"[:_ERROR_CHARS]


def derive_isolating(units: Sequence[WindowUnit], derive: Callable[[Windows], None]) -> list[WindowFailure]:
    """Derive ``units`` (``derive``: of their merged windows) in as few savepoints as succeed: all
    together, then halves of a failing part (in customer order), down to single windows. Returns the
    windows that failed alone, with their errors. A transient failure is raised."""
    failures: list[WindowFailure] = []
    parts = [list(units)] if units else []
    while parts:
        part = parts.pop()
        windows = windows_merge((u.customer, u.lo, u.hi, u.keys) for u in part)
        try:
            with transaction.atomic():
                derive(windows)
        except Exception as exc:
            if transient(exc):
                raise
            if len(part) > 1:
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]  # the first half is tried first
                continue
            failures.append(WindowFailure(part[0], _error_text(exc)))
            logger.warning("derivation of customer %s's window failed (attempt %d); set aside: %s",
                           part[0].customer, part[0].attempts + 1, failures[-1].error.splitlines()[0])
    return failures


def retry_delay(attempts: int) -> dt.timedelta:
    """How long a window that failed ``attempts`` times waits before it is tried again."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempts - 1, 20))


def windows_set_aside(failures: Iterable[WindowFailure], *, now: dt.datetime) -> int:
    """Keep each failed window as a set-aside ``PendingWindow``. Returns how many."""
    rows = []
    for f in failures:
        attempts = f.unit.attempts + 1
        window = windows_json({f.unit.customer: Window(f.unit.lo, f.unit.hi, f.unit.keys)})
        rows.append(PendingWindow(windows=window, attempts=attempts, last_error=f.error,
                                  retry_at=now + retry_delay(attempts)))
    PendingWindow.objects.bulk_create(rows)
    return len(rows)


def set_aside() -> QuerySet[PendingWindow]:
    return PendingWindow.objects.filter(attempts__gt=0)


def due(now: dt.datetime) -> QuerySet[PendingWindow]:
    """The queued windows and the set-aside ones due to be tried again."""
    return PendingWindow.objects.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))


def set_aside_customers() -> set[int]:
    """Customers with a set-aside window (few: read whole)."""
    return {int(c) for windows in set_aside().values_list("windows", flat=True) for c in windows}
