"""A real Celery worker process for tests: its own queue (no other worker takes the task), this test
database, a log to show when it fails. For every test that runs a task in a worker (and
``stop_process`` for any server a test starts)."""

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

BASE_DIR = Path(__file__).resolve().parents[1]


def worker_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment pointed at the test database, tasks not eager; an override of None
    removes a variable."""
    env = dict(os.environ)
    env.update(TESTING="1", LOCAL_DIR=str(settings.LOCAL_DIR), DJANGO_SETTINGS_MODULE="analytics_site.settings",
               CELERY_TASK_ALWAYS_EAGER="0")
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        assert name != ":memory:" and "mode=memory" not in name  # the worker must reach this file
        env["SQLITE_PATH"] = name  # the file test database (settings TEST NAME)
    else:
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        env["DATABASE_URL"] = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass(frozen=True)
class Worker:
    process: subprocess.Popen
    queue: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


@contextmanager
def celery_worker(prefix: str, **env_overrides: str | None) -> Iterator[Worker]:
    """A solo-pool worker consuming only a fresh queue named ``<prefix>-<random>``; stopped afterwards."""
    queue = f"{prefix}-{uuid.uuid4().hex[:8]}"
    log = Path(settings.LOCAL_DIR) / f"{queue}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "--pool", "solo", "-Q", queue,
             "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=BASE_DIR, env=worker_env(**env_overrides), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield Worker(process=process, queue=queue, log=log)
    finally:
        stop_process(process, timeout=20)
        log.unlink(missing_ok=True)


def stop_process(process: subprocess.Popen, *, timeout: float) -> None:
    """Terminate a server or worker a test started; kill it if it has not ended within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
