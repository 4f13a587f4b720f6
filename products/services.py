from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from products.models import Product
from products.selectors import ProductRef, product_refs_by_external_id, product_refs_by_title
from products.signals import product_category_changing

CATALOGUE_PATH = Path(__file__).resolve().parent / "fixtures" / "catalogue.json"
ZERO = Decimal("0.00")


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
    recategorised: dict[int, str] = {}  # through the hook: the product's history moves with it
    for external_id, fields in wanted.items():
        product = existing.get(external_id)
        if product is None:
            to_create.append(Product(external_id=external_id, **fields))
        elif any(getattr(product, k) != v for k, v in fields.items()):
            if fields["category"] != product.category:
                recategorised[product.pk] = fields["category"]
            for k, v in fields.items():
                if k != "category":
                    setattr(product, k, v)
            to_update.append(product)
    Product.objects.bulk_create(to_create)
    if to_update:
        Product.objects.bulk_update(to_update, ["title", "price", "description", "image_url"])
    for pk, category in recategorised.items():
        handled = any(result for _, result in product_category_changing.send(sender=Product, product_pk=pk,
                                                                             category=category))
        if not handled:
            Product.objects.filter(pk=pk).update(category=category)
    return len(to_create), len(to_update)


# --- Resolution at ingest: find or create the products events name ------------------------------

def title_external_id(title: str) -> str:
    """The external id of a product first seen by title only (the original system's format)."""
    return "title:" + hashlib.sha256(title.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class ProductSeed:
    """What the first event naming an unknown product says about it (it is created from this)."""

    title: str | None
    price: Decimal | None
    image_url: str = ""
    description: str = ""
    category: str = ""


def _new_product(external_id: str, seed: ProductSeed, now: datetime) -> Product:
    return Product(external_id=external_id, title=seed.title or f"Product {external_id}",
                   price=seed.price if seed.price is not None else ZERO, image_url=seed.image_url,
                   description=seed.description, category=seed.category, created_at=now)


def products_resolve(*, by_external_id: Mapping[str, ProductSeed], by_title: Mapping[str, ProductSeed]
                     ) -> tuple[dict[str, ProductRef], dict[str, ProductRef]]:
    """The products named by external id and, for title-only names, by title (the first product
    with that title); the unknown ones are created from their seeds, in external-id order (so
    concurrent writers lock rows alike). A title no product has gets a product under an id derived
    from the title (``title_external_id``), so two senders agree on it."""
    by_id = product_refs_by_external_id(external_ids=by_external_id) if by_external_id else {}
    found_by_title = product_refs_by_title(titles=by_title) if by_title else {}
    seeds = dict(by_external_id)
    for title in sorted(by_title):
        if title not in found_by_title:
            seeds.setdefault(title_external_id(title), by_title[title])
    to_create = [pid for pid in sorted(seeds) if pid not in by_id]
    if to_create:
        now = timezone.now()
        Product.objects.bulk_create([_new_product(pid, seeds[pid], now) for pid in to_create],
                                    ignore_conflicts=True, batch_size=500)
        by_id.update(product_refs_by_external_id(external_ids=to_create))
    titled = {title: found_by_title.get(title) or by_id[title_external_id(title)] for title in by_title}
    return by_id, titled
