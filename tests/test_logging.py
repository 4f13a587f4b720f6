"""LOGGING from the environment (issue 10): `make run` keeps its console to warnings and errors and
writes full logs to a file; without LOG_FILE (containers) everything goes to the console as before."""

import logging
import os
import subprocess
import sys
from pathlib import Path

from analytics_site.log_filters import DropKnownNoise

ROOT = Path(__file__).resolve().parent.parent
EMIT = """
import logging, warnings, django
django.setup()
logging.getLogger("insights.tasks").info("derived 12 sessions")
logging.getLogger("kombu.connection").warning("No hostname was supplied. Reverting to default 'localhost'")
logging.getLogger("django.request").error("Internal Server Error: /carts/")
"""


def _run(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOG_")}
    env.update({"DJANGO_SETTINGS_MODULE": "analytics_site.settings", **extra_env})
    return subprocess.run([sys.executable, "-c", EMIT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_make_run_console_shows_warnings_and_errors_the_file_everything(tmp_path):
    log_file = tmp_path / "logs" / "web.log"
    result = _run({"LOG_FILE": str(log_file), "LOG_CONSOLE_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr
    assert "Internal Server Error: /carts/" in result.stderr
    assert "derived 12 sessions" not in result.stderr
    assert "No hostname was supplied" not in result.stderr  # known noise: off the console only
    written = log_file.read_text()
    assert "INFO insights.tasks: derived 12 sessions" in written
    assert "ERROR django.request: Internal Server Error: /carts/" in written
    assert "No hostname was supplied" in written


def test_without_log_file_everything_goes_to_the_console(tmp_path):
    result = _run({})
    assert result.returncode == 0, result.stderr
    assert "derived 12 sessions" in result.stderr and "Internal Server Error" in result.stderr


def test_a_bad_level_stops_start_up_with_a_reason():
    result = _run({"LOG_CONSOLE_LEVEL": "LOUD"})
    assert result.returncode != 0
    assert "LOG_CONSOLE_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.stderr


def test_noise_filter_keeps_other_warnings():
    noise = DropKnownNoise()

    def record(name: str, msg: str, *args) -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)

    assert not noise.filter(record("kombu.connection", "No hostname was supplied. Reverting to default 'localhost'"))
    assert not noise.filter(record("py.warnings", "%s", "sklearn/_base.py:174: UserWarning: Loky-backed parallel "
                                   "loops cannot be called in a multiprocessing, setting n_jobs=1"))
    assert noise.filter(record("kombu.connection", "Connection refused"))
    assert noise.filter(record("py.warnings", "%s", "RuntimeWarning: divide by zero"))
