"""Settings of alerts and reports (docs/alerts-and-reports.md, docs/configuration.md): read from the
environment by ``analytics_site.env``; imported at the end of settings.py."""

from __future__ import annotations

import sys

from analytics_site.env import env

# settings.py imports this module on its last line; its lists are extended in place (read from the
# half-imported module rather than imported, which would make an import circle).
_base = sys.modules["analytics_site.settings"]
TESTING = env.bool("TESTING", default=False)
_base.INSTALLED_APPS.extend(["alerts", "reports"])

# Which hours an alert rule judges (docs/alerts-and-reports.md#which-hours-are-judged).
ALERTS_SETTLE_MINUTES = env.int("ALERTS_SETTLE_MINUTES", 5)
ALERTS_SESSION_WAIT_HOURS = env.int("ALERTS_SESSION_WAIT_HOURS", 3)
ALERTS_HISTORY_WEEKS = env.int("ALERTS_HISTORY_WEEKS", 8)
# Deliveries (docs/alerts-and-reports.md#webhooks).
ALERTS_WEBHOOK_TIMEOUT_SECONDS = env.float("ALERTS_WEBHOOK_TIMEOUT_SECONDS", 5.0)
# Webhooks to loopback, private and link-local addresses (never cloud metadata) are refused unless set
# (docs/alerts-and-reports.md#where-a-webhook-may-go).
ALERTS_WEBHOOK_ALLOW_PRIVATE = env.bool("ALERTS_WEBHOOK_ALLOW_PRIVATE", default=False)
ALERTS_RETRY_BASE_SECONDS = env.int("ALERTS_RETRY_BASE_SECONDS", 30)
ALERTS_DELIVERY_MAX_ATTEMPTS = env.int("ALERTS_DELIVERY_MAX_ATTEMPTS", 6)
ALERTS_SITE_URL = env.str("ALERTS_SITE_URL", "http://127.0.0.1:8000")

# Report subscriptions (docs/alerts-and-reports.md#subscriptions).
REPORTS_CLAIM_LEASE_MINUTES = env.int("REPORTS_CLAIM_LEASE_MINUTES", 30)

# Mail (docs/alerts-and-reports.md#mail-settings): the console backend prints messages to the worker's
# log unless an SMTP server is configured.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend" if TESTING
                        else "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "analytics@localhost")

# WeasyPrint logs every SVG presentation attribute it ignores and each step of a render: errors only.
_base.LOGGING["loggers"]["weasyprint"] = {"level": "ERROR"}
_base.TEMPLATES[0]["OPTIONS"]["context_processors"].append("alerts.context_processors.notices")
