from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from events.types import line_total


class Action(models.TextChoices):
    VIEW = "view", "View"
    ADD_TO_CART = "add_to_cart", "Add to cart"
    REMOVE_FROM_CART = "remove_from_cart", "Remove from cart"
    CHECKOUT = "checkout", "Checkout"
    PURCHASE = "purchase", "Purchase"
    ABANDON = "abandon", "Abandon"
    REFUND = "refund", "Refund"
    CANCEL = "cancel", "Cancel"
    PAGE = "page", "Page view"  # a storefront page (tracker page(), Segment page calls): no product


# Actions that carry money and belong to an order (refunds and cancels name the order they change).
MONEY_ACTIONS = (Action.PURCHASE, Action.REFUND)
ORDER_ACTIONS = (Action.REFUND, Action.CANCEL)


class Trust(models.TextChoices):
    """Who a source speaks for (docs/trust.md): a browser (public keys, anyone who reads the store's
    pages) or the store itself (secret keys, signed webhooks, imports, the simulator)."""

    BROWSER = "browser", "Browser (untrusted)"
    STORE = "store", "Store"


class Source(models.Model):
    """What sent an event: a secret key, a public key, a store connection, an import run or the
    simulator (docs/trust.md#sources-and-provenance). Every event records its source, so what one
    source sent can be counted, found and removed.

    ``namespace`` is the event-id namespace of the source's trust level: event ids are unique within
    a namespace only, so nothing a browser sends can suppress or replace a server's, a connection's
    or an import's event. All public keys share ``browser``, all secret keys ``server`` (a rotated
    key keeps deduplicating), each connection has its own, imports share ``import``."""

    class Kind(models.TextChoices):
        SECRET_KEY = "secret_key", "Secret key"
        PUBLIC_KEY = "public_key", "Public key"
        CONNECTION = "connection", "Store connection"
        IMPORT = "import", "Import run"
        SIMULATOR = "simulator", "Simulator"
        SERVER = "server", "Server (no key)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    trust = models.CharField(max_length=10, choices=Trust.choices)
    namespace = models.CharField(max_length=40)
    name = models.CharField(max_length=200, help_text="The key's or connection's name, or the import run.")
    ingest_key = models.OneToOneField("IngestKey", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="source")
    connection = models.OneToOneField("events.StoreConnection", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="source")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    removal_requested_at = models.DateTimeField(null=True, blank=True,
                                                help_text="When removing everything this source sent was asked for.")
    removed_at = models.DateTimeField(null=True, blank=True,
                                      help_text="When everything this source sent was removed.")

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(trust="store") | models.Q(kind="public_key", namespace="browser"),
                name="source_browser_is_public_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class Event(models.Model):
    """One thing a customer did. Events are immutable facts; ``(namespace, event_id)`` is the
    idempotency key (event ids are unique within their source's namespace: see ``Source``)."""

    event_id = models.CharField(max_length=100)
    namespace = models.CharField(max_length=40, default="server", db_default="server")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, null=True, blank=True, related_name="events",
                               db_index=False)
    # No single-column FK indexes: event_customer_ts_idx and event_product_action_idx lead with
    # these columns. Every index on this table is paid on every ingested event.
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="events",
                                 db_index=False)
    product = models.ForeignKey("products.Product", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="events", db_index=False)
    session_id = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    quantity = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0,
                                help_text="Unit price at event time (for a line sent with an amount: amount / "
                                          "quantity, rounded to the cent, for display).")
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="Purchase lines: the line total as the sender gave it, kept to the cent (revenue is this when "
                  "present, else price × quantity: see line_total). Refunds: the amount refunded.")
    order_id = models.CharField(max_length=100, null=True, blank=True)
    # Money (docs/money.md): amounts above and below are in STORE_CURRENCY, converted at ingest.
    # db_default: rows inserted by raw SQL that predates these columns (benchmarks, tools) stay valid.
    currency = models.CharField(max_length=3, blank=True, default="", db_default="",
                                help_text="The currency the event was sent in (ISO 4217); blank: the store's.")
    fx_rate = models.DecimalField(
        max_digits=20, decimal_places=10, null=True, blank=True,
        help_text="STORE_CURRENCY per unit of the sent currency, as used to convert this event's amounts "
                  "(the latest rate on or before its date); blank when sent in the store currency.")
    discount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                   help_text="Purchase lines: the order's discount (order-level, counted once).")
    coupon = models.CharField(max_length=100, blank=True, default="", db_default="",
                              help_text="Purchase lines: the order's coupon code.")
    shipping = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                   help_text="Purchase lines: the order's shipping (outside revenue).")
    tax = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                              help_text="Purchase lines: the order's tax (outside revenue).")
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # A browser visitor's id, and where the event happened (page_url, referrer,
    # utm_*, user_agent). ``is_bot``: the user agent is a known crawler; such events are left out of
    # every metric unless METRICS_INCLUDE_BOTS (they are never fed to derivation or rollups).
    anonymous_id = models.CharField(max_length=100, blank=True, default="", db_default="")
    context = models.JSONField(null=True, blank=True)
    is_bot = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "event_id"], name="event_namespace_event_id_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="event_quantity_gte_1"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="event_price_gte_0"),
            models.CheckConstraint(condition=models.Q(action__in=Action.values), name="event_action_valid"),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gte=0, action__in=MONEY_ACTIONS),
                name="event_amount_money_gte_0"),
            models.CheckConstraint(
                condition=models.Q(discount__isnull=True, shipping__isnull=True, tax__isnull=True, coupon="")
                | models.Q(action=Action.PURCHASE),
                name="event_order_money_purchase"),
            models.CheckConstraint(condition=models.Q(order_id__isnull=False) | ~models.Q(action__in=ORDER_ACTIONS),
                                   name="event_refund_cancel_order_id"),
        ]
        indexes = [
            models.Index(fields=["timestamp"], name="event_ts_idx"),
            models.Index(fields=["customer", "timestamp"], name="event_customer_ts_idx"),
            models.Index(fields=["product", "action"], name="event_product_action_idx"),
            # Cancels find their order's lines (and refunds) by order id: only rows with an order id
            # (order lines, refunds, cancels) are in it, so views and carts pay nothing for it.
            models.Index(fields=["order_id"], name="event_order_idx", condition=models.Q(order_id__isnull=False)),
            # The coupons panel reads a period's order lines (a few percent of events: only they pay).
            models.Index(fields=["timestamp"], name="event_order_line_ts_idx",
                         condition=models.Q(action="purchase", order_id__isnull=False)),
            # Bots are few: a partial index counts them (the figure pages show) without a scan.
            models.Index(fields=["id"], condition=models.Q(is_bot=True), name="event_bot_idx"),
            # What one source sent: counted in admin, removed with the source.
            models.Index(fields=["source"], name="event_source_idx"),
            # Verified orders (docs/trust.md#browser-reported-and-verified-orders): whether the store has one,
            # and when each order id was first verified; browser purchases, for the unconfirmed count.
            # (Covering on PostgreSQL: the unconfirmed count reads neither table row.)
            models.Index(fields=["order_id", "timestamp"], name="event_verified_order_idx",
                         condition=models.Q(action="purchase", order_id__isnull=False)
                         & ~models.Q(namespace="browser"), include=["is_bot"]),
            models.Index(fields=["timestamp"], name="event_browser_purchase_idx",
                         condition=models.Q(action="purchase", namespace="browser"),
                         include=["order_id", "is_bot", "customer_id", "session_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.customer_id} at {self.timestamp:%Y-%m-%d %H:%M:%S}"

    @property
    def line_total(self) -> Decimal:
        """What this line counts for in revenue (purchases): see ``events.types.line_total``."""
        return line_total(self.price, self.quantity, self.amount)


class IngestKey(models.Model):
    """A named, revocable credential for machine clients (WebSocket, HTTP, Segment write key).

    Only a SHA-256 of the secret is stored; the secret is shown once when the key is made.
    A *public* key (docs/tracker.md) is for browsers: write-only, accepted only from its allowed origins,
    rate-limited per address. It sits in every page of the store, so its value is kept (``public_value``)
    to show the install snippet; a *secret* key (servers) is never accepted from a browser.
    """

    class Kind(models.TextChoices):
        SECRET = "secret", "Secret (servers)"
        PUBLIC = "public", "Public (browsers)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SECRET)
    allowed_origins = models.JSONField(default=list, blank=True,
                                       help_text="Public keys: the origins (scheme://host[:port]) allowed to send.")
    public_value = models.CharField(max_length=100, blank=True, editable=False,
                                    help_text="Public keys only: the key itself (it is public by design).")
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a key.")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        state = "" if self.is_active else " (revoked)"
        return f"{self.name} [{self.prefix}…]{state}"

    @property
    def is_public(self) -> bool:
        return self.kind == self.Kind.PUBLIC


class SimulatorState(models.Model):
    """The live simulator's one row: its controls, editable in admin, and the state it
    keeps between beat ticks (sessions in progress, counters) so sessions unfold over real time."""

    enabled = models.BooleanField(default=True, help_text="Untick to pause the live simulator.")
    rate = models.FloatField(null=True, blank=True,
                             help_text="Events a second on average; blank uses settings.SIMULATOR_RATE.")
    customers = models.PositiveIntegerField(
        default=2000, help_text="Shoppers simulated (store ids 1..N; missing ones are seeded). Live mode raises it to "
                  "1000 × rate so each shopper's sessions can stay 30 minutes apart.")
    seed = models.IntegerField(default=42)
    state = models.JSONField(default=dict, blank=True, editable=False,
                             help_text="Sessions in progress and counters (managed by the simulator).")
    last_tick_at = models.DateTimeField(null=True, blank=True, editable=False)
    events_sent = models.BigIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "simulator"
        verbose_name_plural = "simulator"
        constraints = [
            models.CheckConstraint(condition=models.Q(rate__isnull=True) | models.Q(rate__gte=0),
                                   name="simulator_rate_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Simulator ({'running' if self.enabled else 'paused'})"


class ExchangeRate(models.Model):
    """One day's reference rate of a currency against the euro (the European Central Bank's layout:
    1 EUR = ``per_eur`` units of ``currency``). Any pair converts through the euro (``events.money``)."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    per_eur = models.DecimalField(max_digits=20, decimal_places=8, help_text="Units of the currency for 1 EUR.")
    is_sample = models.BooleanField(
        default=False, db_default=False,
        help_text="One of the generated sample rates shipped with the project (import_rates --sample), not a "
                  "published rate: amounts converted with it are approximate.")

    class Meta:
        ordering = ["-day", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "day"], name="exchange_rate_currency_day_unique"),
            models.CheckConstraint(condition=models.Q(per_eur__gt=0), name="exchange_rate_per_eur_gt_0"),
        ]

    def __str__(self) -> str:
        sample = " (sample)" if self.is_sample else ""
        return f"1 EUR = {self.per_eur} {self.currency} on {self.day:%Y-%m-%d}{sample}"


class IdentityLink(models.Model):
    """An ``identify`` or ``alias`` call as received (docs/sending-events.md): which anonymous id (or
    previous id) a customer was seen under, and the traits sent. Recorded once per message id.
    Re-attributing the anonymous id's events to the customer (identity merging) reads these; it is
    not done yet: the events stay on the ``anon:<id>`` customer they were stored under."""

    class Kind(models.TextChoices):
        IDENTIFY = "identify", "Identify"
        ALIAS = "alias", "Alias"

    message_id = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="identity_links")
    anonymous_id = models.CharField(max_length=100, blank=True, default="")
    previous_id = models.CharField(max_length=100, blank=True, default="")
    traits = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # What sent the call (removed with the source: docs/trust.md).
    source = models.ForeignKey(Source, on_delete=models.SET_NULL, null=True, blank=True, related_name="identity_links")

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["anonymous_id"], name="identity_anonymous_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_id} ← {self.anonymous_id or self.previous_id}"


# Store connections (docs/connections.md): defined in events/connections, registered with this app here.
from events.connections.models import (  # noqa: E402
    ConnectionCustomer,
    ConnectionOrder,
    Platform,
    StoreConnection,
    WebhookDelivery,
)

__all__ = ["Action", "ConnectionCustomer", "ConnectionOrder", "Event", "IdentityLink", "IngestKey", "Platform",
           "SimulatorState", "Source", "StoreConnection", "Trust", "WebhookDelivery"]
