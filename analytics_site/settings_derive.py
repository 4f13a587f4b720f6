"""Derivation engine (docs/derivation.md): where sessions and carts are derived."""

from analytics_site.env import env

# auto: set-based SQL on PostgreSQL, the Python reference on SQLite; sql: SQL (PostgreSQL only);
# python: the reference (insights.derivation) everywhere.
DERIVATION_ENGINE = env.str("DERIVATION_ENGINE", "auto").strip().lower()
if DERIVATION_ENGINE not in ("auto", "sql", "python"):
    raise ValueError(f"DERIVATION_ENGINE must be auto, sql or python, not {DERIVATION_ENGINE!r}")
