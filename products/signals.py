"""Hooks of the products app for higher layers (registered in their ``AppConfig.ready()``).

``product_category_changing``: the catalogue loader is about to change a product's category. A
receiver that moves the product's history to the new category (insights: the rollups keyed by
category) makes the change itself and returns True; without one the category is saved plainly."""

from django.dispatch import Signal

product_category_changing = Signal()  # kwargs: product_pk (int), category (str)
