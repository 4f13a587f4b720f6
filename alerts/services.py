"""Writes for alerts: judging every enabled rule's new complete hours, opening and ending incidents and
queuing their deliveries (docs/alerts-and-reports.md#alert-rules).

Idempotent: each rule remembers the last hour it judged (``evaluated_through``) and the rules are locked
while they are judged, so two runs (two beat processes, a retried task) judge an hour once and fire an incident
once; the ``(rule, started_hour)`` and one-open-incident constraints hold it in the database too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts import selectors
from alerts.baseline import history_hours
from alerts.evaluation import HourVerdict, RuleSpec, RuleState, advance, judge
from alerts.metrics import METRICS, format_value
from alerts.models import AlertRule, Delivery, Evaluation, Incident
from events.broadcast import dashboard_send
from insights.filters import store_tz

HOUR = dt.timedelta(hours=1)
FIRST_LOOKBACK_HOURS = 24  # a new rule judges the last day first
MAX_CATCH_UP_HOURS = 48  # after a long stop, older hours are skipped


def rule_spec(rule: AlertRule) -> RuleSpec:
    quiet = None if rule.quiet_start is None or rule.quiet_end is None else (rule.quiet_start, rule.quiet_end)
    return RuleSpec(metric=rule.metric, direction=rule.direction, sensitivity=rule.sensitivity,
                    min_volume=rule.min_volume, k=rule.consecutive_hours, quiet=quiet,
                    weeks=settings.ALERTS_HISTORY_WEEKS)


def hours_to_judge(rule: AlertRule, through: dt.datetime | None) -> list[dt.datetime]:
    if through is None:
        return []
    start = rule.evaluated_through + HOUR if rule.evaluated_through else through - (FIRST_LOOKBACK_HOURS - 1) * HOUR
    start = max(start, through - (MAX_CATCH_UP_HOURS - 1) * HOUR)
    n = int((through - start) / HOUR) + 1
    return [start + i * HOUR for i in range(max(n, 0))]


def alerts_evaluate(now: dt.datetime | None = None) -> dict[str, int]:
    """Judge every enabled rule's complete hours not judged yet, in one transaction holding the rules'
    rows. Returns counts of what happened; the deliveries it queued are sent by the caller
    (``deliveries_to_send``)."""
    now = now or timezone.now()
    totals = {"rules": 0, "hours": 0, "fired": 0, "ended": 0}
    with transaction.atomic():
        rules = list(AlertRule.objects.select_for_update().filter(enabled=True).order_by("pk"))
        totals["rules"] = len(rules)
        readiness = selectors.alert_readiness(now)
        plans = {r.pk: hours_to_judge(r, selectors.ready_through(r, readiness)) for r in rules}
        needed: dict[tuple[str, str], set[dt.datetime]] = defaultdict(set)
        for r in rules:
            for h in plans[r.pk]:
                needed[(r.metric, r.channel)].update([h, *history_hours(h, settings.ALERTS_HISTORY_WEEKS)])
        if not needed:
            return totals
        series = selectors.alert_series(needed)
        open_incidents = {i.rule_id: i for i in Incident.objects.filter(rule__in=rules, ended_at__isnull=True)}
        evaluations: list[Evaluation] = []
        judged = [r for r in rules if plans[r.pk]]
        for r in judged:
            counts = _rule_judge(r, plans[r.pk], series[(r.metric, r.channel)], open_incidents.get(r.pk),
                                 now, evaluations)
            for k, v in counts.items():
                totals[k] += v
        Evaluation.objects.bulk_create(evaluations, ignore_conflicts=True)
        _states_save(judged)
    return totals


def _states_save(rules: list[AlertRule]) -> None:
    """One UPDATE per distinct state (rules mostly move on together): cheaper than a CASE per row."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for r in rules:
        groups[(r.evaluated_through, r.streak, r.streak_start)].append(r.pk)
    for (through, streak, streak_start), pks in groups.items():
        AlertRule.objects.filter(pk__in=pks).update(evaluated_through=through, streak=streak, streak_start=streak_start)


