"""Page extensions: how a higher app (``ml``) adds to insights pages without insights importing it.

A higher app registers, in its ``AppConfig.ready()``, a callable per page that takes the request
and the page's context and returns extra context (e.g. ``{"cart_predictions": [...]}``) and/or
HTML fragments to show (``{"fragments": [safe_html, ...]}``). Pages call ``page_extensions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

Extension = Callable[[HttpRequest, dict[str, Any]], dict[str, Any]]

_extensions: dict[str, list[Extension]] = {}


def register_page_extension(page: str, extension: Extension) -> None:
    registered = _extensions.setdefault(page, [])
    if extension not in registered:
        registered.append(extension)


def page_extensions(page: str, request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Extra context from every extension registered for ``page``; fragments are concatenated."""
    extra: dict[str, Any] = {"fragments": []}
    for extension in _extensions.get(page, []):
        contributed = extension(request, context)
        extra["fragments"].extend(contributed.pop("fragments", []))
        extra.update(contributed)
    return extra


# Notices for every open dashboard (e.g. the alerts app's open incidents): each callable returns a list of
# ``{"id", "text", "href"}``; the dashboard socket pushes them with each update (insights.consumers).
Notices = Callable[[], list[dict[str, Any]]]
_notices: list[Notices] = []


def register_dashboard_notices(provider: Notices) -> None:
    if provider not in _notices:
        _notices.append(provider)


def dashboard_notices() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for provider in _notices:
        out.extend(provider())
    return out
