"""Reads of products by many ids or titles at once (ingest resolution)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from products.models import Product

_CHUNK = 900  # below SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class ProductRef:
    """What ingest needs of a product: its pk, current price (for events sent without one) and
    title (for the dashboard's live feed)."""

    pk: int
    price: Decimal
    title: str


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def product_refs_by_external_id(*, external_ids: Iterable[str]) -> dict[str, ProductRef]:
    """The store's product id → its ref, for those that exist."""
    found: dict[str, ProductRef] = {}
    for chunk in _chunks(sorted(set(external_ids))):
        rows = Product.objects.filter(external_id__in=chunk).values_list("external_id", "id", "price", "title")
        for external_id, pk, price, title in rows:
            found[external_id] = ProductRef(pk, price, title)
    return found


def product_refs_by_title(*, titles: Iterable[str]) -> dict[str, ProductRef]:
    """Title → the ref of the first product (lowest pk) with that title, for those that exist."""
    found: dict[str, ProductRef] = {}
    for chunk in _chunks(sorted(set(titles))):
        for title, pk, price in Product.objects.filter(title__in=chunk).order_by("id").values_list(
                "title", "id", "price"):
            found.setdefault(title, ProductRef(pk, price, title))
    return found
