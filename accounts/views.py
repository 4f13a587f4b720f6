"""The login throttle's answer (django-axes calls it through settings.AXES_LOCKOUT_CALLABLE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (f"Too many failed sign-ins for this username from your address: signing in is blocked for "
            f"{minutes} minutes after the last attempt, even with the right password. Try again later, or ask "
            f"an admin to unlock the account (Django admin, Access attempts).")


def login_locked_out(request: HttpRequest, original_response: Any = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """The login page again (for /accounts/login/ and /admin/login/ alike), saying why, with 429."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    return render(request, "registration/login.html", {
        "form": form, "locked_out": lockout_message(), "action": request.path,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }, status=settings.AXES_HTTP_RESPONSE_CODE)
