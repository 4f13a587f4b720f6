"""Webhooks never reach the product's own network by default: the URL check in admin and again at every
delivery, against DNS rebinding (alerts.targets, docs/alerts-and-reports.md#where-a-webhook-may-go)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket

import pytest

from accounts.roles import Role
from alerts.models import AlertRule, Delivery, Destination, Incident
from alerts.targets import TargetRefused, refusal, webhook_target
from alerts.tasks import deliver_alert_task
from tests.alerts.receiver import receiver

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.9", "private"),
    ("192.168.1.1", "private"), ("fd12::1", "private"), ("169.254.10.1", "link-local"), ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"),
    ("100.64.0.1", "not a public"), ("::ffff:127.0.0.1", "loopback"), ("224.0.0.1", "multicast"),
    ("0.0.0.0", "private"),
])
def test_internal_addresses_are_refused(address, why):
    assert why in (refusal(ipaddress.ip_address(address), allow_private=False) or "")


def test_public_addresses_pass_and_the_setting_allows_private_but_never_metadata():
    assert refusal(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None
    assert refusal(ipaddress.ip_address("2606:4700::1111"), allow_private=False) is None
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_private=True) is None
    assert refusal(ipaddress.ip_address("10.0.0.5"), allow_private=True) is None
    assert refusal(ipaddress.ip_address("169.254.169.254"), allow_private=True) == "a cloud metadata address"


def test_a_name_is_judged_by_every_address_it_resolves_to():
    with pytest.raises(TargetRefused, match="localhost resolves to .*loopback"):
        webhook_target("http://localhost:8000/hook", allow_private=False)
    with pytest.raises(TargetRefused, match="http:// or https://"):
        webhook_target("ftp://93.184.216.34/x", allow_private=False)
    target = webhook_target("https://93.184.216.34/hook", allow_private=False)
    assert (target.host, target.port, target.address) == ("93.184.216.34", 443, "93.184.216.34")


@pytest.mark.django_db
def test_admin_shows_why_a_webhook_url_is_refused(client_for, settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    admin = client_for(Role.ADMIN)
    form = {"name": "internal", "kind": "webhook", "secret": "s" * 64, "emails": "", "enabled": "on"}
    for url, reason in [("http://127.0.0.1:6379/", "a loopback address"),
                        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
                        ("http://10.0.0.7/hook", "a private address")]:
        page = admin.post("/admin/alerts/destination/add/", {**form, "url": url})
        assert page.status_code == 200 and reason in page.content.decode(), url
    assert not Destination.objects.exists()
    page = admin.post("/admin/alerts/destination/add/", {**form, "url": "", "name": "empty"})
    assert "A webhook destination needs a URL." in page.content.decode()
    page = admin.post("/admin/alerts/destination/add/", {**form, "url": "https://93.184.216.34/hook"})
    assert page.status_code == 302 and Destination.objects.filter(name="internal").exists()


def _delivery(url: str) -> Delivery:
    rule = AlertRule.objects.create(name="r", metric="events")
    destination = Destination.objects.create(name="hook", kind="webhook", url=url)
    incident = Incident.objects.create(rule=rule, started_hour=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
                                       fired_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC), summary="test")
    return Delivery.objects.create(incident=incident, destination=destination, event="fired",
                                   payload={"event": "alert.fired"})


@pytest.mark.django_db
def test_a_name_that_rebinds_to_an_internal_address_is_refused_at_delivery(settings, monkeypatch):
    # saved while it resolved to a public address; now the name answers with the loopback address where
    # a service listens: nothing is sent, the attempt says why
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 1
    with receiver() as rec:
        port = int(rec.url.rsplit(":", 1)[1].split("/")[0])
        monkeypatch.setattr("alerts.targets.socket.getaddrinfo", lambda host, *a, **kw: REAL_GETADDRINFO(
            "127.0.0.1" if host == "hooks.example.test" else host, *a, **kw))
        d = _delivery(f"http://hooks.example.test:{port}/hook")
        deliver_alert_task.apply(args=(d.pk, 0))
    d.refresh_from_db()
    assert rec.requests == [] and d.status == "failed"
    assert d.attempt_log.get().error.startswith("refused: hooks.example.test resolves to 127.0.0.1, a loopback")


@pytest.mark.django_db
def test_the_delivery_connects_to_the_address_it_checked(settings, monkeypatch):
    # allowed private targets: the name resolves once, to the receiver's address, and the request goes
    # there with the name in its Host header (a second lookup would fail: the name does not exist)
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    lookups = []

    def resolve_once(host, *args, **kwargs):
        if host != "hooks.example.test":
            return REAL_GETADDRINFO(host, *args, **kwargs)
        lookups.append(host)
        if len(lookups) > 1:
            raise socket.gaierror("no such name")
        return REAL_GETADDRINFO("127.0.0.1", *args, **kwargs)

    with receiver() as rec:
        port = int(rec.url.rsplit(":", 1)[1].split("/")[0])
        monkeypatch.setattr("alerts.targets.socket.getaddrinfo", resolve_once)
        d = _delivery(f"http://hooks.example.test:{port}/hook")
        deliver_alert_task.apply(args=(d.pk, 0))
    d.refresh_from_db()
    assert d.status == "delivered" and lookups == ["hooks.example.test"]
    assert rec.requests[0][0]["host"] == f"hooks.example.test:{port}"


@pytest.mark.django_db
def test_redirects_are_not_followed(settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 1
    with receiver([302]) as rec:
        d = _delivery(rec.url)
        deliver_alert_task.apply(args=(d.pk, 0))
    d.refresh_from_db()
    assert len(rec.requests) == 1 and d.status == "failed" and d.attempt_log.get().status_code == 302