def _rule_judge(rule: AlertRule, hours: list[dt.datetime], series: dict, open_incident: Incident | None,
                now: dt.datetime, evaluations: list[Evaluation]) -> dict[str, int]:
    """Judge ``hours`` for one rule (its row locked by the caller): its verdicts go to ``evaluations``,
    its incidents open and end here, and its state moves on."""
    spec, tz = rule_spec(rule), store_tz()
    state = RuleState(rule.streak, rule.streak_start, open_incident is not None)
    outcome = advance(spec, state, [judge(spec, h, series, h.astimezone(tz).hour) for h in hours])
    evaluations.extend(Evaluation(rule=rule, hour=v.hour, status=v.status, actual=v.actual, expected=v.expected,
                                  low=v.low, high=v.high, volume=v.volume) for v in outcome.verdicts)
    counts = {"hours": len(hours), "fired": 0, "ended": 0}
    for kind, hour, verdict in outcome.transitions:
        if kind == "fired":
            open_incident = _incident_open(rule, hour, verdict, now)
        elif open_incident is not None:
            _incident_end(open_incident, hour, verdict, now)
            open_incident = None
        counts[kind] += 1
    rule.evaluated_through, rule.streak, rule.streak_start = hours[-1], state.streak, state.streak_start
    return counts


def _summary(rule: AlertRule, start: dt.datetime, v: HourVerdict) -> str:
    label, tz = METRICS[rule.metric].label, store_tz()
    where = f" ({rule.channel})" if rule.channel else ""
    side = "above" if v.actual is not None and v.high is not None and v.actual > v.high else "below"
    return (f"{rule.name}: {label}{where} {side} its expected band since {start.astimezone(tz):%Y-%m-%d %H:00 %Z}: "
            f"{format_value(rule.metric, v.actual)} at {v.hour.astimezone(tz):%H:00}, expected "
            f"{format_value(rule.metric, v.expected)} ({format_value(rule.metric, v.low)}–"
            f"{format_value(rule.metric, v.high)}).")


def _incident_open(rule: AlertRule, start: dt.datetime, v: HourVerdict, now: dt.datetime) -> Incident:
    incident = Incident.objects.create(rule=rule, started_hour=start, fired_at=now, summary=_summary(rule, start, v))
    _deliveries_queue(incident, "fired", v)
    return incident


def _incident_end(incident: Incident, hour: dt.datetime, v: HourVerdict, now: dt.datetime) -> None:
    incident.ended_hour, incident.ended_at = hour, now
    incident.save(update_fields=["ended_hour", "ended_at"])
    _deliveries_queue(incident, "ended", v)


def alert_payload(incident: Incident, event: str, v: HourVerdict) -> dict[str, Any]:
    rule = incident.rule
    return {
        "event": f"alert.{event}",
        "rule": {"id": rule.pk, "name": rule.name, "metric": rule.metric, "channel": rule.channel or None,
                 "direction": rule.direction, "sensitivity": rule.sensitivity,
                 "consecutive_hours": rule.consecutive_hours},
        "incident": {"id": incident.pk, "started_hour": incident.started_hour.isoformat(),
                     "fired_at": incident.fired_at.isoformat(),
                     "ended_hour": incident.ended_hour.isoformat() if incident.ended_hour else None,
                     "ended_at": incident.ended_at.isoformat() if incident.ended_at else None,
                     "summary": incident.summary},
        "hour": {"hour": v.hour.isoformat(), "actual": v.actual, "expected": v.expected, "low": v.low,
                 "high": v.high, "volume": v.volume},
        "url": f"{settings.ALERTS_SITE_URL.rstrip('/')}/alerts/#rule-{rule.pk}",
    }


def _deliveries_queue(incident: Incident, event: str, v: HourVerdict) -> None:
    payload = alert_payload(incident, event, v)
    for d in incident.rule.destinations.filter(enabled=True):
        Delivery.objects.create(incident=incident, destination=d, event=event, payload=payload)
    # open dashboards re-read their notices (the banner)
    transaction.on_commit(lambda: dashboard_send({"type": "dashboard.events", "accepted": 0, "events": []}))


def deliveries_to_send() -> list[int]:
    """Deliveries never attempted: those of this run, and any whose task was lost (a worker stopped
    between the commit and the send). Sending one twice is harmless: an attempt runs only once
    (``alerts.delivery.alert_deliver``)."""
    return list(Delivery.objects.filter(status=Delivery.Status.PENDING, attempts=0).values_list("pk", flat=True))


def alert_rules_create_defaults() -> tuple[list[str], list[str]]:
    """One rule per metric over all traffic with the defaults (both sides, medium, K = 2, minimum volume
    20), named after the metric; rules that already exist by that name are left as they are.
    Returns (created, kept) names."""
    created: list[str] = []
    kept: list[str] = []
    for metric in METRICS.values():
        _rule, made = AlertRule.objects.get_or_create(name=metric.label, defaults={"metric": metric.key})
        (created if made else kept).append(metric.label)
    return created, kept
