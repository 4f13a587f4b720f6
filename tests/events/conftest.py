import pytest

from events.services import ingest_key_create, ingest_key_revoke


@pytest.fixture
def ingest_secret(db):
    """The secret of a fresh active ingest key."""
    _key, secret = ingest_key_create(name="test-client")
    return secret


@pytest.fixture
def revoked_secret(db):
    key, secret = ingest_key_create(name="revoked-client")
    ingest_key_revoke(key=key)
    return secret


@pytest.fixture
def lock_events_table(transactional_db):
    """A context manager: while in it, another connection holds the events table (PostgreSQL:
    ACCESS EXCLUSIVE) or the database (SQLite: a write transaction), and this test's connection
    gives up waiting after 0.2 s: a real transient failure (lock timeout / database is locked)."""
    import sqlite3
    from contextlib import contextmanager

    import psycopg2
    from django.db import connection

    @contextmanager
    def locked():
        connection.ensure_connection()
        db = connection.settings_dict
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                holder = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db.get("PASSWORD") or None,
                                          host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432)
                holder.cursor().execute("LOCK TABLE events_event IN ACCESS EXCLUSIVE MODE")
                cur.execute("SET lock_timeout = '200ms'")
            else:
                holder = sqlite3.connect(db["NAME"], isolation_level=None)
                holder.execute("BEGIN IMMEDIATE")
                cur.execute("PRAGMA busy_timeout = 200")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
            with connection.cursor() as cur:
                cur.execute("SET lock_timeout = 0" if connection.vendor == "postgresql"
                            else "PRAGMA busy_timeout = 30000")

    return locked


@pytest.fixture
def poison_trigger(db):
    """The database itself refuses events whose event_id starts with "poison" (a trigger), whatever
    validation says. Created inside the test's transaction, so it goes with the rollback."""
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("""
                CREATE FUNCTION poison_guard() RETURNS trigger AS $$
                BEGIN
                  IF NEW.event_id LIKE 'poison%' THEN
                    RAISE EXCEPTION 'poisoned event refused' USING ERRCODE = 'check_violation';
                  END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql""")
            cur.execute("CREATE TRIGGER poison_guard BEFORE INSERT ON events_event FOR EACH ROW "
                        "EXECUTE FUNCTION poison_guard()")
        else:
            cur.execute("CREATE TRIGGER poison_guard BEFORE INSERT ON events_event "
                        "WHEN NEW.event_id LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned event refused'); END")
