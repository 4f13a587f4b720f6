"""The SQL under the derivation services: adding contributions to the rollup tables, multi-row
inserts, the derivation lock. SQLite and PostgreSQL differ here, and only here (with
``insights.session_store``); the services above speak in contributions and derived sessions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, models

from customers.models import Customer
from events.models import Event
from events.wire.native import ANONYMOUS_PREFIX
from insights import models as tables
from insights import people
from insights.contributions import Contributions
from insights.retention import order_days_from_rows
from products.models import Product

# Rollup name (insights.contributions) → its table and the columns of its key.
ROLLUP_TABLES: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "sessions_hourly": (tables.SessionHourly, ("hour", "age_group", "channel")),
    "carts_hourly": (tables.CartHourly, ("hour", "channel")),
    "sessions_daily": (tables.SessionDaily, ("day", "age_group", "category", "channel")),
    "products_daily": (tables.ProductDaily, ("day", "product_id", "age_group")),
    "product_channels": (tables.ProductChannelDaily, ("channel", "day", "product_id", "age_group")),
    "customers_daily": (tables.CustomerDaily, ("day", "customer_id")),
    "cart_values_daily": (tables.CartValueDaily, ("day", "age_group", "category", "bucket", "channel")),
    "customer_totals": (tables.CustomerTotals, ("customer_id",)),
    "product_pairs": (tables.ProductPairDaily, ("kind", "day", "product_a", "product_b")),
    "product_pairs_all": (tables.ProductPairTotal, ("kind", "product_a", "product_b")),
    # insights.retention: from each customer's order days
    "cohort_months": (tables.CohortMonthly, ("cohort", "month", "age_group")),
    "buyer_orders": (tables.BuyerOrders, ("orders", "age_group")),
    "order_gaps": (tables.OrderGap, ("days", "age_group")),
    "first_orders": (tables.CustomerFirstOrder, ("customer_id", "day")),
    "traffic_daily": (tables.TrafficDaily, ("day", "channel", "source", "medium", "campaign")),
    # Last (every writer adds in this order): every ingest transaction adds to the same few rows of the
    # current hour and day, each holding its rows until it commits; written last, they are held shortest.
    "events_hourly": (tables.EventHourly, ("hour", "action", "age_group")),
    "events_daily": (tables.EventDaily, ("day", "action", "age_group", "category")),
}
EARLIEST_COLUMNS = {"first_seen"}  # kept at their minimum, not summed
LATEST_COLUMNS = {"last_seen", "last_purchase_at"}  # kept at their maximum
# Kept as the value that came with the earliest time of the named column; of two at the same time, the
# one with the smaller session key (the same key: the newer one, so a re-derived first session brings
# its channel), as a rebuild picks it whatever the order; a contribution without that time leaves it alone.
FOLLOWS_EARLIEST = {"first_channel": "first_seen", "first_session": "first_seen"}
FIRST_KEY = "first_session"
# Everything derived from the events, carts first (deleting them needs no cascade collection).
DERIVED_MODELS: tuple[type[models.Model], ...] = (tables.Cart, tables.Session, tables.PendingWindow,
                                                  *(m for m, _ in ROLLUP_TABLES.values()), tables.DailyPeople,
                                                  tables.CustomerRfm)
DERIVATION_LOCK_ID = 815_514_005  # PostgreSQL advisory lock serialising every write of derived data
_UPSERT_ROWS = 400
_INSERT_ROWS = 500
_SQLITE_IN_CHUNK = 900  # below SQLite's bound-parameter limit
_PEOPLE_DAYS = 300  # days refreshed by one query (SQLite's parameter limit)
PEOPLE_RETURNING = ("day", "customer_id", "events", "revenue")  # what _people_flips reads back


def derivation_lock() -> None:
    """Serialise with every other writer of derived data until this transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [DERIVATION_LOCK_ID])
    # SQLite: transactions are IMMEDIATE, so writers are already serialised.


