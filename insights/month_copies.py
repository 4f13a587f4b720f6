"""Month copies of rollups (docs/derivation.md#month-copies-of-the-rollups): a long period reads each of
its whole closed months as one copy row a key instead of that month's hours or days, and the rollup's
own rows only for its partial months and for months not copied. Seasonality's hourly rollups are copied
by local month × weekday × hour (``EventSlotMonthly`` from ``EventHourly``, ``SessionSlotMonthly`` from
``SessionHourly``), the day rollups of sessions, cart values, events and products by month
(``SessionMonthly``, ``CartValueMonthly``, ``EventMonthly``, ``ProductMonthly``, ``ProductChannelMonthly``).
The stored sessions are copied too, not summed: each channel's customers of a month as bitmaps
(``ChannelPeopleMonthly``), for the distinct people of a channel over a long period; and the day ×
customer rollup's buyer days as their revenue by each buyer's first-touch channel (``FirstTouchMonthly``,
noted also when a buyer's first-touch channel changes); and the store's daily people bitmaps as their OR
per month (``PeopleMonthly``).

A copy is kept from the outside, because the rollups have many writers (ingest's event counts and
money, the drain, moves, removals, the rebuild): a statement-level trigger on each copied rollup notes
every day a statement wrote after it was over (``MonthCopyNote``: an hour more than a day old, a store
day before yesterday in UTC; live traffic writes neither, so it notes nothing), and
``month_copies_refresh`` copies each closed month (a few days after its end), recomputes the months a
note overlaps, and deletes the notes it read (a note added meanwhile stays for the next refresh). Readers take from a
copy only the months copied in the store's current time zone that no note overlaps, so a late event, a
move or an import is in the figures at once, from the rollup's rows, until the next refresh.

PostgreSQL only (the triggers); on SQLite nothing is copied and every reader reads the rollups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Max, Min
from django.utils import timezone

from insights.contributions import MONEY_ACTIONS
from insights.copy_models import (
    ALL,
    CartValueMonthly,
    ChannelPeopleMonthly,
    EventMonthly,
    EventSlotMonthly,
    FirstTouchMonthly,
    MonthCopy,
    MonthCopyNote,
    PeopleMonthly,
    ProductChannelMonthly,
    ProductMonthly,
    SessionMonthly,
    SessionSlotMonthly,
)
from insights.counter_models import ProductShares, SessionCounters
from insights.filters import store_tz
from insights.models import (
    CartValueDaily,
    CustomerDaily,
    CustomerTotals,
    DailyPeople,
    EventDaily,
    EventHourly,
    ProductChannelDaily,
    ProductDaily,
    Session,
    SessionDaily,
    SessionHourly,
)
from insights.people import as_bytes, as_int, bitmap


def _copy_people(cur: Any, month: dt.date, lo: dt.datetime, hi: dt.datetime) -> None:
    """One month of each channel's people: the customers of the sessions that started in it, per channel
    and age group, active ("v") and buying ("p"), as bitmaps (``insights.people``)."""
    cur.execute(f"SELECT channel, age_group, array_agg(DISTINCT customer_id), array_agg(DISTINCT customer_id) "
                f"FILTER (WHERE purchased) FROM {connection.ops.quote_name(Session._meta.db_table)} "
                f"WHERE started_at >= %s AND started_at < %s GROUP BY channel, age_group", [lo, hi])
    ChannelPeopleMonthly.objects.bulk_create([
        ChannelPeopleMonthly(month=month, channel=channel, age_group=age_group, kind=kind, bits=bitmap(pks or ()))
        for channel, age_group, active, buying in cur.fetchall() for kind, pks in (("v", active), ("p", buying))])


def _copy_first_touch(cur: Any, month: dt.date, lo: dt.datetime, hi: dt.datetime) -> None:
    """One month of buyer days' revenue (net of discounts) by each buyer's first-touch channel."""
    q = connection.ops.quote_name
    cur.execute(f"INSERT INTO {q(FirstTouchMonthly._meta.db_table)} (month, channel, revenue) "
                f"SELECT %s, COALESCE(NULLIF(t.first_channel, ''), 'Direct'), SUM(d.revenue - d.discounts) "
                f"FROM {q(CustomerDaily._meta.db_table)} d LEFT JOIN {q(CustomerTotals._meta.db_table)} t "
                f"ON t.customer_id = d.customer_id WHERE d.revenue > 0 AND d.day >= %s AND d.day < %s GROUP BY 2",
                [month, lo.date(), hi.date()])


def _copy_people_days(cur: Any, month: dt.date, lo: dt.datetime, hi: dt.datetime) -> None:
    """One month of the store's people: the OR of its days' bitmaps, per kind."""
    month_bits: dict[str, int] = {}
    for kind, bits in DailyPeople.objects.filter(day__gte=lo.date(), day__lt=hi.date()).values_list("kind", "bits"):
        month_bits[kind] = month_bits.get(kind, 0) | as_int(bits)
    PeopleMonthly.objects.bulk_create([PeopleMonthly(month=month, kind=kind, bits=as_bytes(bits))
                                       for kind, bits in sorted(month_bits.items())])


@dataclass(frozen=True)
class Source:
    """A copied rollup: ``table`` (its time column ``hour`` or ``day``: ``kind``), its ``copy``, the key
    columns beside the time and the summed columns. An hourly copy holds every key's rows and, for each key
    column, rows summed over it (``ALL``): an unfiltered view reads 168 rows a month. The events copy keeps
    the money of money events only (what every reader of it sums)."""

    kind: str
    table: type[models.Model]
    copy: type[models.Model]
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    time: str = ""  # the table's time column, if not named as its kind
    note: str = ""  # the trigger function noting its writes (insights_<note>_note), if not its kind's
    # how a month is copied, if not by summing the rollup (``_copy_sql``): (cursor, month, lo, hi)
    copier: Callable[[Any, dt.date, dt.datetime, dt.datetime], None] | None = None

    @property
    def column(self) -> str:
        return self.time or self.kind


PRODUCT_COUNTERS = tuple(f.name for f in ProductShares._meta.get_fields() if f.name not in ("product_id", "age_group"))
SOURCES = {
    "events": Source("hour", EventHourly, EventSlotMonthly, ("action", "age_group"),
                     ("events", "revenue", "discounts", "refunds")),
    "sessions": Source("hour", SessionHourly, SessionSlotMonthly, ("age_group", "channel"),
                       ("sessions", "purchasing_sessions", "orders", "events", "revenue", "discounts")),
    "session_days": Source("day", SessionDaily, SessionMonthly, ("category", "age_group", "channel"),
                           tuple(f.name for f in SessionCounters._meta.get_fields()) + ("events", "discounts")),
    "cart_values": Source("day", CartValueDaily, CartValueMonthly, ("category", "age_group", "bucket", "channel"),
                          ("carts",)),
    "event_days": Source("day", EventDaily, EventMonthly, ("action", "age_group", "category"),
                         ("events", "quantity", "revenue", "discounts", "refunds")),
    "product_days": Source("day", ProductDaily, ProductMonthly, ("product_id", "age_group"),
                           (*PRODUCT_COUNTERS, "refunds", "refunded_units")),
    "product_channel_days": Source("day", ProductChannelDaily, ProductChannelMonthly,
                                   ("channel", "product_id", "age_group"), PRODUCT_COUNTERS),
    # not a sum: the channel's active and buying customers of each month as bitmaps (by the session's start)
    "channel_people": Source("hour", Session, ChannelPeopleMonthly, ("channel", "age_group"), (), time="started_at",
                             note="session", copier=_copy_people),
    # the buyer days' revenue by the buyer's first-touch channel (also noted when that channel changes)
    "first_touch": Source("day", CustomerDaily, FirstTouchMonthly, ("channel",), ("revenue",),
                          copier=_copy_first_touch),
    # the store's people of each month: the OR of its days' bitmaps per kind
    "people": Source("day", DailyPeople, PeopleMonthly, ("kind",), (), copier=_copy_people_days),
}
MONEY = ("revenue", "discounts", "refunds")
# A month is copied once it ended this long ago; the triggers note writes to hours more than a day old
# and to store days before yesterday in UTC, so every write to a copied month is noted.
SETTLE = {"hour": dt.timedelta(days=2), "day": dt.timedelta(days=3)}
_LOCK_ID = 815_514_022  # one refresh at a time (another one running: this one leaves the work to it)

_NOTE_FUNCTION = """
CREATE OR REPLACE FUNCTION insights_hour_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date AS d
        FROM old_rows WHERE hour < clock_timestamp() - interval '1 day') x;
  ELSE
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date AS d
        FROM new_rows WHERE hour < clock_timestamp() - interval '1 day') x;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION insights_day_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT day AS d
        FROM old_rows WHERE day < (clock_timestamp() AT TIME ZONE 'UTC')::date - 1) x;
  ELSE
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT day AS d
        FROM new_rows WHERE day < (clock_timestamp() AT TIME ZONE 'UTC')::date - 1) x;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION insights_session_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date
        AS d FROM old_rows WHERE started_at < clock_timestamp() - interval '1 day') x;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date
        AS d FROM new_rows WHERE started_at < clock_timestamp() - interval '1 day') x;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION insights_first_touch_note() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
