"""HTTP ingest (DESIGN §3): the native batch API and the Segment-compatible Tracking API.

Key-authenticated machine endpoints: CSRF does not apply to them (and only to them). A body that
cannot be read at all is a 400 (or 413) with a reason; anything wrong inside one event is that
event's rejection in a 200 ack. A key over its rate limit gets 429 with Retry-After; a transient
database failure 503 with Retry-After (nothing stored, resend).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import wire
from events.models import IngestKey
from events.ratelimit import ingest_rate_limit, retry_after_header
from events.services import IngestUnavailable, events_ingest, events_ingest_segment, ingest_key_authenticate


class BodyError(Exception):
    def __init__(self, status: int, reason: str, code: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


_CODES = {401: "unauthorized", 413: "too_large", 400: "bad_request"}


def _error(status: int, reason: str, code: str | None = None, retry_after: float | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": reason, "code": code or _CODES.get(status, "error")}
    if retry_after is not None:
        body["retry_after"] = round(retry_after, 3)
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ingest", Basic realm="ingest"'
    if retry_after is not None:
        response["Retry-After"] = retry_after_header(retry_after)
    return response


def _rate_limited(key: IngestKey, events: int) -> JsonResponse | None:
    """429 when the key is over its events-a-second limit (nothing of the request is stored)."""
    limit = ingest_rate_limit()
    if limit is None or not events:
        return None
    wait = limit.take(key.secret_hash[:16], events)
    if not wait:
        return None
    return _error(429, f"rate limit of {limit.rate:,.0f} events a second for this key exceeded; "
                       f"nothing was stored: retry after {wait:.2f} s", "rate_limited", retry_after=wait)


def _unavailable() -> JsonResponse:
    return _error(503, "events not stored: the database is unavailable; resend them", "unavailable",
                  retry_after=1)


def _read_json(request: HttpRequest, limit: int) -> Any:
    """The JSON body (gzip allowed), at most ``limit`` bytes once decompressed."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    gzipped = request.headers.get("Content-Encoding", "").lower() == "gzip"
    if declared > limit and not gzipped:
        raise BodyError(413, f"body larger than {limit} bytes", "too_large")
    raw = request.read(limit + 1) if not gzipped else request.read()
    if gzipped:
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BodyError(400, f"body is not valid gzip: {exc}", "bad_gzip") from exc
    if len(raw) > limit:
        raise BodyError(413, f"body larger than {limit} bytes", "too_large")
    try:
        return wire.loads(raw)
    except wire.MessageError as exc:
        raise BodyError(400, f"body is not JSON: {exc.reason}", exc.code) from exc


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


def _basic_user(request: HttpRequest) -> str | None:
    """Segment's write key: the user name of HTTP Basic auth (``key:``)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


@csrf_exempt
@require_POST
def events_api(request: HttpRequest) -> JsonResponse:
    """POST /api/v1/events: one native event or ``{"events": [...]}``; key by Bearer."""
    key = ingest_key_authenticate(secret=_bearer(request))
    if key is None:
        return _error(401, "a valid ingest key is required (Authorization: Bearer <key>)")
    try:
        body = _read_json(request, settings.INGEST_MAX_MESSAGE_BYTES)
    except BodyError as exc:
        return _error(exc.status, exc.reason, exc.code)
    if type(body) is not dict:
        return _error(400, 'body must be a JSON object: one event or {"events": [...]}', "bad_envelope")
    events = body["events"] if "events" in body else [body]
    if type(events) is not list:
        return _error(400, '"events" must be a list', "bad_envelope")
    if len(events) > settings.INGEST_MAX_BATCH_EVENTS:
        return _error(413, f"batch of {len(events)} events; at most {settings.INGEST_MAX_BATCH_EVENTS}",
                      "too_many_events")
    limited = _rate_limited(key, len(events))
    if limited is not None:
        return limited
    try:
        return JsonResponse(events_ingest(raw_events=events, source="http").as_ack())
    except IngestUnavailable:
        return _unavailable()


def _segment_key(request: HttpRequest, body: Any) -> IngestKey | None:
    secret = _basic_user(request)
    if secret is None and type(body) is dict and type(body.get("writeKey")) is str:
        secret = body["writeKey"]
    return ingest_key_authenticate(secret=secret)


def _segment_ingest(key: IngestKey, messages: list[Any]) -> JsonResponse:
    """Each message larger than SEGMENT_MAX_EVENT_BYTES is rejected alone (its neighbours are
    stored)."""
    limited = _rate_limited(key, len(messages))
    if limited is not None:
        return limited
    try:
        result = events_ingest_segment(messages=messages, max_message_bytes=settings.SEGMENT_MAX_EVENT_BYTES)
    except IngestUnavailable:
        return _unavailable()
    return JsonResponse(result.as_ack())


@csrf_exempt
@require_POST
def segment_batch(request: HttpRequest) -> JsonResponse:
    """POST /v1/batch (Segment HTTP Tracking API)."""
    try:
        body = _read_json(request, settings.SEGMENT_MAX_BATCH_BYTES)
    except BodyError as exc:
        return _error(exc.status, exc.reason, exc.code)
    key = _segment_key(request, body)
    if key is None:
        return _error(401, "a valid write key is required (HTTP Basic '<key>:' or writeKey)")
    if type(body) is not dict or type(body.get("batch")) is not list:
        return _error(400, 'body must be {"batch": [...]}', "bad_envelope")
    if len(body["batch"]) > settings.INGEST_MAX_BATCH_EVENTS:  # 500 KB of tiny items: a reply 30× larger
        return _error(413, f"batch of {len(body['batch'])} messages; at most {settings.INGEST_MAX_BATCH_EVENTS}",
                      "too_many_events")
    return _segment_ingest(key, body["batch"])


@csrf_exempt
@require_POST
def segment_track(request: HttpRequest) -> JsonResponse:
    """POST /v1/track: one track call."""
    try:
        body = _read_json(request, settings.SEGMENT_MAX_EVENT_BYTES)
    except BodyError as exc:
        return _error(exc.status, exc.reason, exc.code)
    key = _segment_key(request, body)
    if key is None:
        return _error(401, "a valid write key is required (HTTP Basic '<key>:' or writeKey)")
    if type(body) is not dict:
        return _error(400, "body must be a JSON object", "bad_envelope")
    return _segment_ingest(key, [{"type": "track", **body}])
