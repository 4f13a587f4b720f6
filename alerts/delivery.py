"""Sending one delivery: a signed webhook POST or an e-mail, each attempt and its answer logged
(docs/alerts-and-reports.md#webhooks). The task retries with backoff (``alerts.tasks``).

Signature: ``X-Alert-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from alerts.models import Delivery, DeliveryAttempt, Destination
from alerts.targets import TargetRefused, pinned_opener, webhook_target

logger = logging.getLogger(__name__)
ANSWER_CHARS = 500


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def backoff_seconds(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: the base doubled per failed attempt, at most an hour."""
    return int(min(settings.ALERTS_RETRY_BASE_SECONDS * 2 ** (attempt - 1), 3600))


def _webhook(d: Delivery) -> tuple[int | None, str, str]:
    try:  # resolved again now and the checked address used (alerts.targets: no DNS rebinding)
        target = webhook_target(d.destination.url, allow_private=settings.ALERTS_WEBHOOK_ALLOW_PRIVATE)
    except TargetRefused as exc:
        return None, "", f"refused: {exc}"[:ANSWER_CHARS]
    body = json.dumps({**d.payload, "delivery_id": d.pk}, separators=(",", ":")).encode()
    request = urllib.request.Request(d.destination.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "customer-analytics-alerts",
        "X-Alert-Delivery": str(d.pk),
        "X-Alert-Signature": signature_header(d.destination.secret, int(time.time()), body)})
    try:
        with pinned_opener(target).open(request, timeout=settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS) as answer:
            return answer.status, answer.read(ANSWER_CHARS).decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(ANSWER_CHARS).decode("utf-8", "replace"), ""
    except (urllib.error.URLError, OSError) as exc:
        return None, "", str(exc)[:ANSWER_CHARS]


def _email(d: Delivery) -> tuple[int | None, str, str]:
    incident = d.payload["incident"]
    subject = f"[Alert {'ended' if d.event == 'ended' else 'fired'}] {d.payload['rule']['name']}"
    body = f"{incident['summary']}\n\n{d.payload['url']}\n"
    try:
        sent = send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, d.destination.recipients())
    except Exception as exc:  # noqa: BLE001 - any mail failure is retried and logged
        return None, "", str(exc)[:ANSWER_CHARS]
    return 250, f"sent to {sent} recipient list", ""


def alert_deliver(delivery_pk: int, attempt: int) -> int | None:
    """Attempt ``attempt + 1`` of a delivery, unless it is done or that attempt was made (a duplicate
    task). None when there is nothing more to do; else the seconds to wait before the next attempt.
    The row is locked while it is sent, so two workers never send one attempt twice."""
    with transaction.atomic():
        d = Delivery.objects.select_for_update().select_related("destination").get(pk=delivery_pk)
        if d.status != Delivery.Status.PENDING or d.attempts != attempt:
            return None
        return _attempt(d)


def _attempt(d: Delivery) -> int | None:
    send = _webhook if d.destination.kind == Destination.Kind.WEBHOOK else _email
    code, answer, error = send(d)
    ok = code is not None and 200 <= code < 300
    d.attempts += 1
    retry = None if ok or d.attempts >= settings.ALERTS_DELIVERY_MAX_ATTEMPTS else backoff_seconds(d.attempts)
    DeliveryAttempt.objects.create(delivery=d, status_code=code, response=answer, error=error, retry_in_seconds=retry)
    if ok:
        d.status, d.delivered_at = Delivery.Status.DELIVERED, timezone.now()
    elif retry is None:
        d.status = Delivery.Status.FAILED
    d.save(update_fields=["attempts", "status", "delivered_at"])
    logger.info("alert delivery %s to %s: attempt %s answered %s%s", d.pk, d.destination.name, d.attempts,
                code, f" ({error})" if error else "")
    return retry