DECLARE changed bigint[];
BEGIN
  -- the customers whose first channel the statement changed (a hash join: the transition tables have no
  -- statistics, and a nested loop over thousands of rows each is quadratic), then their buyer days
  SELECT array_agg(n.customer_id) INTO changed FROM new_rows n JOIN old_rows o ON o.customer_id = n.customer_id
    WHERE o.first_channel IS DISTINCT FROM n.first_channel;
  IF changed IS NOT NULL THEN
    INSERT INTO {note} (source, day) SELECT TG_ARGV[0], d FROM (SELECT DISTINCT day AS d FROM {daily}
        WHERE customer_id = ANY(changed) AND revenue > 0
          AND day < (clock_timestamp() AT TIME ZONE 'UTC')::date - 1) x;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION insights_copy_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {copy} WHERE source = TG_ARGV[0];
  RETURN NULL;
END $$;
"""
_TRIGGERS = """
DROP TRIGGER IF EXISTS insights_copy_ins ON {table};
DROP TRIGGER IF EXISTS insights_copy_upd ON {table};
DROP TRIGGER IF EXISTS insights_copy_del ON {table};
DROP TRIGGER IF EXISTS insights_copy_trunc ON {table};
CREATE TRIGGER insights_copy_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION insights_{kind}_note('{source}');
CREATE TRIGGER insights_copy_upd AFTER UPDATE ON {table} REFERENCING {update_rows}
  FOR EACH STATEMENT EXECUTE FUNCTION insights_{kind}_note('{source}');
