"""The one statement that stores a batch of events and tells which of them are new.

PostgreSQL: COPY into a session-local staging table, then one INSERT … SELECT … ON CONFLICT DO
NOTHING RETURNING. Other databases (SQLite): ``bulk_create(ignore_conflicts=True)`` and a read
back. Either way an event_id already stored in the batch's namespace (its source's: see
``events.models.Source``) is not stored again, also against concurrent senders (the unique index
on namespace and event_id decides).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from io import BytesIO

from django.db import connection

from events.bots import is_bot_user_agent
from events.models import Event
from events.types import SourceRef
from events.wire import NativeEvent

_CHUNK = 900  # below SQLite's bound-parameter limit
_STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    event_id text, customer_id bigint, product_id bigint, session_id text, action text,
    quantity integer, price numeric(12, 2), order_id text, ts timestamptz, amount numeric(14, 2),
    anonymous_id text, context jsonb, is_bot boolean,
    currency text, fx_rate numeric(20, 10), discount numeric(14, 2), coupon text, shipping numeric(14, 2),
    tax numeric(14, 2)
) ON COMMIT DELETE ROWS
"""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def events_insert(events: list[NativeEvent], customer_pks: list[int], product_pks: list[int | None],
                  prices: list[Decimal], *, received_at: datetime, source: SourceRef) -> dict[str, int]:
    """Insert the events (the other lists run beside them), recording their source; returns
    {event_id: pk} of the rows newly stored in the source's namespace."""
    insert = _pg_insert if connection.vendor == "postgresql" else _generic_insert
    return insert(events, customer_pks, product_pks, prices, received_at, source)


def event_is_bot(e: NativeEvent) -> bool:
    """The event's user agent (``context.user_agent``) is a known bot's (events/bots.py)."""
    return e.context is not None and is_bot_user_agent(e.context.get("user_agent"))


def _copy_text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


_NO_ORDER = "\\N\t\t\\N\t\\N"  # discount, coupon (empty), shipping, tax


def _copy_num(value: Decimal | None) -> str:
    return "\\N" if value is None else str(value)


def _copy_payload(events: list[NativeEvent], customer_pks: list[int], product_pks: list[int | None],
                  prices: list[Decimal]) -> BytesIO:
    null = "\\N"
    lines: list[str] = []
    append = lines.append
    for e, cpk, ppk, price in zip(events, customer_pks, product_pks, prices, strict=True):
        order_id = e.order_id
        o = e.order
        money = f"{e.currency or ''}\t{_copy_num(e.fx_rate)}\t" + (
            _NO_ORDER if o is None else
            f"{_copy_num(o.discount)}\t{_copy_text(o.coupon)}\t{_copy_num(o.shipping)}\t{_copy_num(o.tax)}")
        append(f"{_copy_text(e.event_id)}\t{cpk}\t{ppk if ppk is not None else null}\t"
               f"{_copy_text(e.session_id)}\t{e.action}\t{e.quantity}\t{price}\t"
               f"{_copy_text(order_id) if order_id is not None else null}\t{e.timestamp.isoformat()}\t"
               f"{e.amount if e.amount is not None else null}\t{_copy_text(e.anonymous_id)}\t"
               f"{_copy_text(json.dumps(e.context)) if e.context is not None else null}\t"
               f"{'t' if event_is_bot(e) else 'f'}\t{money}\n")
    # Encoded here: a value the driver cannot encode fails before COPY starts (as UnicodeEncodeError,
    # a refusal of some event), not as a COPY cancelled mid-stream.
    return BytesIO("".join(lines).encode())


def _pg_insert(events: list[NativeEvent], customer_pks: list[int], product_pks: list[int | None],
               prices: list[Decimal], received_at: datetime, source: SourceRef) -> dict[str, int]:
    """COPY into the staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING: the
    rows returned are exactly the newly stored ones. Rows go in event_id order so concurrent
    batches lock alike."""
    payload = _copy_payload(events, customer_pks, product_pks, prices)
    table = Event._meta.db_table
    with connection.cursor() as cur:
        cur.execute(_STAGING_DDL)
        cur.execute("TRUNCATE ingest_staging")
        with connection.wrap_database_errors:  # psycopg2's errors as Django's, like execute()'s
            cur.copy_expert("COPY ingest_staging FROM STDIN", payload)
        cur.execute(
            f"INSERT INTO {table} (event_id, customer_id, product_id, session_id, action, quantity, price,"
            f" order_id, timestamp, received_at, amount, anonymous_id, context, is_bot, currency, fx_rate, discount,"
            f" coupon, shipping, tax, namespace, source_id)"
            f" SELECT event_id, customer_id, product_id, session_id, action, quantity, price, order_id, ts, %s, amount,"
            f" anonymous_id, context, is_bot, currency, fx_rate, discount, coupon, shipping, tax, %s, %s"
            f" FROM ingest_staging ORDER BY event_id COLLATE \"C\""
            f" ON CONFLICT (namespace, event_id) DO NOTHING RETURNING event_id, id",
            [received_at, source.namespace, source.pk],
        )
        return dict(cur.fetchall())


def _generic_insert(events: list[NativeEvent], customer_pks: list[int], product_pks: list[int | None],
                    prices: list[Decimal], received_at: datetime, source: SourceRef) -> dict[str, int]:
    """bulk_create(ignore_conflicts=True), then read back which rows are ours. On SQLite the
    transaction holds the write lock from its start (IMMEDIATE), so nothing else inserts between
    the look-up of existing ids and the read-back."""
    namespace = source.namespace
    existing = set(_event_pks(namespace, [e.event_id for e in events]))
    objs = [
        Event(event_id=e.event_id, customer_id=cpk, product_id=ppk, session_id=e.session_id, action=e.action,
              quantity=e.quantity, price=price, order_id=e.order_id, timestamp=e.timestamp,
              received_at=received_at, amount=e.amount, anonymous_id=e.anonymous_id, context=e.context,
              is_bot=event_is_bot(e), currency=e.currency or "", fx_rate=e.fx_rate, namespace=namespace,
              source_id=source.pk, **_order_fields(e))
        for e, cpk, ppk, price in zip(events, customer_pks, product_pks, prices, strict=True)
        if e.event_id not in existing
    ]
    if not objs:
        return {}
    Event.objects.bulk_create(objs, ignore_conflicts=True, batch_size=500)
    return _event_pks(namespace, [o.event_id for o in objs])


def _order_fields(e: NativeEvent) -> dict:
    o = e.order
    if o is None:
        return {}
    return {"discount": o.discount, "coupon": o.coupon, "shipping": o.shipping, "tax": o.tax}


def _event_pks(namespace: str, event_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[i:i + _CHUNK]
        found.update(Event.objects.filter(namespace=namespace, event_id__in=chunk).values_list("event_id", "id"))
    return found