def derived_statistics_refresh() -> None:
    """The planner's statistics of every derived table, after a rebuild rewrote them (PostgreSQL
    ``ANALYZE``; docs/derivation.md#server-settings): left to autovacuum, the first drains after a
    rebuild would be planned against the emptied tables' figures."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in DERIVED_MODELS)
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {tables}")


# Tables the incremental derivation reads by customer, whose statistics a bulk load can leave behind.
_READ_BY_CUSTOMER = (Event, tables.Session)
_STALE_SHARE = 0.2  # rows changed since the last ANALYZE, as a share of the table, that make it stale
_STALE_MIN_ROWS = 10_000


def read_statistics_refresh() -> list[str]:
    """``ANALYZE`` the tables the derivation reads by customer whose statistics a bulk load left behind
    (never analysed, or more than a fifth of their rows changed since): without them PostgreSQL takes a
    customer for a large share of the events and scans the whole table for each batch. Autovacuum
    catches up within a minute or so, not before a bulk import's own catch-up or the drains right after
    a rebuild. Returns the tables analysed (PostgreSQL only; cheap when none is stale)."""
    if connection.vendor != "postgresql":
        return []
    names = [m._meta.db_table for m in _READ_BY_CUSTOMER]
    with connection.cursor() as cur:
        cur.execute("SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                    "WHERE s.relname = ANY(%s) AND s.n_mod_since_analyze > %s AND (s.n_mod_since_analyze > "
                    "%s * GREATEST(c.reltuples, 0) OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL))",
                    [names, _STALE_MIN_ROWS, _STALE_SHARE])
        stale = [name for (name,) in cur.fetchall()]
        for name in stale:
            cur.execute(f"ANALYZE {connection.ops.quote_name(name)}")
    return stale


def ingest_hold() -> None:
    """Wait for ingest transactions in flight and hold new ones back until this transaction commits
    (PostgreSQL ``SHARE ROW EXCLUSIVE``: readers are never blocked; SQLite serialises writers already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"LOCK TABLE {Event._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")


def sql_param_adapter() -> Callable[[Any], Any] | None:
    """Parameter conversion for raw SQL: psycopg2 adapts datetimes, dates and Decimals itself; SQLite
    needs Django's text forms (naive UTC datetimes) to compare with what the ORM stored."""
    if connection.vendor == "postgresql":
        return None
    ops = connection.ops

    def adapt(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.date):
            return ops.adapt_datefield_value(value)
        if isinstance(value, Decimal):
            return str(value)
        return value

    return adapt


def rollups_add(contributions: Contributions) -> None:
    """Add every rollup row's counters to the stored ones (creating rows as needed), then refresh the
    people bitmaps of the days where a customer became (or stopped being) active or buying."""
    flipped: set[dt.date] = set()
    for name in ROLLUP_TABLES:
        if name in contributions:
            _rollup_upsert(name, contributions[name], flipped=flipped if name == "customers_daily" else None)
    people_days_refresh(flipped)


def people_days_refresh(days: Iterable[dt.date]) -> None:
    """Recompute the ``DailyPeople`` bitmaps (``insights.people``) of these store days from the day ×
    customer rollup, a few hundred days a query. Only writers holding the derivation lock change who is
    active or buying on a day (ingest adds only discounts and refunds there), so refreshes never race."""
    anonymous = Customer.objects.filter(pk=models.OuterRef("customer_id"), external_id__startswith=ANONYMOUS_PREFIX)
    ordered = sorted(set(days))
    for i in range(0, len(ordered), _PEOPLE_DAYS):
        chunk = ordered[i:i + _PEOPLE_DAYS]
        rows = (tables.CustomerDaily.objects.filter(day__in=chunk)
                .filter(models.Q(events__gt=0) | models.Q(revenue__gt=0)).annotate(anon=models.Exists(anonymous))
                .values_list("day", "customer_id", "events", "revenue", "anon"))
        kinds: dict[tuple[dt.date, str], list[int]] = defaultdict(list)
        for day, pk, events, revenue, anon in rows:
            if events > 0:
                kinds[(day, "v")].append(pk)
            if revenue > 0:
                kinds[(day, "p")].append(pk)
            if anon:
                kinds[(day, "a")].append(pk)
        rows_delete(tables.DailyPeople, day__in=chunk)
        tables.DailyPeople.objects.bulk_create([tables.DailyPeople(day=day, kind=kind, bits=people.bitmap(pks))
                                                for (day, kind), pks in sorted(kinds.items())])


