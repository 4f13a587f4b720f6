"""Browser-reported and verified orders (docs/trust.md#browser-reported-and-verified-orders)."""

from __future__ import annotations

from analytics_site.env import ImproperlyConfiguredEnv, env

# auto: verified once the store has a verified order source (a purchase from a secret key, a store
# connection, an import or the simulator), else browser. Run rebuild_rollups after changing it.
REVENUE_SOURCE = env.str("REVENUE_SOURCE", "auto").strip().lower()
if REVENUE_SOURCE not in ("auto", "verified", "browser"):
    raise ImproperlyConfiguredEnv("REVENUE_SOURCE must be auto, verified or browser.")
# How long after a browser purchase a verified order with its id still confirms it.
BROWSER_ORDER_CONFIRM_HOURS = env.int("BROWSER_ORDER_CONFIRM_HOURS", 24)
if BROWSER_ORDER_CONFIRM_HOURS < 0:
    raise ImproperlyConfiguredEnv("BROWSER_ORDER_CONFIRM_HOURS must be 0 or more.")
