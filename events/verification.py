"""Browser-reported and verified orders: what a browser purchase line counts as. PURE.

A purchase sent with a public key (namespace ``browser``) is *browser-reported*: anyone with the key
could have sent it. A purchase from a store-level source (a secret key, a store connection, an import,
the simulator, store code) is *verified*. docs/trust.md#browser-reported-and-verified-orders:

- **Revenue source** (``REVENUE_SOURCE``): ``verified`` counts money from verified orders only;
  ``browser`` also counts browser purchases no verified order confirms; ``auto`` is ``verified`` once
  the store has a verified order (any stored store-level purchase with an order id), else ``browser``.
- A browser line is **confirmed** when a verified purchase has its order id (the id exactly as the
  storefront shows it: a non-primary connection's ids carry its ``<slug>:`` prefix, and so must the
  tracker's) no later than ``BROWSER_ORDER_CONFIRM_HOURS`` after the browser line. A confirmed line
  gives its session the purchase (funnel step, conversion, converted cart, the channel's purchasing
  session) but no money and no order: the verified order has both, counted once.
- Otherwise the line is **counted** as a browser-reported purchase (money and order) when the revenue
  source is ``browser`` and no verified order has its id at all, else it is **void**: it counts nowhere.
  Void lines of a verified-mode store are listed as *awaiting confirmation* while the window is open
  and *unconfirmed* once it has passed (``confirmation_state``): only the label moves with the clock,
  never a figure, so expiry needs no re-derivation and incremental upkeep equals a rebuild.

Everything here is a function of the stored events (and the two settings), never of arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

BROWSER_NAMESPACE = "browser"
COUNTED, CONFIRMED, VOID = "counted", "confirmed", "void"
REVENUE_SOURCES = ("auto", "verified", "browser")
AWAITING, UNCONFIRMED = "awaiting", "unconfirmed"


def revenue_mode(setting: str, *, has_verified_orders: bool) -> str:
    """The revenue source in force: ``verified`` or ``browser`` (``auto`` resolved)."""
    if setting == "auto":
        return "verified" if has_verified_orders else "browser"
    if setting not in REVENUE_SOURCES:
        raise ValueError(f"unknown revenue source {setting!r}: use auto, verified or browser")
    return setting


@dataclass(frozen=True)
class BrowserOrders:
    """What browser purchase lines count as: ``count_unconfirmed`` (the revenue source is ``browser``),
    and per order id (of the lines at hand) the time of its earliest verified line."""

    count_unconfirmed: bool = True
    verified_at: Mapping[str, datetime] = field(default_factory=dict)
    window: timedelta = timedelta(hours=24)

    def verdict(self, order_id: str | None, timestamp: datetime) -> str:
        """``COUNTED``, ``CONFIRMED`` or ``VOID`` for a browser line of ``order_id`` sent at ``timestamp``."""
        verified = self.verified_at.get(order_id) if order_id is not None else None
        if verified is not None:
            return CONFIRMED if verified <= timestamp + self.window else VOID
        return COUNTED if self.count_unconfirmed else VOID


COUNT_ALL = BrowserOrders()


def confirmation_state(first_line_at: datetime, *, now: datetime, window: timedelta) -> str:
    """A browser order no verified order confirms: ``AWAITING`` while its window is open, then
    ``UNCONFIRMED`` (it counts nowhere either way)."""
    return AWAITING if now < first_line_at + window else UNCONFIRMED