def customer_days_delete(customer_pk: int) -> None:
    """Drop a customer's day × customer rows (erasure, a merged-away visitor) and refresh those days' people."""
    days = list(tables.CustomerDaily.objects.filter(customer_id=customer_pk).values_list("day", flat=True))
    rows_delete(tables.CustomerDaily, customer_id=customer_pk)
    people_days_refresh(days)


def _sqlite_decimal_places(model: type[models.Model]) -> dict[str, int]:
    """The decimal columns' places, on SQLite only: it keeps them as binary floats, so every value
    stored and every sum is rounded to the column's places, as PostgreSQL's ``numeric`` does. Otherwise
    float residue builds up (0.10 + 0.20 − 0.30 is 5.6e-17) and a day whose money went back to nothing
    still holds revenue > 0 (a buyer in the people bitmaps and panels) where a rebuild holds exactly 0."""
    if connection.vendor != "sqlite":
        return {}
    return {f.column: f.decimal_places for f in model._meta.concrete_fields
            if isinstance(f, models.DecimalField) and f.decimal_places is not None}


def _to_places(value: Any, places: int | None) -> Any:
    """A Decimal rounded to ``places`` (half away from zero, as PostgreSQL rounds); anything else as is."""
    if places is None or not isinstance(value, Decimal):
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def upsert_sql(model: type[models.Model], key_cols: Sequence[str], columns: Sequence[str]) -> tuple[str, str]:
    """``INSERT … VALUES`` and ``ON CONFLICT DO UPDATE SET c = c + excluded.c`` (min/max for times;
    decimal sums rounded to their places on SQLite, ``_sqlite_decimal_places``)."""
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    least, greatest = ("MIN", "MAX") if connection.vendor == "sqlite" else ("LEAST", "GREATEST")
    places = _sqlite_decimal_places(model)
    sets = []
    for c in columns:
        if c in FOLLOWS_EARLIEST:
            t, k = q(FOLLOWS_EARLIEST[c]), q(FIRST_KEY)
            binary = "" if connection.vendor == "sqlite" else ' COLLATE "C"'  # code-point order, as Python's
            sets.append(f"{q(c)} = CASE WHEN EXCLUDED.{t} IS NOT NULL AND ({table}.{t} IS NULL OR "
                        f"EXCLUDED.{t} < {table}.{t} OR (EXCLUDED.{t} = {table}.{t} AND ({table}.{k} = '' OR "
                        f"EXCLUDED.{k}{binary} <= {table}.{k}))) THEN EXCLUDED.{q(c)} ELSE {table}.{q(c)} END")
        elif c in EARLIEST_COLUMNS or c in LATEST_COLUMNS:
            pick = least if c in EARLIEST_COLUMNS else greatest
            sets.append(f"{q(c)} = {pick}(COALESCE({table}.{q(c)}, EXCLUDED.{q(c)}), "
                        f"COALESCE(EXCLUDED.{q(c)}, {table}.{q(c)}))")
        elif c in places:
            sets.append(f"{q(c)} = ROUND({table}.{q(c)} + EXCLUDED.{q(c)}, {places[c]})")
        else:
            sets.append(f"{q(c)} = {table}.{q(c)} + EXCLUDED.{q(c)}")
    head = f"INSERT INTO {table} ({', '.join(q(c) for c in (*key_cols, *columns))}) VALUES "
    tail = f" ON CONFLICT ({', '.join(q(c) for c in key_cols)}) DO UPDATE SET {', '.join(sets)}"
    return head, tail


def _people_flips(returned: Iterable[Sequence[Any]], live: Mapping[tuple, Mapping[str, Any]],
                  flipped: set[dt.date]) -> None:
    """Days of the day × customer rows (``RETURNING day, customer_id, events, revenue``) whose events or
    revenue crossed zero with this addition: only there do the people bitmaps change."""
    for day, customer, events, revenue in returned:
        if isinstance(day, str):  # SQLite returns the text it stores
            day = dt.date.fromisoformat(day)
        added = live.get((day, customer), {})
        after_events, after_revenue = Decimal(str(events)), Decimal(str(revenue))
        before_events = after_events - Decimal(str(added.get("events", 0)))
        before_revenue = after_revenue - Decimal(str(added.get("revenue", 0)))
        if (after_events > 0) != (before_events > 0) or (after_revenue > 0) != (before_revenue > 0):
            flipped.add(day)


