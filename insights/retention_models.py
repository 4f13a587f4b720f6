"""Retention, affinity and people rollups (issues 12, 14; see insights/retention.py, insights/people.py and
insights/contributions.py)."""

from __future__ import annotations

from django.db import models

from insights.fields import money_field as _money


class CohortMonthly(models.Model):
    """First-order-month cohort × calendar month (store time) × age group: the cohort's customers who
    ordered in that month, their orders and revenue. Row (cohort, cohort) holds the cohort's size."""

    cohort = models.DateField(help_text="First day of the month of the customers' first order.")
    month = models.DateField(help_text="First day of the month the orders were placed in.")
    age_group = models.CharField(max_length=8)
    customers = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    revenue = _money()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cohort", "month", "age_group"], name="insights_cohm_key"),
            models.CheckConstraint(condition=models.Q(month__gte=models.F("cohort")), name="insights_cohm_after"),
        ]

    def __str__(self) -> str:
        return f"cohort {self.cohort:%Y-%m} in {self.month:%Y-%m} {self.age_group}: {self.customers}"


class BuyerOrders(models.Model):
    """Buyers by their number of orders (all time) and age group: repeat rate and the distribution."""

    orders = models.PositiveIntegerField()
    age_group = models.CharField(max_length=8)
    customers = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["orders", "age_group"], name="insights_buyo_key")]

    def __str__(self) -> str:
        return f"{self.orders} orders {self.age_group}: {self.customers}"


class OrderGap(models.Model):
    """Days between a customer's consecutive orders (store days; two orders on one day are 0 apart),
    counted per gap length and age group: the median time between orders."""

    days = models.PositiveIntegerField()
    age_group = models.CharField(max_length=8)
    gaps = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["days", "age_group"], name="insights_gap_key")]

    def __str__(self) -> str:
        return f"{self.days} days {self.age_group}: {self.gaps}"


class CustomerFirstOrder(models.Model):
    """The store day of each buyer's first order (``customers`` is 1 on that day's row; a row left at 0 is
    a first order that moved): whether a period's buyer had ordered before it (returning customer rate)."""

    customer_id = models.BigIntegerField()
    day = models.DateField()
    customers = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_id", "day"], name="insights_first_key")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} first ordered {self.day}"


class ProductPairDaily(models.Model):
    """Baskets (kind "o": orders, "c": carts) by store day holding both products (product_a ≤ product_b).
    The diagonal (a = b) counts the baskets holding a product; (0, 0) counts every basket."""

    day = models.DateField()
    kind = models.CharField(max_length=1)
    product_a = models.BigIntegerField()
    product_b = models.BigIntegerField()
    baskets = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "day", "product_a", "product_b"], name="insights_pair_key"),
        ]
        indexes = [
            # The baskets per product (the diagonal): the supports, without reading the pairs' rows.
            models.Index(fields=["kind", "day", "product_a"], condition=models.Q(product_a=models.F("product_b")),
                         include=["baskets"], name="insights_pair_single_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.product_a}+{self.product_b}: {self.baskets}"


class DailyPeople(models.Model):
    """The customers active (kind "v"), buying ("p") and anonymous among those ("a") on a store day, as a
    bitmap of customer pks (insights.people), kept from the day × customer rollup: distinct people over a
    period are the bits of the OR of its days."""

    day = models.DateField()
    kind = models.CharField(max_length=1)
    bits = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="insights_people_key")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {len(self.bits)} bytes"
