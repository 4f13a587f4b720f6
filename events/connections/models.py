"""Store connections (docs/connections.md): a Shopify or WooCommerce store sending signed webhooks, the
deliveries received from it (the idempotency record), and each order's customer (a Shopify refund
names only its order)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


MAX_SLUG = 40  # event ids are "<slug>:…" and must fit the 100 characters of Event.event_id


class StoreConnection(models.Model):
    """One store whose webhooks we accept at ``/webhooks/<platform>/<slug>/``.

    The webhook secret must be kept so each delivery's HMAC can be computed: it is stored encrypted
    (Fernet, key derived from SECRET_KEY: ``events.connections.signing``), is never shown again
    after creation (admin and command alike) and can only be replaced."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    slug = models.SlugField(max_length=MAX_SLUG, unique=True,
                            help_text="Part of the webhook URL and of every event id from this store.")
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(default=True, help_text="Untick to refuse this store's deliveries (401).")
    created_at = models.DateTimeField(auto_now_add=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        state = "" if self.is_active else " (inactive)"
        return f"{self.get_platform_display()} {self.slug}{state}"


class WebhookDelivery(models.Model):
    """One delivery accepted from a connection, keyed by the platform's delivery id
    (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID): a redelivery with the same id is answered
    from here and stores nothing."""

    connection = models.ForeignKey(StoreConnection, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=100)
    topic = models.CharField(max_length=60)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["connection", "delivery_id"], name="webhook_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"


class ConnectionOrder(models.Model):
    """The customer of each order a connection sent (a Shopify refund names only the order)."""

    connection = models.ForeignKey(StoreConnection, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=100)
    customer_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "order_id"], name="connection_order_once"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} of customer {self.customer_id}"
