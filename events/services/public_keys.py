"""Public (browser) keys (docs/tracker.md): their allowed origins and install snippet.

An origin is ``scheme://host[:port]`` as a browser sends it in the ``Origin`` header: lower case,
no path, no trailing slash, the default port left out."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from events.models import IngestKey

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginError(ValueError):
    pass


def origin_normalize(origin: str) -> str:
    """``origin`` as browsers send it, or ``OriginError`` saying what is wrong."""
    text = origin.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise OriginError(f"{origin!r} is not an origin: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise OriginError(f"{origin!r} is not an origin: use scheme://host[:port], e.g. https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise OriginError(f"{origin!r} is not an origin: no path, query or user (scheme://host[:port] only)")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def origins_normalize(origins: Iterable[str]) -> list[str]:
    """Distinct normalised origins, in the order given (``OriginError`` for the first bad one)."""
    out: list[str] = []
    for origin in origins:
        normal = origin_normalize(origin)
        if normal not in out:
            out.append(normal)
    return out


def origin_allowed_for_any(*, origin: str) -> bool:
    """Some active public key accepts this origin (what a CORS preflight, which carries no key, can
    check). Public keys are few: their lists are read and compared here."""
    for allowed in IngestKey.objects.filter(kind=IngestKey.Kind.PUBLIC, is_active=True).values_list(
            "allowed_origins", flat=True):
        if origin in (allowed or []):
            return True
    return False


def snippet_for(key: IngestKey, *, server: str) -> str:
    """The copy-paste install snippet of a public key (docs/tracker.md). It asks for consent: nothing
    is stored in the visitor's browser or sent until the page calls ``tracker.consent(true)``; the
    one switch ``tracker.consentRequired = false`` turns that off where consent is collected
    elsewhere."""
    return (
        "<script>\n"
        "!function(w,d,s,u,k){var t=w.tracker=w.tracker||[];if(t.loaded)return;t.q=t.q||[];\n"
        "['page','track','identify','reset','consent'].forEach(function(m){t[m]=function(){"
        "t.q.push([m].concat([].slice.call(arguments)))}});\n"
        "t.key=k;t.host=u;var e=d.createElement(s);e.async=1;e.src=u+'/tracker.js';"
        "d.head.appendChild(e)}(window,document,'script',\n"
        f"  '{server}','{key.public_value}');\n"
        "// Nothing is stored or sent until the visitor agrees: call tracker.consent(true) from your consent\n"
        "// banner (tracker.consent(false) withdraws it). Where consent is collected otherwise, set false.\n"
        "tracker.consentRequired = true;\n"
        "tracker.page();\n"
        "</script>"
    )
