"""A benchmark's own PostgreSQL database: created (or recreated) before, dropped after.

Shared by the bench scripts (``from bench.database import database_ensure, database_drop``); a URL
is ``postgres://user@host:port/name`` and the admin connection goes to the server's ``postgres``.
"""

from __future__ import annotations


def _admin(url: str):
    import psycopg2

    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    return admin


def database_ensure(url: str, *, recreate: bool) -> bool:
    """Ensure the database exists (dropped first with ``recreate``); True when it was created."""
    from psycopg2 import sql

    name = url.rsplit("/", 1)[1]
    admin = _admin(url)
    created = False
    with admin.cursor() as cur:
        if recreate:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            created = True
    admin.close()
    return created


def database_drop(url: str) -> None:
    """Drop the database, closing its other connections."""
    from psycopg2 import sql

    admin = _admin(url)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.rsplit("/", 1)[1])))
    admin.close()
