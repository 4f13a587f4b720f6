"""Figures kept for the panels instead of computed per request (docs/metrics.md#rfm-segments,
docs/metrics.md#affinity): every buyer's RFM scores (``insights.rfm_store``), the segment × day rollup
and the segments' retention rows kept with them (``insights.segment_store``) and the all-time pair rollup
(``insights.contributions``: ``product_pairs_all``)."""

from __future__ import annotations

from django.db import models

from insights.fields import money_field as _money


class CustomerRfm(models.Model):
    """One buyer's RFM scores and segment as of the last refresh (``insights.rfm_store.rfm_refresh``),
    with the values they were scored on (from ``CustomerTotals``)."""

    # No database constraint: the refresh writes it by SQL from ``CustomerTotals`` (keyed by a plain id),
    # and an erased customer's row goes with the next refresh.
    customer = models.OneToOneField("customers.Customer", primary_key=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, related_name="rfm")
    last_purchase_at = models.DateTimeField(null=True)
    orders = models.BigIntegerField(default=0)
    net_revenue = _money()  # all-time: revenue − discounts − refunds
    recency = models.PositiveSmallIntegerField()
    frequency = models.PositiveSmallIntegerField()
    monetary = models.PositiveSmallIntegerField()
    segment = models.CharField(max_length=20)

    class Meta:
        indexes = [
            # A segment's customers (the segment filter) without reading the table.
            models.Index(fields=["segment", "customer"], include=["net_revenue"], name="insights_rfm_seg_idx"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: {self.segment} (R{self.recency} F{self.frequency} M{self.monetary})"


class RfmRefresh(models.Model):
    """When the kept RFM scores were last refreshed, over how many buyers, and each score's quintile
    boundaries: ``{"recency" | "frequency" | "monetary": [{"score", "low", "high", "customers"}, …]}``."""

    refreshed_at = models.DateTimeField()
    buyers = models.PositiveIntegerField(default=0)
    boundaries = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"RFM of {self.buyers} buyers at {self.refreshed_at:%Y-%m-%d %H:%M:%S}"


class SegmentDaily(models.Model):
    """The day × customer rollup (``CustomerDaily``) summed per RFM segment, store day and age group of
    the kept buyers, as of the last refresh (``insights.segment_store``): what a segment-filtered panel
    reads instead of summing its customers' day rows per request. Same counters as ``CustomerDaily``."""

    segment = models.CharField(max_length=20)
    day = models.DateField()
    age_group = models.CharField(max_length=8)
    events = models.BigIntegerField(default=0)
    revenue = _money()
    sessions = models.BigIntegerField(default=0)
    purchasing_sessions = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    funnel_view = models.BigIntegerField(default=0)
    funnel_cart = models.BigIntegerField(default=0)
    funnel_checkout = models.BigIntegerField(default=0)
    funnel_purchase = models.BigIntegerField(default=0)
    dropoff_cart = _money()
    dropoff_checkout = _money()
    carts_converted = models.BigIntegerField(default=0)
    carts_abandoned = models.BigIntegerField(default=0)
    carts_emptied = models.BigIntegerField(default=0)
    revenue_left = _money()
    discounts = _money()
    refunds = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "day", "age_group"], name="insights_segday_key")]

    def __str__(self) -> str:
        return f"{self.segment} {self.day} {self.age_group}"


class ProductPairTotal(models.Model):
    """``ProductPairDaily`` summed over every day (kind × product a × product b, a ≤ b): baskets holding
    both. Fed by the same basket contributions, so it equals the sum of the daily rows; the affinity
    panel reads it when the period covers all of the pairs' days."""

    kind = models.CharField(max_length=1)
    product_a = models.BigIntegerField()
    product_b = models.BigIntegerField()
    baskets = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "product_a", "product_b"], name="insights_pairall_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_a}+{self.product_b}: {self.baskets}"


class SegmentCohortMonthly(models.Model):
    """``CohortMonthly`` of one RFM segment's customers, as of the last refresh (``insights.segment_store``):
    first-order-month cohort × calendar month × age group, computed from the kept buyers' order days."""

    segment = models.CharField(max_length=20)
    cohort = models.DateField()
    month = models.DateField()
    age_group = models.CharField(max_length=8)
    customers = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    revenue = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "cohort", "month", "age_group"],
                                               name="insights_segcoh_key")]

    def __str__(self) -> str:
        return f"{self.segment} {self.cohort} → {self.month} {self.age_group}: {self.customers}"


class SegmentBuyerOrders(models.Model):
    """``BuyerOrders`` of one RFM segment's customers, as of the last refresh."""

    segment = models.CharField(max_length=20)
    orders = models.PositiveIntegerField()
    age_group = models.CharField(max_length=8)
    customers = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "orders", "age_group"], name="insights_segbuy_key")]

    def __str__(self) -> str:
        return f"{self.segment} {self.orders} orders {self.age_group}: {self.customers}"


class SegmentOrderGap(models.Model):
    """``OrderGap`` of one RFM segment's customers, as of the last refresh."""

    segment = models.CharField(max_length=20)
    days = models.PositiveIntegerField()
    age_group = models.CharField(max_length=8)
    gaps = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "days", "age_group"], name="insights_seggap_key")]

    def __str__(self) -> str:
        return f"{self.segment} {self.days} days {self.age_group}: {self.gaps}"
