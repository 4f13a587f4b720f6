"""Derivation engine (docs/derivation.md): where sessions and carts are derived."""

from analytics_site.env import env

# auto: set-based SQL on PostgreSQL, the Python reference on SQLite; sql: SQL (PostgreSQL only);
# python: the reference (insights.derivation) everywhere.
DERIVATION_ENGINE = env.str("DERIVATION_ENGINE", "auto").strip().lower()
if DERIVATION_ENGINE not in ("auto", "sql", "python"):
    raise ValueError(f"DERIVATION_ENGINE must be auto, sql or python, not {DERIVATION_ENGINE!r}")

# Helper connections deriving a drain's chunks and a rebuild's batches beside the derivation's own
# (docs/derivation.md#helper-connections): each a PostgreSQL backend, so one uses a second core.
DERIVATION_WORKERS = env.int("DERIVATION_WORKERS", 1)
if DERIVATION_WORKERS < 0:
    raise ValueError(f"DERIVATION_WORKERS must be 0 or more, not {DERIVATION_WORKERS}")
