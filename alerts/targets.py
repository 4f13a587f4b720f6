"""Where a webhook may be sent (docs/alerts-and-reports.md#where-a-webhook-may-go): public addresses
only, unless ``ALERTS_WEBHOOK_ALLOW_PRIVATE`` lets private ones through; cloud metadata addresses
never. The host is resolved when a destination is saved and again at every delivery, and the delivery
connects to the address it checked, so a name that resolves elsewhere in between (DNS rebinding) cannot
reach the product's own network. Redirects are not followed and environment proxies are not used.

The standard library's ``ipaddress`` classifies the addresses (``advocate``, the one library for this,
has not been released since 2020 and wraps requests, which the product does not use for this).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# AWS, GCP and Azure (169.254.169.254, also link-local), AWS over IPv6, Alibaba Cloud
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))


class TargetRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    address: str  # the checked address the delivery connects to


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``ip`` may not receive webhooks (a few words), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_global:
        return None
    kind = ("a loopback address" if ip.is_loopback else "a link-local address" if ip.is_link_local
            else "a private address" if ip.is_private else "not a public address")
    local = ip.is_loopback or ip.is_link_local or ip.is_private
    return None if allow_private and local else kind


def webhook_target(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` and resolve its host; raises ``TargetRefused`` with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("A webhook URL starts with http:// or https:// and names a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (ValueError, OSError) as exc:
        raise TargetRefused(f"{parts.hostname} does not resolve ({exc}).") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        why = refusal(ipaddress.ip_address(address.split("%")[0]), allow_private=allow_private)
        if why is not None:
            allow = "" if why.startswith(("a cloud", "a multicast")) else \
                " (ALERTS_WEBHOOK_ALLOW_PRIVATE=1 allows private targets)"
            raise TargetRefused(f"{parts.hostname} resolves to {address}, {why}: webhooks go to public "
                                f"addresses only{allow}.")
    return Target(parts.hostname, port, addresses[0])


def _pinned(connection_class: type[http.client.HTTPConnection], address: str) -> Any:
    """A connection class for urllib that connects to ``address`` whatever the host resolves to now; the
    Host header, TLS server name and certificate check still use the host name."""
    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = connection_class(host, **kwargs)

        def connect_to_address(addr: tuple[str, int], timeout: Any = None, source: Any = None) -> socket.socket:
            return socket.create_connection((address, addr[1]), timeout, source)

        conn._create_connection = connect_to_address  # type: ignore[attr-defined]
        return conn
    return make


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer is the delivery's answer


def pinned_opener(target: Target) -> urllib.request.OpenerDirector:
    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(_pinned(http.client.HTTPConnection, target.address), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(_pinned(http.client.HTTPSConnection, target.address), req,
                                context=self._context, check_hostname=self._check_hostname)  # type: ignore[attr-defined]

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), Http(), Https(), _NoRedirect())
