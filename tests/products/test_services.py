"""Products found or created at ingest (products.services.products_resolve)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from products.models import Product
from products.services import ProductSeed, products_resolve, title_external_id
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_known_products_are_found_and_unknown_ones_made_from_their_seed():
    mug = ProductFactory(external_id="p-mug", title="Mug", price=Decimal("4.00"))
    by_id, by_title = products_resolve(
        by_external_id={"p-mug": ProductSeed("Other title", Decimal("9.00")),
                        "p-new": ProductSeed(None, None, category="home", description="new")},
        by_title={})
    assert (by_id["p-mug"].pk, by_id["p-mug"].price, by_id["p-mug"].title) == (mug.pk, Decimal("4.00"), "Mug")
    new = Product.objects.get(external_id="p-new")
    assert (new.title, new.price, new.category, new.description) == ("Product p-new", Decimal("0.00"), "home", "new")
    assert by_id["p-new"].pk == new.pk and by_title == {}
    assert Product.objects.get(pk=mug.pk).title == "Mug"  # a known product is not changed


def test_titles_find_the_first_product_so_named_or_make_one_under_a_derived_id():
    first = ProductFactory(title="Lamp")
    ProductFactory(title="Lamp")
    _by_id, by_title = products_resolve(by_external_id={},
                                        by_title={"Lamp": ProductSeed("Lamp", None),
                                                  "Bulb": ProductSeed("Bulb", Decimal("1.50"))})
    assert by_title["Lamp"].pk == first.pk
    bulb = Product.objects.get(external_id=title_external_id("Bulb"))
    assert (by_title["Bulb"].pk, bulb.title, bulb.price) == (bulb.pk, "Bulb", Decimal("1.50"))
    _by_id, again = products_resolve(by_external_id={}, by_title={"Bulb": ProductSeed("Bulb", Decimal("9.99"))})
    assert again["Bulb"].pk == bulb.pk and Product.objects.filter(title="Bulb").count() == 1


def test_a_title_and_an_id_that_name_the_same_new_product_get_the_same_one():
    derived = title_external_id("Vase")
    by_id, by_title = products_resolve(by_external_id={derived: ProductSeed("Vase", Decimal("3.00"))},
                                       by_title={"Vase": ProductSeed("Vase", Decimal("5.00"))})
    assert by_id[derived].pk == by_title["Vase"].pk == Product.objects.get(external_id=derived).pk
