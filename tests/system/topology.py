"""The processes docker-compose.yml starts, run natively against the test database and Redis.

Each service's ``command:`` is read from docker-compose.yml and run by this interpreter (``daphne``
and ``celery`` as ``python -m``), with only the bind address and port changed, so the system test
breaks when compose drifts from what it proves. Every service runs in its own session (process
group): ``kill()`` SIGKILLs the whole group, as ``docker kill`` takes down a container with the
pool processes of a Celery worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROGRAMS = ("daphne", "celery")  # the executables compose runs, all Python entry points


def compose_services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def compose_command(service: str, **options: str) -> list[str]:
    """``service``'s compose command for this interpreter, with the values of the given options
    replaced (``{"-p": "8123"}``); an option compose no longer passes is an error."""
    command = compose_services()[service]["command"]
    if not isinstance(command, list) or not command or command[0] not in PROGRAMS:
        raise AssertionError(f"docker-compose.yml: {service}'s command is not a daphne/celery argv: {command!r}")
    program, *args = command
    for option, value in options.items():
        if option not in args:
            raise AssertionError(f"docker-compose.yml: {service}'s command has no {option}: {command!r}")
        args[args.index(option) + 1] = value
    return [sys.executable, "-m", program, *args]


def service_env(local_dir: Path) -> dict[str, str]:
    """The environment compose gives every app service (x-app), pointed at this test run's
    database, Redis and a LOCAL_DIR the services share (compose's appdata volume)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "CELERY_BROKER_URL")}
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env.update(
        DEBUG="0", TESTING="1", DRAIN_ROWS_PER_TRANSACTION="20",
        DJANGO_SETTINGS_MODULE="analytics_site.settings", PYTHONUNBUFFERED="1",
        SECRET_KEY=settings.SECRET_KEY,  # one key for every process, as compose passes one
        DATABASE_URL=f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=str(settings.REDIS_URL), LOCAL_DIR=str(local_dir), MODEL_DIR=str(local_dir / "models"),
        STORE_TIME_ZONE=settings.STORE_TIME_ZONE,
    )
    return env


class Service:
    """One OS process of the topology, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 ready: Callable[[Service], bool] | None = None):
        self.name, self.argv, self.env, self.ready = name, argv, env, ready
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> Service:
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"\n=== start {self.starts}: {' '.join(self.argv)}\n")
            log.flush()
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 90) -> float:
        """Seconds until ``ready`` holds (the process must stay alive meanwhile)."""
        started = time.monotonic()
        while self.ready is not None and not self.ready(self):
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc and self.proc.returncode}):\n{self.tail()}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)
        return time.monotonic() - started

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (the worker's pool children too)."""
        assert self.proc is not None
        _signal_group(self.proc, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM the group without waiting (``stop`` then waits), so services stop side by side."""
        if self.proc is not None and self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc, signal.SIGKILL)
                self.proc.wait(10)
        else:  # the leader is gone; make sure nothing of its group outlives the test
            _signal_group(self.proc, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def errors(self, lines: int = 5) -> str:
        """The last lines of the log that name an error, for assertion messages."""
        found = [line for line in self.log().splitlines() if "Error" in line or "ERROR" in line]
        return "".join(f"{self.name}: {line}\n" for line in found[-lines:])


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the leader's pid
    except ProcessLookupError:
        pass


def http_ready(port: int) -> Callable[[Service], bool]:
    def ready(_service: Service) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    return ready


def celery_ping(app) -> Callable[[Service], bool]:
    """Ready once a worker answers a ping through the broker (its remote-control queue)."""

    def ready(_service: Service) -> bool:
        return bool(app.control.ping(timeout=0.5))

    return ready


def get_json(url: str, cookie: str) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())