CREATE TRIGGER insights_copy_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION insights_{kind}_note('{source}');
CREATE TRIGGER insights_copy_trunc AFTER TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION insights_copy_forget('{source}');
"""


_FIRST_TOUCH_TRIGGERS = """
DROP TRIGGER IF EXISTS insights_copy_first_touch ON {totals};
DROP TRIGGER IF EXISTS insights_copy_first_touch_trunc ON {totals};
CREATE TRIGGER insights_copy_first_touch AFTER UPDATE ON {totals} REFERENCING OLD TABLE AS old_rows
  NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION insights_first_touch_note('first_touch');
CREATE TRIGGER insights_copy_first_touch_trunc AFTER TRUNCATE ON {totals}
  FOR EACH STATEMENT EXECUTE FUNCTION insights_copy_forget('first_touch');
"""


def triggers_sql() -> list[str]:
    """The statements installing the note triggers on the copied rollups (the migrations run them)."""
    q = connection.ops.quote_name
    out = [_NOTE_FUNCTION.format(note=q(MonthCopyNote._meta.db_table), copy=q(MonthCopy._meta.db_table),
                                 daily=q(CustomerDaily._meta.db_table))]
    for name, source in SOURCES.items():
        # a session's update may move it to another month, channel or customer: both of its rows are noted
        update_rows = ("OLD TABLE AS old_rows NEW TABLE AS new_rows" if source.note == "session"
                       else "NEW TABLE AS new_rows")
        out.append(_TRIGGERS.format(table=q(source.table._meta.db_table), source=name,
                                    kind=source.note or source.kind, update_rows=update_rows))
    # a buyer's first-touch channel changed: the first-touch copies of their buyer days are stale
    out.append(_FIRST_TOUCH_TRIGGERS.format(totals=q(CustomerTotals._meta.db_table)))
    return out


def _month_after(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_bounds(month: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC hours [lo, hi) of a local month."""
    return (dt.datetime.combine(month, dt.time(), tzinfo=tz).astimezone(dt.UTC),
            dt.datetime.combine(_month_after(month), dt.time(), tzinfo=tz).astimezone(dt.UTC))


