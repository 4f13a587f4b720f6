"""HTTP ingest (docs/sending-events.md): the native batch API and the Segment-compatible Tracking API.

Key-authenticated machine endpoints: CSRF does not apply to them (and only to them). A body that
cannot be read at all is a 400 (or 413) with a reason; anything wrong inside one event is that
event's rejection in a 200 ack. A key over its rate limit gets 429 with Retry-After; a transient
database failure 503 with Retry-After (nothing stored, resend).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from events import browser, wire
from events.browser import error_response as _error
from events.credentials import basic_user, bearer_secret
from events.models import IngestKey
from events.ratelimit import ingest_rate_limit
from events.services import (
    IngestResult,
    IngestUnavailable,
    events_ingest,
    events_ingest_segment,
    ingest_key_authenticate,
    source_of_key,
)


class BodyError(Exception):
    def __init__(self, status: int, reason: str, code: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


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
    return _error(503, IngestUnavailable.reason, "unavailable", retry_after=1)


def ingest_endpoint(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A key-authenticated POST endpoint that browsers may call with a public key: CSRF-exempt,
    ``OPTIONS`` answered as a CORS preflight, any other method 405; a response to an allowed
    public-key origin carries the CORS headers."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        if request.method == "OPTIONS":
            return browser.preflight(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST", "OPTIONS"])
        return view(request)

    return wrapped


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


def _authorization(request: HttpRequest) -> str:
    return request.headers.get("Authorization", "")


@ingest_endpoint
def events_api(request: HttpRequest) -> JsonResponse:
    """POST /api/v1/events: one native event or ``{"events": [...]}``; key by Bearer."""
    key = ingest_key_authenticate(secret=bearer_secret(_authorization(request)))
    if key is None:
        return _error(401, "a valid ingest key is required (Authorization: Bearer <key>)")
    refused = browser.key_refusal(request, key)
    if refused is not None:
        return refused
    try:
        body = _read_json(request, settings.INGEST_MAX_MESSAGE_BYTES)
        events = wire.native_events(body, max_events=_max_events(key))
    except BodyError as exc:
        return _cors(request, key, _error(exc.status, exc.reason, exc.code))
    except wire.EnvelopeError as exc:
        return _cors(request, key, _envelope_error(exc))
    source = source_of_key(key)
    if not key.is_public:
        return _stored(request, key, len(events), lambda: events_ingest(raw_events=events, source=source))
    # A browser's batch: what a public key may not send is refused per event (docs/trust.md).
    screened = wire.native_screen(_with_user_agent(request, events))
    return _stored(request, key, len(events),
                   lambda: screened.answer(events_ingest(raw_events=screened.events, source=source)))


def _max_events(key: IngestKey) -> int:
    """The events one request may carry: a public key's a tracker's batch (PUBLIC_MAX_BATCH_EVENTS)."""
    return settings.PUBLIC_MAX_BATCH_EVENTS if key.is_public else settings.INGEST_MAX_BATCH_EVENTS


def _with_user_agent(request: HttpRequest, events: list[Any]) -> list[Any]:
    """Browser events without a ``context.user_agent`` get the request's (bots are told by it)."""
    agent = request.headers.get("User-Agent", "")[:500]
    if not agent:
        return events
    out = []
    for event in events:
        if type(event) is dict and (event.get("context") is None or type(event["context"]) is dict):
            event = {**event, "context": {"user_agent": agent, **(event.get("context") or {})}}
        out.append(event)
    return out


def _cors(request: HttpRequest, key: IngestKey, response: JsonResponse) -> JsonResponse:
    """A public key's response, readable by the page that sent it (its origin was checked)."""
    origin = browser.request_origin(request)
    if key.is_public and origin is not None:
        browser.cors_headers(response, origin)
    return response


def _stored(request: HttpRequest, key: IngestKey, events: int, store: Callable[[], IngestResult]) -> JsonResponse:
    """The ack of ``store()``, unless the key (or, for a public key, the client address) is over its
    rate limit (429) or the database is unavailable (503): nothing is stored then."""
    limited = browser.public_rate_limited(request, key, events) or _rate_limited(key, events)
    if limited is not None:
        return _cors(request, key, limited)
    try:
        return _cors(request, key, JsonResponse(store().as_ack()))
    except IngestUnavailable:
        return _cors(request, key, _unavailable())


