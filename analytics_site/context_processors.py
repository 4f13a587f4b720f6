"""Template context every page gets from the settings (no app below: settings only)."""

from django.conf import settings


def store(request):
    """The store currency and its symbol (``data-currency`` on <html>, read by dashboard.js)."""
    return {"store_currency": settings.STORE_CURRENCY, "currency_symbol": settings.STORE_CURRENCY_SYMBOL}
