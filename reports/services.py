"""Writes of reports: sending each due subscription's e-mail with its PDF, once per period
(docs/alerts-and-reports.md#subscriptions).

The claim is a ``ReportSend`` row, unique per (subscription, period), inserted before anything is sent:
a second beat process, or the same task run twice, fails to insert it and sends nothing. A claim whose
sender died before ``sent_at`` was written (a worker restarted mid-send) is taken over once its lease
(``REPORTS_CLAIM_LEASE_MINUTES``) has passed, by exactly one process (a compare-and-set on
``claimed_at``); so a message is lost only never, and sent twice only if the worker died after the SMTP
server accepted it and before the row was updated.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone

from accounts.models import User
from insights.filters import MetricFilter
from reports.models import ReportSend, ReportSubscription
from reports.pages import PAGES, report_page
from reports.periods import due_period
from reports.render import report_pdf


def _claim(sub: ReportSubscription, period_start: dt.date, now: dt.datetime) -> ReportSend | None:
    try:
        with transaction.atomic():
            return ReportSend.objects.create(subscription=sub, period_start=period_start, claimed_at=now)
    except IntegrityError:
        pass
    stale = now - dt.timedelta(minutes=settings.REPORTS_CLAIM_LEASE_MINUTES)
    send = ReportSend.objects.filter(subscription=sub, period_start=period_start, sent_at__isnull=True,
                                     claimed_at__lt=stale).first()
    if send is None:
        return None
    taken = ReportSend.objects.filter(pk=send.pk, claimed_at=send.claimed_at, sent_at__isnull=True).update(
        claimed_at=now, attempts=send.attempts + 1)
    return send if taken else None


def subscription_filter(sub: ReportSubscription, first: dt.date, last: dt.date) -> MetricFilter:
    params = QueryDict(sub.filters, mutable=True)
    params.setlist("start", [first.isoformat()])
    params.setlist("end", [last.isoformat()])
    return MetricFilter.from_query(params)


def subscription_send(sub: ReportSubscription, first: dt.date, last: dt.date) -> None:
    """Render the page's PDF for the period and e-mail it (no claim: callers claim first)."""
    f = subscription_filter(sub, first, last)
    page = report_page(sub.page, f, {"start": first.isoformat()})
    period = first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
    link = f"{settings.ALERTS_SITE_URL.rstrip('/')}/{'' if sub.page == 'overview' else sub.page + '/'}?" + \
        urlencode({"start": first.isoformat(), "end": last.isoformat()})
    message = EmailMessage(f"{page.title} report, {period}", f"The {page.title.lower()} report for {period} is "
                           f"attached.\n\nOpen the page: {link}\n", settings.DEFAULT_FROM_EMAIL,
                           [sub.email or sub.user.email])
    message.attach(f"{sub.page}-{first.isoformat()}.pdf", report_pdf(page, f), "application/pdf")
    message.send()


def reports_send_due(now: dt.datetime | None = None) -> int:
    """Send every enabled subscription whose period is due and not yet sent. Returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for sub in ReportSubscription.objects.filter(enabled=True).select_related("user"):
        period = due_period(sub.frequency, sub.time_zone, sub.send_hour, now)
        if period is None or not (sub.email or sub.user.email):
            continue
        claim = _claim(sub, period[0], now)
        if claim is None:
            continue
        try:
            subscription_send(sub, *period)
        except Exception as exc:  # noqa: BLE001 - kept on the claim; retried after the lease
            ReportSend.objects.filter(pk=claim.pk).update(error=str(exc)[:1000])
            continue
        ReportSend.objects.filter(pk=claim.pk).update(sent_at=timezone.now(), error="")
        sent += 1
    return sent


# The dashboard's Subscribe control and the My reports page (docs/alerts-and-reports.md#subscriptions).

DATE_KEYS = ("start", "end")


class SubscriptionError(ValueError):
    """What is wrong with a subscription request, in words for the user."""


def subscription_filters(query: str) -> str:
    """The page's filters without its dates (each e-mail covers its own period); raises
    ``SubscriptionError`` for filters the pages would not accept."""
    try:
        f = MetricFilter.from_query(QueryDict(query))
    except ValueError as exc:
        raise SubscriptionError(f"These filters cannot be subscribed to: {exc}") from exc
    return urlencode([(k, v) for k, v in parse_qsl(f.to_query()) if k not in DATE_KEYS])


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return settings.STORE_TIME_ZONE
    return name


def report_subscribe(user: User, *, page: str, query: str, frequency: str, time_zone: str) -> tuple[
        ReportSubscription, bool]:
    """Subscribe ``user`` to ``page`` with the filters of ``query``, ``frequency`` daily or weekly, in
    ``time_zone`` (the browser's; an unknown one: STORE_TIME_ZONE). The same page, filters and frequency
    again keep one subscription (enabled, with this time zone). Returns (subscription, created)."""
    if page not in PAGES:
        raise SubscriptionError(f"There is no report of the page {page!r}.")
    if frequency not in ReportSubscription.Frequency.values:
        raise SubscriptionError("A report is sent daily or weekly.")
    sub, created = ReportSubscription.objects.update_or_create(
        user=user, page=page, filters=subscription_filters(query), frequency=frequency,
        defaults={"time_zone": _time_zone(time_zone), "enabled": True})
    return sub, created


def report_unsubscribe(user: User, pk: int) -> bool:
    """Cancel one of ``user``'s own subscriptions; False when there is no such one of theirs."""
    deleted, _ = ReportSubscription.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)
