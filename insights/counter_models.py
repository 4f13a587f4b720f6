"""The counters several rollups share, as abstract models: a day rollup and its month copy
(``insights.copy_models``) inherit the same columns from here."""

from __future__ import annotations

from django.db import models

from insights.fields import money_field as _money


class SessionCounters(models.Model):
    """What the session rollups count (insights.contributions ``session_counters``)."""

    sessions = models.BigIntegerField(default=0)
    purchasing_sessions = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    revenue = _money()
    funnel_view = models.BigIntegerField(default=0)
    funnel_cart = models.BigIntegerField(default=0)
    funnel_checkout = models.BigIntegerField(default=0)
    funnel_purchase = models.BigIntegerField(default=0)
    dropoff_cart = _money()
    dropoff_checkout = _money()
    carts_open = models.BigIntegerField(default=0)
    carts_converted = models.BigIntegerField(default=0)
    carts_abandoned = models.BigIntegerField(default=0)
    carts_emptied = models.BigIntegerField(default=0)
    revenue_left = _money()

    class Meta:
        abstract = True



class ProductShares(models.Model):
    """A product's share of sessions (insights.contributions ``_add_product_rows``), per age group."""

    product_id = models.BigIntegerField()
    age_group = models.CharField(max_length=8)
    views = models.BigIntegerField(default=0)
    units = models.BigIntegerField(default=0)
    revenue = _money()
    view_sessions = models.BigIntegerField(default=0)
    cart_sessions = models.BigIntegerField(default=0)
    purchase_sessions = models.BigIntegerField(default=0)
    carts_abandoned = models.BigIntegerField(default=0)
    revenue_left = _money()

    class Meta:
        abstract = True