def _closed_months(first: dt.datetime, last: dt.datetime, now: dt.datetime, tz: dt.tzinfo,
                   settle: dt.timedelta) -> list[dt.date]:
    """The months (in ``tz``) from the one holding ``first`` to the one holding ``last`` that ended at least
    ``settle`` ago."""
    month, end, out = first.astimezone(tz).date().replace(day=1), last.astimezone(tz).date(), []
    while month <= end and month_bounds(month, tz)[1] <= now - settle:
        out.append(month)
        month = _month_after(month)
    return out


def _last_closed(now: dt.datetime, tz: dt.tzinfo, settle: dt.timedelta) -> dt.date:
    """The latest month (in ``tz``) that ended at least ``settle`` before ``now``."""
    current = (now - settle).astimezone(tz).date().replace(day=1)
    return (current - dt.timedelta(days=1)).replace(day=1)


def source_zone(source: Source) -> tuple[dt.tzinfo, str]:
    """The time zone a source's months are cut in and its name as recorded: the store's for hourly rollups;
    UTC, recorded as "", for day rollups (their days are already store days)."""
    if source.kind == "hour":
        tz = store_tz()
        return tz, str(tz)
    return dt.UTC, ""


def _span(source: Source, within: tuple[dt.datetime, dt.datetime] | None = None
          ) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and last time of a rollup's rows (a day as its UTC midnight), only those ``within`` [lo, hi)
    if given, or None when there are none."""
    rows = source.table._default_manager.all()
    if within is not None:
        bounds = within if source.kind == "hour" else tuple(t.date() for t in within)
        rows = rows.filter(**{f"{source.column}__gte": bounds[0], f"{source.column}__lt": bounds[1]})
    span = rows.aggregate(first=Min(source.column), last=Max(source.column))
    if span["first"] is None:
        return None
    if source.kind == "day":
        return tuple(dt.datetime.combine(span[k], dt.time(), tzinfo=dt.UTC) for k in ("first", "last"))  # type: ignore[return-value]
    return span["first"], span["last"]


def _overlaps(day: dt.date, lo: dt.datetime, hi: dt.datetime) -> bool:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start < hi and start + dt.timedelta(days=1) > lo


def _copy_sql(source: Source) -> str:
    """One month of a rollup: a day rollup summed per key; an hourly one per local weekday × hour × every
    combination of the key columns, each either a value or ``ALL`` (``CUBE``)."""
    q = connection.ops.quote_name
    table, keys = q(source.table._meta.db_table), ", ".join(source.keys)
    columns = f"(month, {'weekday, hour, ' if source.kind == 'hour' else ''}{keys}, {', '.join(source.sums)})"
    if source.kind == "day":
        return (f"INSERT INTO {q(source.copy._meta.db_table)} {columns} SELECT %s, {keys}, "
                f"{', '.join(f'SUM({c})' for c in source.sums)} FROM {table} WHERE day >= %s AND day < %s "
                f"GROUP BY {keys}")
    actions = ", ".join(f"'{a}'" for a in sorted(MONEY_ACTIONS))
    money_of = f" FILTER (WHERE action IN ({actions}))" if "action" in source.keys else ""
    summed = ", ".join(f"COALESCE(SUM({c}){money_of if c in MONEY else ''}, 0)" for c in source.sums)
    return (f"INSERT INTO {q(source.copy._meta.db_table)} {columns} "
            f"SELECT %s, wd, hr, {', '.join(f'COALESCE({k}, %s)' for k in source.keys)}, {summed} FROM ("
            f"SELECT CAST(EXTRACT(ISODOW FROM t) AS integer) - 1 AS wd, CAST(EXTRACT(HOUR FROM t) AS integer) AS hr, "
            f"{', '.join((*source.keys, *source.sums))} FROM (SELECT hour AT TIME ZONE %s AS t, * FROM {table} "
            f"WHERE hour >= %s AND hour < %s) y) x GROUP BY wd, hr, CUBE ({keys})")


def _copy_params(source: Source, month: dt.date, zone: str, lo: dt.datetime, hi: dt.datetime) -> list:
    if source.kind == "day":
        return [month, lo.date(), hi.date()]
    return [month, *[ALL] * len(source.keys), zone, lo, hi]


def _refresh_source(cur: Any, name: str, source: Source, kept: dict[dt.date, str], notes: list[tuple[int, dt.date]],
                    now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Copy ``source``'s closed months not copied (or copied in another time zone) and recompute those a
    note overlaps; drop the copies of months no longer closed or without rows. Returns the UTC spans of
    the months (re)copied or dropped."""
    tz, zone = source_zone(source)
    span = _span(source)
    closed = _closed_months(*span, now, tz, SETTLE[source.kind]) if span else []
    refreshed = []
    for month in sorted(set(closed) | set(kept)):
        lo, hi = month_bounds(month, tz)
        if kept.get(month) == zone and not any(_overlaps(day, lo, hi) for _, day in notes):
            continue
        source.copy._default_manager.filter(month=month).delete()
        if month in closed:
            if source.copier is not None:
                source.copier(cur, month, lo, hi)
            else:
                cur.execute(_copy_sql(source), _copy_params(source, month, zone, lo, hi))
            first, last = _span(source, (lo, hi)) or (None, None)
            MonthCopy.objects.update_or_create(source=name, month=month, defaults={
                "time_zone": zone, "lo": lo, "hi": hi, "first": first, "last": last, "refreshed_at": now})
        else:  # its rows are gone (or it is not closed in this time zone)
            MonthCopy.objects.filter(source=name, month=month).delete()
        refreshed.append((lo, hi))
    return refreshed


