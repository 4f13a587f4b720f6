"""Where an ingest key arrives: the ``Authorization`` header (``Bearer <key>``, or Segment's HTTP
Basic ``<key>:``), never the URL (proxies and servers log URLs). Pure parsing, shared by the
WebSocket consumer and the HTTP views."""

from __future__ import annotations

import base64
import binascii

_KEY_PARAMETERS = ("key", "writekey", "api_key")


def bearer_secret(authorization: str) -> str | None:
    """The key of ``Authorization: Bearer <key>``, or None."""
    scheme, _, secret = authorization.partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


def basic_user(authorization: str) -> str | None:
    """The user name of ``Authorization: Basic …`` (Segment's write key: ``<key>:``), or None."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def key_in_query(query: str) -> bool:
    """A ``key`` (or ``writeKey``, ``api_key``) query parameter: refused, even when valid."""
    return any(part.split("=", 1)[0].lower() in _KEY_PARAMETERS for part in query.split("&"))
