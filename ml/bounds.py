"""Bounds of a retraining: how many rows a family fits on, and a time and memory guard that stops a run
with a clear error instead of letting it run on (docs/retention-and-predictions.md#bounded-retraining).

- **Rows**: a family fits on at most ``max_fit_rows`` rows and is calibrated and scored on at most
  ``max_eval_rows`` validation and ``max_eval_rows`` holdout rows. Beyond that the rows kept are a seeded
  uniform sample without replacement (:func:`cap_rows`), in their time order: the time split is made on
  every row first, so a sample never mixes the holdout's time into the fit.
- **Time and memory**: :class:`Guard` raises :class:`TrainingLimitExceeded` when the run has taken longer
  than ``max_seconds`` or the process's resident memory has passed ``max_memory_mb``: at each check between
  steps, and (in the main thread) from a timer and a memory watcher during a fit.

:class:`RssWatch` records the process's peak resident memory while a family fits (what the model page shows).
"""

from __future__ import annotations

import resource
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import numpy as np
import pandas as pd

DEFAULT_MIN_CARTS = 200  # fewer carts with a known outcome: training is refused (ml.training.NotEnoughData)
_PAGE_MB = resource.getpagesize() / 2**20
_STATM = Path("/proc/self/statm")


@dataclass(frozen=True)
class TrainingBounds:
    max_fit_rows: int = 20_000
    max_eval_rows: int = 10_000
    max_seconds: float = 900.0
    max_memory_mb: float = 2048.0
    seed: int = 42

    @classmethod
    def from_settings(cls) -> TrainingBounds:
        from django.conf import settings

        return cls(max_fit_rows=settings.ML_TRAIN_MAX_ROWS, max_eval_rows=settings.ML_EVAL_MAX_ROWS,
                   max_seconds=float(settings.ML_TRAIN_MAX_SECONDS), max_memory_mb=float(settings.ML_TRAIN_MAX_MB))

    def as_dict(self) -> dict:
        return {"max_fit_rows": self.max_fit_rows, "max_eval_rows": self.max_eval_rows,
                "max_seconds": self.max_seconds, "max_memory_mb": self.max_memory_mb}


def cap_rows(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """``frame`` when it has at most ``limit`` rows; else a seeded uniform sample of ``limit`` rows without
    replacement, kept in the frame's order."""
    if limit <= 0 or len(frame) <= limit:
        return frame
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), limit, replace=False))
    return frame.iloc[rows]


def rss_mb() -> float:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_MB
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TrainingLimitExceeded(RuntimeError):
    """A retraining ran past ML_TRAIN_MAX_SECONDS or ML_TRAIN_MAX_MB and was stopped."""


class RssWatch:
    """Peak resident memory of the process while the block runs (sampled every ``every`` seconds); calls
    ``over`` once when it passes ``limit_mb``."""

    def __init__(self, every: float = 0.05, limit_mb: float | None = None, over=None):
        self.every, self.limit_mb, self.over = every, limit_mb, over
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-watch")

    def _sample(self) -> None:
        now = rss_mb()
        self.peak_mb = max(self.peak_mb, now)
        if self.limit_mb is not None and now > self.limit_mb and self.over is not None:
            over, self.over = self.over, None
            over(now)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> RssWatch:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class Guard:
    """The time and memory bounds of one retraining, from its start."""

    def __init__(self, bounds: TrainingBounds, clock=time.monotonic):
        self.bounds, self.clock = bounds, clock
        self.started = clock()
        self._reason: str | None = None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def _time_message(self, stage: str) -> str:
        return (f"retraining stopped {stage}: {self.elapsed():.0f} s, over ML_TRAIN_MAX_SECONDS "
                f"({self.bounds.max_seconds:.0f} s)")

    def _memory_message(self, stage: str, mb: float) -> str:
        return (f"retraining stopped {stage}: {mb:.0f} MB resident, over ML_TRAIN_MAX_MB "
                f"({self.bounds.max_memory_mb:.0f} MB)")

    def check(self, stage: str) -> None:
        """Raise TrainingLimitExceeded when either bound is already passed."""
        if self.elapsed() > self.bounds.max_seconds:
            raise TrainingLimitExceeded(self._time_message(stage))
        mb = rss_mb()
        if mb > self.bounds.max_memory_mb:
            raise TrainingLimitExceeded(self._memory_message(stage, mb))

    def watching(self, stage: str) -> _Watching:
        """A block (one family's fit) stopped as soon as a bound is passed, not only at the next check."""
        return _Watching(self, stage)


class _Watching:
    """SIGALRM at the deadline, or sent by the memory watcher, raises in the main thread; elsewhere (a
    worker thread cannot take signals) the block runs to its end and the caller's next check stops it."""

    def __init__(self, guard: Guard, stage: str):
        self.guard, self.stage = guard, stage
        self.main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self.watch = RssWatch(limit_mb=guard.bounds.max_memory_mb, over=self._over_memory)
        self._previous: object = None

    def _over_memory(self, mb: float) -> None:
        self.guard._reason = self.guard._memory_message(self.stage, mb)
        if self.main:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGALRM)

    def _alarm(self, _signum: int, _frame: FrameType | None) -> None:
        reason, self.guard._reason = self.guard._reason, None
        raise TrainingLimitExceeded(reason or self.guard._time_message(self.stage))

    def __enter__(self) -> RssWatch:
        self.guard.check(f"before {self.stage}")
        if self.main:
            remaining = max(0.001, self.guard.bounds.max_seconds - self.guard.elapsed())
            self._previous = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, remaining)
        return self.watch.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.watch.__exit__(*exc)
        if self.main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]
        if exc[0] is None:
            self.guard.check(f"after {self.stage}")


def bounded_parts(parts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], bounds: TrainingBounds
                  ) -> tuple[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], dict]:
    """The fit, validation and holdout rows within the row caps (:func:`ml.bounds.cap_rows`), and how many
    each part had before and after."""
    fit_df, valid_df, test_df = parts
    capped = (cap_rows(fit_df, bounds.max_fit_rows, bounds.seed), cap_rows(valid_df, bounds.max_eval_rows, bounds.seed),
              cap_rows(test_df, bounds.max_eval_rows, bounds.seed))
    sizes = {name: {"available": len(before), "used": len(after)}
             for name, before, after in zip(("fit", "validation", "test"), parts, capped, strict=True)}
    return capped, {"rows": sizes, **bounds.as_dict()}
