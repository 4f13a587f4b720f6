"""Reads for the demo store: its catalogue (the shipped products) and its public key."""

from __future__ import annotations

from django.db.models import QuerySet

from events.models import IngestKey
from products.models import Product

KEY_NAME = "demo-store"


def demo_store_key() -> str | None:
    """The public key value the demo store's pages load the tracker with (None: ``make run`` /
    ``manage.py demo_store_key`` has not created it)."""
    return (IngestKey.objects.filter(name=KEY_NAME, kind=IngestKey.Kind.PUBLIC, is_active=True)
            .order_by("-id").values_list("public_value", flat=True).first())


def demo_catalogue() -> QuerySet[Product]:
    return Product.objects.order_by("category", "title")
