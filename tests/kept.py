"""Data a set-up writes once and several tests read (docs/development.md#shared-set-ups)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction


@contextmanager
def kept(django_db_blocker) -> Iterator[None]:
    """What the block stores stays for every test of the fixture's scope (module or class), as Django's
    ``setUpTestData``: it is written in a transaction each test's own transaction nests in (a savepoint,
    rolled back after the test), and that transaction is rolled back when the scope ends, leaving the
    database as it was. Blocks nest (a class's inside its module's). Non-transactional tests only."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
