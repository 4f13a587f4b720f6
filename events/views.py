"""HTTP ingest (DESIGN §3): the native batch API and the Segment-compatible Tracking API.

Key-authenticated machine endpoints: CSRF does not apply to them (and only to them).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events.models import IngestKey
from events.services import events_ingest, events_ingest_segment, ingest_key_authenticate


class BodyError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error(status: int, reason: str) -> JsonResponse:
    response = JsonResponse({"error": reason}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ingest", Basic realm="ingest"'
    return response


def _read_json(request: HttpRequest, limit: int) -> Any:
    """The JSON body (gzip allowed), at most ``limit`` bytes once decompressed."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    gzipped = request.headers.get("Content-Encoding", "").lower() == "gzip"
    if declared > limit and not gzipped:
        raise BodyError(413, f"body larger than {limit} bytes")
    raw = request.read(limit + 1) if not gzipped else request.read()
    if gzipped:
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BodyError(400, f"body is not valid gzip: {exc}") from exc
    if len(raw) > limit:
        raise BodyError(413, f"body larger than {limit} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(400, f"body is not JSON: {exc}") from exc


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
    if ingest_key_authenticate(secret=_bearer(request)) is None:
        return _error(401, "a valid ingest key is required (Authorization: Bearer <key>)")
    try:
        body = _read_json(request, settings.INGEST_MAX_MESSAGE_BYTES)
    except BodyError as exc:
        return _error(exc.status, exc.reason)
    if type(body) is not dict:
        return _error(400, 'body must be a JSON object: one event or {"events": [...]}')
    events = body["events"] if "events" in body else [body]
    if type(events) is not list:
        return _error(400, '"events" must be a list')
    if len(events) > settings.INGEST_MAX_BATCH_EVENTS:
        return _error(413, f"batch of {len(events)} events; at most {settings.INGEST_MAX_BATCH_EVENTS}")
    return JsonResponse(events_ingest(raw_events=events, source="http").as_ack())


def _segment_key(request: HttpRequest, body: Any) -> IngestKey | None:
    secret = _basic_user(request)
    if secret is None and type(body) is dict and isinstance(body.get("writeKey"), str):
        secret = body["writeKey"]
    return ingest_key_authenticate(secret=secret)


def _segment_ingest(messages: list[Any]) -> JsonResponse:
    limit = settings.SEGMENT_MAX_EVENT_BYTES
    for index, message in enumerate(messages):
        if len(json.dumps(message, separators=(",", ":"))) > limit:
            return _error(413, f"message {index} is larger than {limit} bytes")
    return JsonResponse(events_ingest_segment(messages=messages).as_ack())


@csrf_exempt
@require_POST
def segment_batch(request: HttpRequest) -> JsonResponse:
    """POST /v1/batch (Segment HTTP Tracking API)."""
    try:
        body = _read_json(request, settings.SEGMENT_MAX_BATCH_BYTES)
    except BodyError as exc:
        return _error(exc.status, exc.reason)
    if _segment_key(request, body) is None:
        return _error(401, "a valid write key is required (HTTP Basic '<key>:' or writeKey)")
    if type(body) is not dict or type(body.get("batch")) is not list:
        return _error(400, 'body must be {"batch": [...]}')
    return _segment_ingest(body["batch"])


@csrf_exempt
@require_POST
def segment_track(request: HttpRequest) -> JsonResponse:
    """POST /v1/track: one track call."""
    try:
        body = _read_json(request, settings.SEGMENT_MAX_EVENT_BYTES)
    except BodyError as exc:
        return _error(exc.status, exc.reason)
    if _segment_key(request, body) is None:
        return _error(401, "a valid write key is required (HTTP Basic '<key>:' or writeKey)")
    if type(body) is not dict:
        return _error(400, "body must be a JSON object")
    return _segment_ingest([{"type": "track", **body}])
