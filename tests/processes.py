"""Real processes for tests: a Celery worker on its own queue reaching this test's database, and
stopping a child process politely, then firmly."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def process_stop(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_env(**extra: str) -> dict[str, str]:
    """This process's environment for a worker using this test's database (and no simulator
    target: simulated events go through the ingest service in the worker), plus ``extra``."""
    env = dict(os.environ)
    env.update(TESTING="1", LOCAL_DIR=str(settings.LOCAL_DIR), DJANGO_SETTINGS_MODULE="analytics_site.settings",
               CELERY_TASK_ALWAYS_EAGER="0", **extra)
    env.pop("SIMULATOR_TARGET", None)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(db["NAME"])  # the file test database (settings TEST NAME)
    else:
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        env["DATABASE_URL"] = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return env


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text()[-chars:]


@contextmanager
def celery_worker(name: str, **extra_env: str) -> Iterator[Worker]:
    """A real Celery worker (solo pool) consuming its own queue ``name-<random>`` (so no other
    worker takes the task), stopped and its log removed afterwards."""
    if connection.vendor == "sqlite":
        database = str(connection.settings_dict["NAME"])
        assert database != ":memory:" and "mode=memory" not in database  # the worker must reach this file
    queue = f"{name}-{uuid.uuid4().hex[:8]}"
    log = Path(settings.LOCAL_DIR) / f"{queue}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "--pool", "solo", "-Q", queue,
             "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=ROOT, env=worker_env(**extra_env), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield Worker(queue, process, log)
    finally:
        process_stop(process, timeout=20)
        log.unlink(missing_ok=True)
