"""Headers and secrets (security review, issue 10): Content-Security-Policy, Cache-Control: no-store on
everything with personal data while static files stay cacheable, private files under LOCAL_DIR, and a
SECRET_KEY too short to be one refused outside DEBUG/TESTING."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from accounts.roles import Role
from analytics_site import csp
from tests.test_settings import ROOT, _run

# --- SECRET_KEY --------------------------------------------------------------------------------

PRODUCTION = {"DJANGO_SETTINGS_MODULE": "analytics_site.settings", "DEBUG": "0", "TESTING": "0"}


@pytest.mark.parametrize("secret", ["short-secret", "x" * 60, "django-ok-" + "ab" * 10])
def test_a_weak_secret_key_stops_start_up_outside_debug(secret, tmp_path):
    result = _run("import django; django.setup()", {**PRODUCTION, "SECRET_KEY": secret, "LOCAL_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr and "at least 50" in result.stderr


def test_a_long_random_secret_key_starts(tmp_path):
    secret = base64.urlsafe_b64encode(os.urandom(48)).decode()
    result = _run("import django; django.setup(); print('up')",
                  {**PRODUCTION, "SECRET_KEY": secret, "LOCAL_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    # DEBUG (and the test settings) keep accepting a short one.
    result = _run("import django; django.setup(); print('up')",
                  {**PRODUCTION, "DEBUG": "1", "SECRET_KEY": "short", "LOCAL_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


# --- private files -----------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_local_dir_and_the_sqlite_file_are_private(tmp_path):
    local = tmp_path / "local"
    local.mkdir(mode=0o755)
    local.chmod(0o755)
    (local / "db.sqlite3").write_bytes(b"")
    (local / "db.sqlite3").chmod(0o644)
    code = ("import os; os.umask(0o022); import django; django.setup(); from django.db import connection; "
            "connection.ensure_connection(); print(connection.settings_dict['NAME'])")
    result = _run(code, {"DJANGO_SETTINGS_MODULE": "analytics_site.settings", "TESTING": "1",
                         "LOCAL_DIR": str(local)}, drop=("DATABASE_URL", "SQLITE_PATH"))
    assert result.returncode == 0, result.stderr
    assert _mode(local) == 0o700
    assert _mode(local / "db.sqlite3") == 0o600
    # A fresh database file is made 0600 before SQLite opens it, whatever the umask.
    fresh = tmp_path / "fresh"
    result = _run(code, {"DJANGO_SETTINGS_MODULE": "analytics_site.settings", "TESTING": "1",
                         "LOCAL_DIR": str(fresh)}, drop=("DATABASE_URL", "SQLITE_PATH"))
    assert result.returncode == 0, result.stderr
    assert _mode(fresh) == 0o700 and _mode(fresh / "db.sqlite3") == 0o600


def test_local_env_makes_a_private_secret_key(tmp_path):
    """scripts/local-env.sh (run by `make run` and scripts/manage.sh): .local/ 0700, secret_key 0600,
    also when they existed world-readable before."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "local-env.sh").write_text((ROOT / "scripts" / "local-env.sh").read_text())
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    script = "umask 022; source scripts/local-env.sh; test ${#SECRET_KEY} -ge 50 && echo ok"
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    assert _mode(tmp_path / ".local") == 0o700 and _mode(tmp_path / ".local" / "secret_key") == 0o600
    (tmp_path / ".local").chmod(0o755)
    (tmp_path / ".local" / "secret_key").chmod(0o644)
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    assert _mode(tmp_path / ".local") == 0o700 and _mode(tmp_path / ".local" / "secret_key") == 0o600


# --- Cache-Control -----------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/customers/", "/api/v1/metrics/customers", "/api/v1/metrics/latest",
                                  "/export/top_customers.csv", "/model/", "/explorer/"])
def test_pages_api_and_csv_are_never_cached(client_for, path):
    response = client_for(Role.ANALYST).get(path)
    assert response.status_code == 200, path
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_login_page_is_never_cached(client):
    assert "no-store" in client.get("/accounts/login/")["Cache-Control"]


def test_static_files_stay_cacheable(client):
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "max-age" in response.get("Cache-Control", "")


# --- Content-Security-Policy -------------------------------------------------------------------

def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.django_db
def test_every_page_has_a_strict_policy(client_for):
    policy = _directives(client_for(Role.VIEWER).get("/").headers["Content-Security-Policy"])
    assert policy["script-src"][0] == "'self'"
    assert "'unsafe-eval'" not in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]  # 'self' matches ws(s):// to the same host in CSP3


@pytest.mark.django_db
def test_the_explorers_inline_scripts_are_all_allowed_by_the_policy(client_for):
    response = client_for(Role.VIEWER).get("/explorer/")
    policy = _directives(response.headers["Content-Security-Policy"])
    assert "'unsafe-eval'" not in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]  # Dash's components inject <style> blocks
    inline = [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", response.content.decode(), re.S)
              if "src=" not in attrs and "application/json" not in attrs]
    assert inline, "the Dash renderer's start-up line"
    for body in inline:
        assert csp.source_hash(body) in policy["script-src"], body


def test_plotly_style_hashes_match_the_vendored_bundle():
    bundle = (ROOT / "static" / "vendor" / "plotly.min.js").read_text(encoding="utf-8")
    marker = 'e.id="9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53",e.textContent=\''
    start = bundle.index(marker) + len(marker)
    css = bundle[start:bundle.index("'", start)]
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert csp.PLOTLY_MAPLIBRE_CSS_HASH == f"'sha256-{digest}'"
    declarations = re.search(r"CSS_DECLARATIONS=(\[\[.*?\]\])", bundle).group(1)
    values = re.findall(r'\["image-rendering","([^"]+)"\]', declarations)
    assert csp.PLOTLY_PIXELATED_STYLE == "".join(f"image-rendering: {v}; " for v in values)
