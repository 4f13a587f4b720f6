"""Which engine derives sessions (``DERIVATION_ENGINE``, docs/derivation.md#engine)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def derivation_engine() -> str:
    """``sql`` or ``python``: ``auto`` is SQL on PostgreSQL. SQLite keeps the Python reference
    (docs/derivation.md#engine)."""
    engine = getattr(settings, "DERIVATION_ENGINE", "auto")
    if engine == "auto":
        engine = "sql" if connection.vendor == "postgresql" else "python"
    if engine == "sql" and connection.vendor != "postgresql":
        return "python"
    return str(engine)
