"""Webhook endpoints of store connections (docs/connections.md): ``POST /webhooks/shopify/<slug>/``
and ``POST /webhooks/woocommerce/<slug>/``.

Machine endpoints authenticated by the body's HMAC: no session, no CSRF. An unknown or inactive
connection and a missing or wrong signature are the same 401 (nothing read further, nothing
stored); the log says which, and what to check (never the secret or the signature). The body is
read up to ``WEBHOOK_MAX_BODY_BYTES`` and may hold up to ``WEBHOOK_MAX_LINES`` lines (413 beyond).
Accepted deliveries are answered 200 with what was stored, "ignored" for a topic we do not use (a
4xx would make the platform retry and then disable the webhook) and "waiting" for a currency
without an exchange rate (kept, stored once rates arrive); a payload that cannot be stored as sent
(a negative price, a malformed id or list) is 400 with the reasons and stores nothing; a transient
database failure is 503 (the platform retries). The work before the reply is the ingest
service's bulk path, nothing slower.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import wire
from events.connections.models import Platform, StoreConnection
from events.connections.services import (
    DeliveryRefused,
    SignatureCheck,
    connection_signature_check,
    webhook_receive,
)
from events.persistence import IngestUnavailable

logger = logging.getLogger(__name__)

_UNAUTHORIZED = "unknown connection, or a missing or invalid signature: nothing was stored"


def _error(status: int, reason: str, code: str, **extra: object) -> JsonResponse:
    response = JsonResponse({"error": reason, "code": code, **extra}, status=status)
    if status == 503:
        response["Retry-After"] = "5"
    return response


def _body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is larger than the limit."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    raw = request.read(limit + 1)
    return None if len(raw) > limit else raw


def _connection(platform: str, slug: str) -> StoreConnection | None:
    return StoreConnection.objects.filter(platform=platform, slug=slug, is_active=True).first()


def _receive(slug: str, connection: StoreConnection | None, body: bytes | None, *, signature: str | None,
             topic: str, delivery_id: str) -> JsonResponse:
    if body is None:
        return _error(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes", "too_large")
    if connection is None:
        logger.warning("webhook refused (401): no active connection %r on this platform's webhook URL", slug[:60])
        return _error(401, _UNAUTHORIZED, "unauthorized")
    check = connection_signature_check(connection=connection, body=body, signature=signature)
    if check is not SignatureCheck.VALID:
        logger.warning("webhook refused (401) for connection %r: %s", connection.slug, check.value)
        return _error(401, _UNAUTHORIZED, "unauthorized")
    try:
        payload = wire.loads(body)
    except wire.MessageError as exc:
        return _error(400, f"body is not JSON: {exc.reason}", exc.code)
    try:
        outcome = webhook_receive(connection=connection, topic=topic, delivery_id=delivery_id, payload=payload)
    except (IngestUnavailable, OperationalError):  # transient (a lock timeout, a lost connection)
        return _error(503, IngestUnavailable.reason, "unavailable")
    except DeliveryRefused as exc:
        logger.warning("webhook %r (delivery %r) from connection %r refused (%d), nothing stored: %r", topic[:60],
                       delivery_id[:100], connection.slug, exc.status, str(exc)[:500])
        return _error(exc.status, f"delivery refused, nothing stored: {exc}"[:2000], exc.code, reasons=exc.reasons)
    return JsonResponse(outcome.as_json())


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, slug: str) -> JsonResponse:
    """Shopify: X-Shopify-Hmac-Sha256, X-Shopify-Topic, X-Shopify-Webhook-Id."""
    connection = _connection(Platform.SHOPIFY, slug)
    return _receive(slug, connection, _body(request), signature=request.headers.get("X-Shopify-Hmac-Sha256"),
                    topic=request.headers.get("X-Shopify-Topic", ""),
                    delivery_id=request.headers.get("X-Shopify-Webhook-Id", ""))


@csrf_exempt
@require_POST
def woocommerce_webhook(request: HttpRequest, slug: str) -> JsonResponse:
    """WooCommerce: X-WC-Webhook-Signature, X-WC-Webhook-Topic, X-WC-Webhook-Delivery-ID; the ping
    it sends when a webhook is saved (form body ``webhook_id=N``, no topic, no signature) is
    answered 200 for an active connection and stores nothing."""
    connection = _connection(Platform.WOOCOMMERCE, slug)
    body = _body(request)
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    if not topic and body is not None and _is_ping(body):
        if connection is None:
            return _error(401, _UNAUTHORIZED, "unauthorized")
        return JsonResponse({"status": "ping", "accepted": 0})
    return _receive(slug, connection, body, signature=request.headers.get("X-WC-Webhook-Signature"),
                    topic=topic, delivery_id=request.headers.get("X-WC-Webhook-Delivery-ID", ""))


def _is_ping(body: bytes) -> bool:
    """``webhook_id=<digits>`` and nothing else."""
    key, _, value = body.strip().partition(b"=")
    return key == b"webhook_id" and value.isdigit() and len(body) < 64
