from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from insights.services import analytics_process_pending
from tests.insights.clv.cdnow import SAMPLE


def _import_cdnow(path: Path) -> str:
    out = StringIO()
    call_command("import_events", str(path), "--preset", "transactions", "--date-format", "%Y%m%d",
                 "--no-broadcast", stdout=out)
    analytics_process_pending()
    return out.getvalue()


def _write_cdnow_recent(path: Path) -> Path:
    """The CDNOW sample moved 27 years later (1997 → 2024; the pages' filters start in 2000)."""
    lines = SAMPLE.read_text().splitlines()
    moved = [lines[0]] + [",".join([c, str(int(d[:4]) + 27) + d[4:], q, a])
                          for c, d, q, a in (line.split(",") for line in lines[1:])]
    path.write_text("\n".join(moved) + "\n")
    return path


@contextmanager
def _kept_for_the_module(django_db_blocker) -> Iterator[None]:
    """What the block stores stays for every test of the module, as Django's ``setUpTestData``: it is
    written in a transaction each test's own transaction nests in (a savepoint, rolled back after the
    test), and that transaction is rolled back when the module ends, leaving the database as it was."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def _cdnow_imported_module(django_db_setup, django_db_blocker):
    with _kept_for_the_module(django_db_blocker):
        with django_db_blocker.unblock():
            out = _import_cdnow(SAMPLE)
        yield out


@pytest.fixture
def cdnow_imported(_cdnow_imported_module, db):
    """The CDNOW sample imported through ``import_events`` (transactions preset) and derived; imported
    once for the module (each test's writes are rolled back), so only for non-transactional tests."""
    assert "read 6919, stored 6919" in _cdnow_imported_module


@pytest.fixture(scope="module")
def _cdnow_recent_module(django_db_setup, django_db_blocker, tmp_path_factory):
    path = _write_cdnow_recent(tmp_path_factory.mktemp("cdnow") / "cdnow_recent.csv")
    with _kept_for_the_module(django_db_blocker):
        with django_db_blocker.unblock():
            _import_cdnow(path)
        yield


@pytest.fixture
def cdnow_recent_shared(_cdnow_recent_module, db):
    """``cdnow_recent`` imported once for the module (each test's writes are rolled back), for
    non-transactional tests."""


@pytest.fixture
def cdnow_recent(db, tmp_path):
    """The CDNOW sample moved 27 years later (1997 → 2024), imported in this test (for transactional
    tests, whose data a server process must see)."""
    _import_cdnow(_write_cdnow_recent(tmp_path / "cdnow_recent.csv"))