def _rollup_upsert(name: str, rows: Mapping[tuple, Mapping[str, Any]], *, flipped: set[dt.date] | None = None) -> int:
    """Add ``rows`` to rollup ``name``; with ``flipped`` (the day × customer rollup), collect the days
    where a customer's activity or buying changed (``_people_flips``)."""
    model, key_cols = ROLLUP_TABLES[name]
    live = {k: v for k, v in rows.items() if any(v.values())}
    if not live:
        return 0
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key and f.column not in key_cols]
    head, tail = upsert_sql(model, key_cols, columns)
    placeholder = "(" + ", ".join(["%s"] * (len(key_cols) + len(columns))) + ")"
    keys = sorted(live)  # one lock order for every writer: no deadlocks between concurrent batches
    defaults = [None if c in EARLIEST_COLUMNS or c in LATEST_COLUMNS else "" if c in FOLLOWS_EARLIEST else 0
                for c in columns]
    adapt = sql_param_adapter()
    places = _sqlite_decimal_places(model)
    q = connection.ops.quote_name
    returning = "" if flipped is None else f" RETURNING {', '.join(q(c) for c in PEOPLE_RETURNING)}"
    with connection.cursor() as cur:
        for i in range(0, len(keys), _UPSERT_ROWS):
            chunk = keys[i:i + _UPSERT_ROWS]
            params: list[Any] = []
            for k in chunk:
                values = live[k]
                params.extend(k)
                params.extend([_to_places(values.get(c, d), places.get(c))
                               for c, d in zip(columns, defaults, strict=True)])
            if adapt is not None:
                params = [adapt(p) for p in params]
            cur.execute(head + ", ".join([placeholder] * len(chunk)) + tail + returning, params)
            if flipped is not None:
                _people_flips(cur.fetchall(), live, flipped)
    return len(live)


def rows_insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning_ids: bool) -> list[int]:
    """Plain multi-row INSERTs (no model instances to build); the new ids when asked, in row order."""
    q = connection.ops.quote_name
    adapt = sql_param_adapter()
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids: list[int] = []
    with connection.cursor() as cur:
        for i in range(0, len(rows), _INSERT_ROWS):
            chunk = rows[i:i + _INSERT_ROWS]
            params = [v for row in chunk for v in row]
            if adapt is not None:
                params = [adapt(v) for v in params]
            sql = (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES "
                   + ", ".join([placeholder] * len(chunk)) + (" RETURNING id" if returning_ids else ""))
            cur.execute(sql, params)
            if returning_ids:
                ids.extend(r[0] for r in cur.fetchall())
    return ids


def rows_delete(model: type[models.Model], **filters: Any) -> int:
    """One DELETE, no cascade collection or signals (derived rows: nothing hangs on them)."""
    return model._default_manager.filter(**filters)._raw_delete(connection.alias) or 0


def rows_delete_by_pk(model: type[models.Model], pks: Sequence[int], *, field: str = "pk") -> None:
    for i in range(0, len(pks), _SQLITE_IN_CHUNK):
        rows_delete(model, **{f"{field}__in": pks[i:i + _SQLITE_IN_CHUNK]})


def customer_order_days(customer_pks: Iterable[int]) -> dict[int, list]:
    """The order days (``insights.retention``) of these customers, from the day × customer rollup."""
    pks = sorted(set(customer_pks))
    rows: list[tuple] = []
    for i in range(0, len(pks), _SQLITE_IN_CHUNK):
        rows.extend(tables.CustomerDaily.objects.filter(customer_id__in=pks[i:i + _SQLITE_IN_CHUNK], orders__gt=0)
                    .annotate(net=models.F("revenue") - models.F("discounts") - models.F("refunds"))
                    .values_list("customer_id", "day", "orders", "net"))
    return order_days_from_rows(rows)


def product_categories(product_pks: Iterable[int | None] | None) -> dict[int, str]:
    """Product pk → category, for the given products (``None``: every product)."""
    if product_pks is None:
        return dict(Product.objects.values_list("pk", "category"))
    pks = {pk for pk in product_pks if pk is not None}
    if not pks:
        return {}
    return dict(Product.objects.filter(pk__in=pks).values_list("pk", "category"))
