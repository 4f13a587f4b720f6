"""Store connections: a Shopify or WooCommerce store sending signed webhooks, the deliveries
received from it (the idempotency record, and the deliveries waiting for an exchange rate), each
order's customer (a Shopify refund names only its order) and each customer's last profile update
(a replayed, older update changes nothing).

Ids (docs/connections.md): the store's primary connection (``id_prefix`` empty) shares the store's
own customer, order and product ids (the ones the tracker and the server keys send); every other
connection's ids are prefixed with ``<slug>:``, so two stores' order 1001 or customer 7 never meet.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from events.connections.translation import MAX_SLUG


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class StoreConnection(models.Model):
    """One store whose webhooks we accept at ``/webhooks/<platform>/<slug>/``.

    The webhook secret must be kept so each delivery's HMAC can be computed: it is stored encrypted
    (Fernet, keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS: ``events.connections.signing``),
    is never shown again after creation (admin and command alike) and can only be replaced.

    ``id_prefix`` is set once, when the connection is made: empty for the primary connection (at
    most one: it shares the store's ids), ``<slug>:`` for every other one."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    slug = models.SlugField(max_length=MAX_SLUG, unique=True,
                            help_text="Part of the webhook URL and of every event id from this store.")
    id_prefix = models.CharField(
        max_length=MAX_SLUG + 1, unique=True, blank=True, editable=False,
        help_text="Put before this store's customer, order and product ids; empty: the primary connection, "
                  "which shares the store's own ids (those the tracker and the server keys send).")
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(default=True, help_text="Untick to refuse this store's deliveries (401).")
    created_at = models.DateTimeField(auto_now_add=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        state = "" if self.is_active else " (inactive)"
        return f"{self.get_platform_display()} {self.slug}{state}"

    @property
    def shares_store_ids(self) -> bool:
        return self.id_prefix == ""


class DeliveryStatus(models.TextChoices):
    DONE = "done", "Done"
    WAITING_RATE = "waiting_rate", "Waiting for an exchange rate"
    REFUSED = "refused", "Refused when replayed"


class WebhookDelivery(models.Model):
    """One delivery accepted from a connection, keyed by the platform's delivery id
    (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID): a redelivery with the same id is answered
    from here and stores nothing.

    A delivery naming a currency with no exchange rate yet is kept whole (``payload``) as
    ``waiting_rate`` and stored when rates are imported (``webhooks_replay_waiting``); its payload
    is dropped once stored."""

    connection = models.ForeignKey(StoreConnection, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=100)
    topic = models.CharField(max_length=60)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.DONE)
    currency = models.CharField(max_length=3, blank=True, help_text="The currency it waits for a rate of.")
    payload = models.TextField(blank=True, editable=False,
                               help_text="While it waits: the delivery's JSON (escaped: any text fits the column).")

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["connection", "delivery_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["received_at"], name="webhook_delivery_waiting_idx",
                         condition=models.Q(status="waiting_rate")),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"


class ConnectionOrder(models.Model):
    """The customer of each order a connection sent (a Shopify refund names only the order):
    ``order_id`` as the platform sends it, ``customer_id`` as stored (the customer's external id,
    prefixed for a non-primary connection)."""

    connection = models.ForeignKey(StoreConnection, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=100)
    customer_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "order_id"], name="connection_order_once"),
        ]
        indexes = [models.Index(fields=["customer_id"], name="connection_order_customer_idx")]

    def __str__(self) -> str:
        return f"order {self.order_id} of customer {self.customer_id}"


class ConnectionCustomer(models.Model):
    """The platform's ``updated_at`` of the latest profile applied to a customer from a connection:
    a delivery carrying an older one (a replay under a new delivery id) leaves the profile alone."""

    connection = models.ForeignKey(StoreConnection, on_delete=models.CASCADE, related_name="customers")
    customer_id = models.CharField(max_length=100, help_text="The customer's external id.")
    profile_updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "customer_id"], name="connection_customer_once"),
        ]
        indexes = [models.Index(fields=["customer_id"], name="connection_customer_idx")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} updated {self.profile_updated_at:%Y-%m-%d %H:%M}"
