"""Requests from browsers (docs/tracker.md): public keys, CORS and per-address rate limits.

- A request with an ``Origin`` header comes from a browser. A *secret* key there is refused (403,
  saying to use a public key): a secret in a web page is a secret published.
- A *public* key is accepted only with an ``Origin`` among its allowed origins (else 403 with the
  reason), within two token buckets: events a second per key and per key × client address (429
  with ``Retry-After``). Every event costs a token, and a request carries at most
  PUBLIC_MAX_BATCH_EVENTS events (a tracker's batch; 413 above it), so the per-address limit holds
  for one large batch as for many small ones. What a public key may send at all:
  ``events.wire.trust``. Its responses carry ``Access-Control-Allow-Origin`` (that exact origin),
  ``Vary: Origin``.
- A CORS preflight (``OPTIONS``, which carries no key) is answered for origins some active public
  key allows, with ``Access-Control-Max-Age`` so browsers ask once a day; any other origin gets 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

from events.models import IngestKey
from events.ratelimit import RateLimit, rate_limit, retry_after_header
from events.services import origin_allowed_for_any

ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding"
_CODES = {401: "unauthorized", 413: "too_large", 400: "bad_request", 403: "forbidden"}


def error_response(status: int, reason: str, code: str | None = None,
                   retry_after: float | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": reason, "code": code or _CODES.get(status, "error")}
    if retry_after is not None:
        body["retry_after"] = round(retry_after, 3)
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ingest", Basic realm="ingest"'
    if retry_after is not None:
        response["Retry-After"] = retry_after_header(retry_after)
    return response


def request_origin(request: HttpRequest) -> str | None:
    """The ``Origin`` header (a browser's request), or None. ``null`` (a sandboxed page) is an
    origin no key allows."""
    return request.headers.get("Origin") or None


def client_address(request: HttpRequest) -> str:
    """The browser's address: REMOTE_ADDR, or behind a proxy (BEHIND_PROXY) the last
    X-Forwarded-For hop (the one our proxy added; earlier hops are the client's word)."""
    if settings.BEHIND_PROXY:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def cors_headers(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = "Retry-After"
    patch_vary_headers(response, ("Origin",))
    return response


def preflight(request: HttpRequest) -> HttpResponse:
    """``OPTIONS``: 204 with the CORS headers for an origin a public key allows, else 403."""
    origin = request_origin(request)
    if origin is None:
        return error_response(403, "CORS preflight without an Origin header", "origin_required")
    if not origin_allowed_for_any(origin=origin):
        response = error_response(403, f"origin {origin[:200]!r} is not allowed by any public key", "origin_refused")
        patch_vary_headers(response, ("Origin",))
        return response
    answer = cors_headers(HttpResponse(status=204), origin)
    answer["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    answer["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    answer["Access-Control-Max-Age"] = str(settings.CORS_MAX_AGE)
    return answer


def key_refusal(request: HttpRequest, key: IngestKey) -> JsonResponse | None:
    """403 when this key may not be used from where the request comes (see the module docstring)."""
    origin = request_origin(request)
    if not key.is_public:
        if origin is None:
            return None
        return error_response(
            403, "secret keys are refused from browsers (this request has an Origin header): a secret key in a web "
                 "page is a published secret. Use a public key: create_ingest_key NAME --public --origin ORIGIN",
            "secret_key_from_browser")
    if origin is None:
        return error_response(403, "public keys are accepted only from web pages on their allowed origins "
                                   "(no Origin header)", "origin_required")
    if origin not in key.allowed_origins:
        response = error_response(403, f"origin {origin[:200]!r} is not one of this public key's allowed origins",
                                  "origin_refused")
        patch_vary_headers(response, ("Origin",))
        return response
    return None


def _limits() -> tuple[RateLimit | None, RateLimit | None]:
    redis_url = settings.REDIS_URL
    return (rate_limit(name="public-key", rate=settings.PUBLIC_KEY_RATE_LIMIT,
                       burst=settings.PUBLIC_KEY_RATE_BURST, redis_url=redis_url),
            rate_limit(name="public-address", rate=settings.PUBLIC_ADDRESS_RATE_LIMIT,
                       burst=settings.PUBLIC_ADDRESS_RATE_BURST, redis_url=redis_url))


def public_rate_limited(request: HttpRequest, key: IngestKey, events: int) -> JsonResponse | None:
    """429 when a public key, or this client address with it, is over its events-a-second limit."""
    if not key.is_public or not events:
        return None
    per_key, per_address = _limits()
    address = client_address(request)
    buckets = ((per_address, f"{key.pk}:{address}", "this address"), (per_key, str(key.pk), "this key"))
    for limit, bucket, what in buckets:
        if limit is None:
            continue
        wait = limit.take(bucket, events)
        if wait:
            reason = (f"rate limit of {limit.rate:,.0f} events a second for {what} exceeded; nothing was stored: "
                      f"retry after {wait:.2f} s")
            return error_response(429, reason, "rate_limited", retry_after=wait)
    return None