def month_copies_refresh(*, now: dt.datetime | None = None) -> int:
    """Copy the closed months not yet copied (or copied in another time zone) and recompute those a note
    overlaps, deleting the notes read (they were committed before the recomputation read the rollup; a
    note added since stays). Returns the months (re)copied. PostgreSQL only; a no-op while another
    refresh runs."""
    if connection.vendor != "postgresql":
        return 0
    now = now or timezone.now()
    done = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_ID])
        if not cur.fetchone()[0]:
            return 0
        for name, source in SOURCES.items():
            tz, zone = source_zone(source)
            notes = list(MonthCopyNote.objects.filter(source=name).values_list("pk", "day"))
            kept = dict(MonthCopy.objects.filter(source=name).values_list("month", "time_zone"))
            stale = [m for m in kept if any(_overlaps(day, *month_bounds(m, tz)) for _, day in notes)]
            refreshed: list[tuple[dt.datetime, dt.datetime]] = []
            if stale or _last_closed(now, tz, SETTLE[source.kind]) not in kept or set(kept.values()) != {zone}:
                refreshed = _refresh_source(cur, name, source, kept, notes, now)
                kept = dict(MonthCopy.objects.filter(source=name).values_list("month", "time_zone"))
            # else no copy written since and no month closed since: the rollup's span is not read.
            # Delete the notes read that a recomputation covered, and those of months not copied (a month's
            # first copy reads everything committed before it): the rest wait for the next refresh.
            copies = [month_bounds(m, tz) for m in kept]
            read = [pk for pk, day in notes if any(_overlaps(day, lo, hi) for lo, hi in refreshed)
                    or not any(_overlaps(day, lo, hi) for lo, hi in copies)]
            for i in range(0, len(read), 1000):  # only notes read: one a writer added since stays
                MonthCopyNote.objects.filter(pk__in=read[i:i + 1000]).delete()
            done += len(refreshed)
    return done
