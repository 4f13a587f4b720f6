"""Reads for alerts: the hourly series a rule watches (from the insights rollups), which hours are final
enough to judge, and what the Alerts page, the API and the dashboard banner show
(docs/alerts-and-reports.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Max, Min, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from alerts.metrics import LIVE, METRICS, format_value, grain_of, point
from alerts.models import AlertRule, Evaluation, Incident
from insights.models import CartHourly, EventHourly, PendingWindow, Session, SessionHourly

HOUR = dt.timedelta(hours=1)
Series = dict[dt.datetime, tuple[float, float]]
SESSION_SUMS = ("sessions", "purchasing_sessions", "orders", "events", "revenue", "discounts")
CART_SUMS = ("carts_converted", "carts_abandoned", "carts_emptied")


def floor_hour(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _source(metric: str, channel: str) -> str:
    if metric == "cart_abandonment":
        return "carts"
    return "sessions" if channel or metric in ("orders", "session_conversion") else "events"


def _rows(source: str, hours: list[dt.datetime]) -> dict[tuple[dt.datetime, str], dict[str, float]]:
    """The summed counters of ``source`` per (hour, channel) ("" for the events rollup: no channel)."""
    if source == "events":
        qs: QuerySet = EventHourly.objects.filter(hour__in=hours).values("hour")
        names: Iterable[str] = ("events", "revenue", "discounts", "refunds")
    else:
        model = CartHourly if source == "carts" else SessionHourly
        qs, names = model.objects.filter(hour__in=hours).values("hour", "channel"), \
            CART_SUMS if source == "carts" else SESSION_SUMS
    out = {}
    for r in qs.annotate(**{n: Sum(n) for n in names}).order_by():
        key = (floor_hour(r.pop("hour")), r.pop("channel", ""))
        out[key] = {k: float(v or 0) for k, v in r.items()}
    return out


def alert_series(needed: Mapping[tuple[str, str], Iterable[dt.datetime]]) -> dict[tuple[str, str], Series]:
    """For each (metric, channel) of ``needed`` ("" = every channel), the metric at each of its hours: hour
    → (value, volume); an hour without a rollup row is absent (no data). One query per rollup table."""
    by_source: dict[str, set[dt.datetime]] = {}
    for (metric, channel), hours in needed.items():
        by_source.setdefault(_source(metric, channel), set()).update(hours)
    rows = {source: _rows(source, sorted(hours)) for source, hours in by_source.items()}
    out: dict[tuple[str, str], Series] = {}
    for (metric, channel), hours in needed.items():
        source_rows, wanted = rows[_source(metric, channel)], set(hours)
        summed: dict[dt.datetime, dict[str, float]] = {}
        for (hour, row_channel), counters in source_rows.items():
            if hour in wanted and (not channel or row_channel == channel):
                target = summed.setdefault(hour, {})
                for k, v in counters.items():
                    target[k] = target.get(k, 0.0) + v
        points = {hour: point(metric, counters) for hour, counters in summed.items()}
        out[(metric, channel)] = {hour: p for hour, p in points.items() if p is not None}
    return out


_FIRST_PENDING_SQL = {
    "postgresql": "SELECT MIN((w.value->>0)::bigint) FROM {table} p, jsonb_each(p.windows) w",
    "sqlite": "SELECT MIN(CAST(json_extract(w.value, '$[0]') AS INTEGER)) FROM {table} p, json_each(p.windows) w",
}


def _pending_from() -> dt.datetime | None:
    """The earliest event time still waiting to be derived (queued or set-aside windows), or None. Read
    in the database: after a bulk load the windows hold thousands of customers each, too many to decode
    in Python every 5 minutes."""
    sql = _FIRST_PENDING_SQL.get(connection.vendor)
    first: int | None = None
    if sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(table=connection.ops.quote_name(PendingWindow._meta.db_table)))
            row = cursor.fetchone()
        first = None if row is None or row[0] is None else int(row[0])
    else:
        for windows in PendingWindow.objects.values_list("windows", flat=True):
            for span in (windows or {}).values():
                first = span[0] if first is None else min(first, span[0])
    return None if first is None else dt.datetime.fromtimestamp(first, dt.UTC)


def alert_readiness(now: dt.datetime) -> dict[str, dt.datetime | None]:
    """The last hour (its start) each grain may be judged at ``now``, or None
    (docs/alerts-and-reports.md#which-hours-are-judged): the hour is over for ``ALERTS_SETTLE_MINUTES``;
    events were stored after it (a source that lags leaves its last hours alone); every event up to its
    end is derived; and, for session-grained figures, every session started up to its end has ended (or
    ``ALERTS_SESSION_WAIT_HOURS`` passed)."""
    last_data = EventHourly.objects.filter(events__gt=0).aggregate(h=Max("hour"))["h"]
    if last_data is None:
        return {LIVE: None, "session": None}
    settled = now - dt.timedelta(minutes=settings.ALERTS_SETTLE_MINUTES)
    bounds = [floor_hour(settled) - HOUR, floor_hour(last_data) - HOUR]
    pending = _pending_from()
    if pending is not None:
        bounds.append(floor_hour(pending) - HOUR)
    live = min(bounds)
    open_from = Session.objects.filter(closed=False).aggregate(s=Min("started_at"))["s"]
    session = live
    if open_from is not None:
        waited = floor_hour(now - dt.timedelta(hours=settings.ALERTS_SESSION_WAIT_HOURS)) - HOUR
        session = min(live, max(floor_hour(open_from) - HOUR, waited))
    return {LIVE: live, "session": session}


def ready_through(rule: AlertRule, readiness: dict[str, dt.datetime | None]) -> dt.datetime | None:
    return readiness[grain_of(rule.metric, rule.channel)]


def _incident_row(i: Incident) -> dict[str, Any]:
    return {"id": i.pk, "rule_id": i.rule_id, "rule": i.rule.name, "metric": i.rule.metric,
            "channel": i.rule.channel or None, "started_hour": i.started_hour.isoformat(),
            "fired_at": i.fired_at.isoformat(), "ended_hour": i.ended_hour.isoformat() if i.ended_hour else None,
            "ended_at": i.ended_at.isoformat() if i.ended_at else None, "open": i.ended_at is None,
            "summary": i.summary}


def incidents_recent(limit: int = 50, rule: AlertRule | None = None) -> list[dict[str, Any]]:
    qs = Incident.objects.select_related("rule")
    if rule is not None:
        qs = qs.filter(rule=rule)
    return [_incident_row(i) for i in qs[:limit]]


def alert_notices() -> list[dict[str, Any]]:
    """The open incidents, as the dashboard banner shows them (insights.extensions)."""
    return [{"id": i.pk, "text": i.summary, "href": f"/alerts/#rule-{i.rule_id}"}
            for i in Incident.objects.filter(ended_at__isnull=True).select_related("rule")[:5]]


@dataclass(frozen=True)
class JudgedHour:
    """One row of ``Evaluation``, as the Alerts page's chart reads it."""

    hour: dt.datetime
    status: str
    actual: float | None
    expected: float | None
    low: float | None
    high: float | None
    volume: float | None


def _evaluations_by_rule(rule_ids: list[int], since: dt.datetime) -> dict[int, list[JudgedHour]]:
    """Every rule's judged hours since ``since``, oldest first: one query on the (rule, hour) key."""
    out: dict[int, list[JudgedHour]] = defaultdict(list)
    rows = Evaluation.objects.filter(rule_id__in=rule_ids, hour__gte=since).order_by("rule_id", "hour").values_list(
        "rule_id", "hour", "status", "actual", "expected", "low", "high", "volume")
    for rule_id, hour, status, actual, expected, low, high, volume in rows:
        out[rule_id].append(JudgedHour(hour, status, actual, expected, low, high, volume))
    return out


def _incidents_by_rule(limit: int) -> dict[int, list[dict[str, Any]]]:
    """Each rule's ``limit`` latest incidents, newest first: one query (a window function)."""
    ranked = Incident.objects.annotate(rank=Window(RowNumber(), partition_by=[F("rule_id")],
                                                   order_by=[F("fired_at").desc(), F("id").desc()]))
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i in ranked.filter(rank__lte=limit).select_related("rule").order_by("rule_id", "rank"):
        out[i.rule_id].append(_incident_row(i))
    return out


def alerts_overview(since: dt.datetime, *, evaluations: bool = True) -> list[dict[str, Any]]:
    """Every rule with its judged hours since ``since`` (the Alerts page; ``evaluations=False``: none, for
    the API), its 20 latest incidents and whether one is open. Three queries whatever the number of rules."""
    rules = list(AlertRule.objects.all())
    judged = _evaluations_by_rule([r.pk for r in rules], since) if evaluations else {}
    incidents = _incidents_by_rule(20)
    out = []
    for rule in rules:
        hours = judged.get(rule.pk, [])
        last = next((e for e in reversed(hours) if e.actual is not None), None)
        recent = incidents.get(rule.pk, [])
        out.append({"rule": rule, "metric_label": METRICS[rule.metric].label, "evaluations": hours,
                    "incidents": recent, "open": bool(recent) and recent[0]["open"],
                    "last_value": format_value(rule.metric, last.actual) if last else None,
                    "last_hour": last.hour if last else None})
    return out