def _envelope_error(exc: wire.EnvelopeError) -> JsonResponse:
    return _error(413 if exc.code == "too_many_events" else 400, exc.reason, exc.code)


def _segment_key(request: HttpRequest, body: Any) -> IngestKey | None:
    secret = basic_user(_authorization(request))
    if secret is None and type(body) is dict and type(body.get("writeKey")) is str:
        secret = body["writeKey"]
    return ingest_key_authenticate(secret=secret)


def _segment(request: HttpRequest, max_bytes: int,
             messages_of: Callable[[Any, IngestKey], list[Any]]) -> JsonResponse:
    """A Segment endpoint: the body (at most ``max_bytes``; browser SDKs send it as ``text/plain``,
    read the same), its key (Basic or writeKey), its messages. Each message larger than
    SEGMENT_MAX_EVENT_BYTES is rejected alone (its neighbours are stored). A public key's request
    carries at most PUBLIC_MAX_BATCH_EVENTS events (413), and what it may not send is refused per
    message (docs/trust.md)."""
    try:
        body = _read_json(request, max_bytes)
    except BodyError as exc:
        return _error(exc.status, exc.reason, exc.code)
    key = _segment_key(request, body)
    if key is None:
        return _error(401, "a valid write key is required (HTTP Basic '<key>:' or writeKey)")
    refused = browser.key_refusal(request, key)
    if refused is not None:
        return refused
    try:
        messages = messages_of(body, key)
    except wire.EnvelopeError as exc:
        return _cors(request, key, _envelope_error(exc))
    count = wire.segment_event_count(messages)  # what the rate limits charge: an order's lines one each
    if key.is_public and count > settings.PUBLIC_MAX_BATCH_EVENTS:
        return _cors(request, key, _error(
            413, f"{count} events in one request (an order's lines count one each); a public key sends at most "
                 f"{settings.PUBLIC_MAX_BATCH_EVENTS}: split the batch", "too_many_events"))
    agent = request.headers.get("User-Agent", "")[:500] if key.is_public else ""
    return _stored(request, key, count, lambda: events_ingest_segment(
        messages=messages, source=source_of_key(key), max_message_bytes=settings.SEGMENT_MAX_EVENT_BYTES,
        context_defaults={"user_agent": agent} if agent else None))


@ingest_endpoint
def segment_batch(request: HttpRequest) -> JsonResponse:
    """POST /v1/batch and /v1/b (Segment HTTP Tracking API)."""
    return _segment(request, settings.SEGMENT_MAX_BATCH_BYTES,
                    lambda body, key: wire.segment_messages(body, max_messages=_max_events(key)))


def _single(call: str) -> Callable[[HttpRequest], HttpResponse]:
    @ingest_endpoint
    def view(request: HttpRequest) -> JsonResponse:
        return _segment(request, settings.SEGMENT_MAX_EVENT_BYTES, lambda body, key: wire.segment_single(body, call))

    view.__name__ = view.__qualname__ = f"segment_{call}"
    view.__doc__ = f"POST /v1/{call} and /v1/{call[0]}: one {call} call."
    return view


segment_track = _single("track")
segment_page = _single("page")
segment_identify = _single("identify")
segment_alias = _single("alias")
segment_screen = _single("screen")
segment_group = _single("group")


TRACKER_PATH = Path(settings.BASE_DIR) / "static" / "tracker" / "tracker.js"
TRACKER_MAX_AGE = 3600  # an hour: a new tracker reaches every store's shoppers the same day


@lru_cache(maxsize=1)
def _tracker_source() -> bytes:
    return TRACKER_PATH.read_bytes()


def tracker_js(request: HttpRequest) -> HttpResponse:
    """GET /tracker.js: the storefront tracker (static/tracker/tracker.js), public and cacheable."""
    response = HttpResponse(_tracker_source(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={TRACKER_MAX_AGE}"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"  # loaded by the store's pages
    response.public_cache = True  # type: ignore[attr-defined]  # NoStoreMiddleware leaves it cacheable
    return response
