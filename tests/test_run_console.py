"""The console of `make run` (scripts/run.sh): no Celery superuser warning when it runs as root, one
line saying so instead, and the worker safe to run as root because it accepts JSON only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = (ROOT / "scripts" / "run.sh").read_text()
# Celery's own privilege check, as a worker started by root runs it.
AS_ROOT = (
    "import os; os.getuid = os.geteuid = lambda: 0\n"
    "from celery.platforms import check_privileges\n"
    "from analytics_site.celery import app\n"
    "check_privileges(app.conf.accept_content)\n"
    "print('started')\n"
)


def _worker_check(pythonwarnings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": pythonwarnings, "DJANGO_SETTINGS_MODULE": "analytics_site.settings"}
    return subprocess.run([sys.executable, "-c", AS_ROOT], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)


def test_the_worker_accepts_json_only():
    from analytics_site.celery import app

    assert set(app.conf.accept_content) == {"json"}


def test_run_sh_leaves_celerys_superuser_warning_off_the_console_and_says_it_once():
    found = re.search(r'WORKER_WARNINGS="(ignore:[^"]+)"', SCRIPT)
    assert found, "run.sh sets no warning filter for the worker"
    assert 'PYTHONWARNINGS="$WORKER_WARNINGS"' in SCRIPT
    assert re.search(r'if \[ "\$\(id -u\)" = "0" \]; then\n\s+echo "Running as root', SCRIPT)
    filtered = _worker_check(found.group(1))
    assert filtered.returncode == 0 and "started" in filtered.stdout
    assert "superuser" not in filtered.stderr, filtered.stderr


def test_without_the_filter_celery_does_warn_as_root():
    plain = _worker_check("")
    assert plain.returncode == 0
    assert "superuser privileges" in plain.stderr
