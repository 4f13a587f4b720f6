from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from products.models import Product

CATALOGUE_PATH = Path(__file__).resolve().parent / "fixtures" / "catalogue.json"


class CatalogueError(ValueError):
    pass


def catalogue_read(*, path: Path = CATALOGUE_PATH) -> list[dict]:
    return json.loads(path.read_text())


def catalogue_fetch(*, url: str, timeout: float = 5.0) -> list[dict]:
    """Fetch a FakeStore-style catalogue. Raises CatalogueError when offline or malformed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - operator's URL
            items = json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"could not fetch {url}: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise CatalogueError(f"{url} did not return a list of products")
    return items


def _fields(item: dict) -> dict:
    try:
        price = Decimal(str(item["price"])).quantize(Decimal("0.01"))
        if price < 0:
            raise CatalogueError(f"product {item.get('id')}: negative price")
        return {
            "title": str(item["title"])[:300],
            "price": price,
            "category": str(item.get("category", ""))[:100],
            "description": str(item.get("description", "")),
            "image_url": str(item.get("image", ""))[:500],
        }
    except (KeyError, InvalidOperation, TypeError) as exc:
        raise CatalogueError(f"product {item.get('id')!r} is malformed: {exc}") from exc


@transaction.atomic
def product_load_catalogue(*, items: list[dict]) -> tuple[int, int]:
    """Create or update products from FakeStore-shaped items. Returns (created, updated)."""
    wanted = {str(item["id"]): _fields(item) for item in items}
    existing = {p.external_id: p for p in Product.objects.filter(external_id__in=wanted)}
    to_create, to_update = [], []
    for external_id, fields in wanted.items():
        product = existing.get(external_id)
        if product is None:
            to_create.append(Product(external_id=external_id, **fields))
        elif any(getattr(product, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(product, k, v)
            to_update.append(product)
    Product.objects.bulk_create(to_create)
    if to_update:
        Product.objects.bulk_update(to_update, ["title", "price", "category", "description", "image_url"])
    return len(to_create), len(to_update)
