import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("TESTING", "1")

import pytest  # noqa: E402
from django.test import Client  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Property tests draw the same examples on every run (a seed per test), so a suite that passed passes
# again; HYPOTHESIS_PROFILE=explore draws new ones each run to look for more (docs/development.md).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from accounts.roles import Role  # noqa: E402
from accounts.services import user_create  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --- parallel runs (pytest-xdist, docs/development.md#parallel-tests) -----------------------------


def worker_redis_url(url: str, index: int) -> str:
    """``url`` with its database number (the path; 0 when absent) raised by ``index``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{int(parts.path.strip('/') or 0) + index}"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Before the workers start: worker gw<n> gets LOCAL_DIR ``<LOCAL_DIR>/gw<n>`` (SQLite test file,
    filesystem broker, model artifacts, logs) and REDIS_URL's database number plus n (channel layer
    groups, Celery broker), so no worker sees another's files, messages or tasks; subprocesses a test
    starts inherit both. pytest-django gives each worker its own test database (``…_gw<n>``)."""
    local = Path(os.environ.get("LOCAL_DIR") or ROOT / ".local" / "test")
    for index, spec in enumerate(specs):
        spec.env["LOCAL_DIR"] = str(local / f"gw{index}")
        if os.environ.get("REDIS_URL"):
            spec.env["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"], index)


def _transactional(item: pytest.Item) -> bool:
    """As pytest-django decides: the test's database is flushed afterwards, not rolled back."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))) or \
        "transactional_db" in fixtures or "live_server" in fixtures


def pytest_collection_modifyitems(config, items):
    """Under xdist (``--dist loadfile --no-loadscope-reorder``) whole files are handed out in collection
    order. Files without a transactional or ``slow`` test go first, so on every worker they run before
    any file that flushes the database (and with it the rows data migrations wrote), as pytest-django
    orders a serial run; then the ``slow`` files (servers, workers, browsers; tests/system flushes at
    its end), so no long file starts last. pytest-django's own order (tryfirst) holds in each file."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    flushing = slow | {item.path for item in items if _transactional(item)}
    items.sort(key=lambda item: (item.path in flushing, item.path not in slow))


@pytest.fixture
def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it), for a server a test starts: never a fixed
    port, which two xdist workers would both take."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_user(db):
    def _make(role: Role | None, username: str | None = None, password: str = "pw-Secret-123"):
        name = username or (role.value if role else "norole") + "-user"
        if role is None:
            from accounts.models import User

            return User.objects.create_user(username=name, password=password)
        return user_create(username=name, password=password, role=role)

    return _make


@pytest.fixture
def client_for(make_user):
    """A Django test client signed in with the given role (None: anonymous)."""

    def _client(role: Role | None) -> Client:
        client = Client()
        if role is not None:
            client.force_login(make_user(role))
        return client

    return _client
