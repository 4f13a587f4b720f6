"""End to end on seeded rollups: a jump in cart abandonment fires one incident, one signed webhook
delivery reaches a real local HTTP server, and the incident ends when the rate returns; the running hour,
a lagging derivation and missing trailing hours never raise an alert (docs/alerts-and-reports.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.core import mail

from alerts.models import AlertRule, Delivery, DeliveryAttempt, Destination, Evaluation, Incident
from alerts.services import alerts_evaluate
from alerts.tasks import deliver_alert_task, evaluate_alerts_task
from analytics_site.celery import app as celery_app
from insights.models import PendingWindow
from tests.alerts import seed
from tests.alerts.receiver import receiver

pytestmark = pytest.mark.django_db
J, HOUR, STEP = seed.JUMP, seed.HOUR, dt.timedelta(minutes=5)


@pytest.fixture(autouse=True)
def local_receiver_allowed(settings):
    """The test receiver listens on 127.0.0.1, a loopback address webhooks may not reach by default."""
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def clock(monkeypatch):
    """The time every service sees; the tasks run here, eagerly, as a worker would."""
    now = [J]
    monkeypatch.setattr("django.utils.timezone.now", lambda: now[0])
    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)
    return now


def _rule(url: str | None = None, **kw) -> AlertRule:
    rule = AlertRule.objects.create(**{"name": "abandonment up", "metric": "cart_abandonment", "direction": "up",
                                       "consecutive_hours": 2, **kw})
    if url:
        rule.destinations.add(Destination.objects.create(name="hook", kind="webhook", url=url))
    return rule


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, as docs/alerts-and-reports.md#verifying-a-signature shows it."""
    parts = dict(p.split("=", 1) for p in headers["x-alert-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_jump_fires_once_within_two_evaluations_and_ends_when_the_rate_returns(clock):
    seed.write(seed.rows(J + 9 * HOUR))
    with receiver() as rec:
        rule = _rule(rec.url)
        clock[0] = J - HOUR + 10 * 60 * dt.timedelta(seconds=1)
        evaluate_alerts_task()  # judges the day before the jump: all normal
        assert not Incident.objects.exists()
        fired_at = None
        clock[0] = J + 2 * HOUR  # the K-th hour (J + 1h) is complete
        for _ in range(12 * 7):
            evaluate_alerts_task()
            if fired_at is None and Incident.objects.exists():
                fired_at = clock[0]
            clock[0] += STEP
        assert fired_at is not None and fired_at <= J + 2 * HOUR + STEP  # the 2nd evaluation: after the settle
        incident = Incident.objects.get()
        # ends as of the hour the rate returned (J + 5 h) in 82 seeds of 100, a few hours later in the others
        # (tests/alerts/test_backtest.py, docs/benchmarks.md#alerts)
        assert incident.started_hour == J and J + 5 * HOUR <= incident.ended_hour <= J + 7 * HOUR
        events = [json.loads(body)["event"] for _, body in rec.requests]
        assert events == ["alert.fired", "alert.ended"]  # exactly one delivery of each
        secret = rule.destinations.get().secret
        assert all(_verify(secret, headers, body) for headers, body in rec.requests)
        assert not _verify("another secret", *rec.requests[0])
        fired = json.loads(rec.requests[0][1])
        assert fired["rule"]["metric"] == "cart_abandonment" and fired["hour"]["actual"] > fired["hour"]["high"]
    assert Evaluation.objects.filter(rule=rule, status="breach").count() >= 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_two_runs_at_once_judge_each_hour_once(clock):
    seed.write(seed.rows(J + 4 * HOUR))
    rule = _rule()
    clock[0] = J + 3 * HOUR + 10 * STEP
    first, second = alerts_evaluate(clock[0]), alerts_evaluate(clock[0])
    assert first["fired"] == 1 and second == {"rules": 1, "hours": 0, "fired": 0, "ended": 0}
    assert Evaluation.objects.filter(rule=rule).count() == first["hours"] == 24


def test_the_running_hour_is_never_judged(clock):
    rows = seed.rows(J + HOUR)
    rows[-1].update(carts_converted=0, carts_abandoned=40, carts_emptied=0)  # the hour so far: all abandoned
    seed.write(rows)
    rule = _rule(consecutive_hours=1)
    for minutes in (5, 30, 59, 61, 64):  # inside the hour, then inside the settle time after it
        clock[0] = J + dt.timedelta(minutes=minutes)
        alerts_evaluate(clock[0])
    assert not Evaluation.objects.filter(rule=rule, hour__gte=J).exists()
    assert not Incident.objects.exists()


def test_a_lagging_derivation_holds_the_hours_back(clock):
    seed.write(seed.rows(J + 4 * HOUR))
    later = [int((J + 2 * HOUR).timestamp()), int((J + 3 * HOUR).timestamp())]
    first = [int((J + 5 * STEP).timestamp()), int((J + 2 * HOUR).timestamp())]
    window = PendingWindow.objects.create(windows={"2": later, "1": first, "3": later}, events=3)
    PendingWindow.objects.create(windows={"4": later}, events=1, attempts=2)  # set aside, later: not the earliest
    rule = _rule(consecutive_hours=1)
    clock[0] = J + 3 * HOUR + 10 * STEP
    alerts_evaluate(clock[0])
    assert rule.evaluations.order_by("hour").last().hour == J - HOUR
    assert not Incident.objects.exists()
    window.delete()  # derived now; the set-aside window (from J + 2 h) still holds J + 1 h back
    alerts_evaluate(clock[0])
    assert Incident.objects.filter(rule=rule, started_hour=J).exists()
    assert rule.evaluations.order_by("hour").last().hour == J + HOUR


def test_missing_trailing_hours_are_no_data_not_zero(clock):
    rows = seed.rows(J + 4 * HOUR, jump_hours=0)
    seed.write(rows[:-4])
    seed.write(rows[-4:], carts=False, sessions=False)  # events are in; carts and sessions of 4 hours are not
    down = _rule(name="abandonment down", direction="down", consecutive_hours=1)
    orders = _rule(name="orders down", metric="orders", direction="down", consecutive_hours=1)
    clock[0] = J + 4 * HOUR + 2 * STEP
    alerts_evaluate(clock[0])
    for rule in (down, orders):
        statuses = dict(rule.evaluations.filter(hour__gte=J - HOUR).values_list("hour", "status"))
        assert statuses == {J - HOUR: "normal", J: "no_data", J + HOUR: "no_data", J + 2 * HOUR: "no_data"}
    assert not Incident.objects.exists()


def _delivery(url: str) -> Delivery:
    rule = _rule(url)
    incident = Incident.objects.create(rule=rule, started_hour=J, fired_at=J, summary="test")
    return Delivery.objects.create(incident=incident, destination=rule.destinations.get(), event="fired",
                                   payload={"event": "alert.fired", "incident": {"summary": "test"}})


def test_a_failing_receiver_gets_retries_with_backoff(clock, settings):
    with receiver([500, 503, 200]) as rec:
        d = _delivery(rec.url)
        deliver_alert_task.apply(args=(d.pk, 0))
        deliver_alert_task.apply(args=(d.pk, 0))  # a duplicate task: that attempt was made
    d.refresh_from_db()
    assert d.status == "delivered" and d.attempts == 3 and len(rec.requests) == 3
    log = list(DeliveryAttempt.objects.filter(delivery=d).values_list("status_code", "retry_in_seconds", "response"))
    assert log == [(500, 30, "try later"), (503, 60, "try later"), (200, None, "ok")]
    assert {h["x-alert-delivery"] for h, _ in rec.requests} == {str(d.pk)}


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(clock, settings):
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 3
    with receiver([500]) as rec:
        d = _delivery(rec.url)
        deliver_alert_task.apply(args=(d.pk, 0))
    d.refresh_from_db()
    assert d.status == "failed" and len(rec.requests) == 3
    assert list(d.attempt_log.values_list("retry_in_seconds", flat=True)) == [30, 60, None]


def test_an_email_destination_sends_through_django_mail(clock):
    seed.write(seed.rows(J + 4 * HOUR))
    rule = _rule()
    rule.destinations.add(Destination.objects.create(name="ops", kind="email", emails="ops@example.com, b@example.com"))
    clock[0] = J + 3 * HOUR + 10 * STEP
    evaluate_alerts_task()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com", "b@example.com"] and "abandonment up" in mail.outbox[0].subject
