"""Experiments and each visitor's first exposure with its outcome (docs/experiments.md).

``Exposure`` is the per-(experiment, visitor) table the readout adds up: the variant first recorded,
and what the visitor did after it within the experiment's window (converted, orders, net revenue)
and before it (net revenue: the CUPED covariate). The exposure service keeps it in step with ingest
(``experiments.services``). Would-be Citus distribution column: ``customer`` (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models


class Experiment(models.Model):
    """An experiment, created by its first exposure; its design (control, split, window, end) is edited in admin."""

    name = models.CharField(max_length=100, unique=True)
    control = models.CharField(max_length=100, blank=True, help_text=(
        "The control variant; blank: a variant named control, A, baseline, original or default, else the first "
        "by name."))
    weights = models.JSONField(default=dict, blank=True, help_text=(
        'The designed split, e.g. {"A": 50, "B": 50}; empty: equal. The sample-ratio check compares visitors '
        "against it."))
    window_days = models.PositiveIntegerField(null=True, blank=True, help_text=(
        "Days after exposure an order counts as a conversion; blank: EXPERIMENT_WINDOW_DAYS."))
    started_at = models.DateTimeField(help_text="The first exposure.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Orders after this count nowhere; blank: running.")
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.ForeignKey("events.Source", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               help_text="The browser key whose exposure created it (capped per key); blank: a "
                                         "trusted source's.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.name

    def window(self) -> timedelta:
        days = self.window_days if self.window_days is not None else settings.EXPERIMENT_WINDOW_DAYS
        return timedelta(days=days)

    def counts_until(self, exposed_at: datetime) -> datetime:
        """The end of a visitor's conversion window (exclusive)."""
        end = exposed_at + self.window()
        return min(end, self.ended_at) if self.ended_at is not None else end


class Exposure(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    variant = models.CharField(max_length=100)
    exposed_at = models.DateTimeField()
    is_bot = models.BooleanField(default=False)
    conflicting = models.BooleanField(default=False, help_text="Also seen in another variant: counted apart.")
    converted = models.BooleanField(default=False)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0,
                                  help_text="Net revenue of orders placed in the window after exposure.")
    pre_revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0,
                                      help_text="Net revenue of orders placed before exposure (CUPED).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "customer"], name="experiments_exposure_key")]
        indexes = [
            models.Index(fields=["customer"], name="experiments_exp_customer_idx"),
            # The readout's one pass over an experiment's rows: index-only on PostgreSQL.
            models.Index(fields=["experiment", "variant", "is_bot", "conflicting"],
                         include=["converted", "revenue", "pre_revenue"], name="experiments_exp_readout_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.variant}: customer {self.customer_id}"


class ExposureRecord(models.Model):
    """One exposure an event carried, as sent (the events table has no experiment columns): what
    ``rebuild_exposures`` re-derives ``Exposure`` from, and what goes when its source is removed."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=100)
    timestamp = models.DateTimeField()
    is_bot = models.BooleanField(default=False)
    source = models.ForeignKey("events.Source", on_delete=models.CASCADE, null=True, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.variant}: customer {self.customer_id} at {self.timestamp}"


class VariantStats(models.Model):
    """Per (experiment, variant, bot, conflicting): the sums the readout needs, kept in step with
    ``Exposure`` by ``experiments.tally`` (exact decimals: y = net revenue in the window, x = before)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="stats")
    variant = models.CharField(max_length=100)
    is_bot = models.BooleanField(default=False)
    conflicting = models.BooleanField(default=False)
    visitors = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    sum_y = models.DecimalField(max_digits=24, decimal_places=2, default=0)
    sum_yy = models.DecimalField(max_digits=34, decimal_places=4, default=0)
    sum_x = models.DecimalField(max_digits=24, decimal_places=2, default=0)
    sum_xx = models.DecimalField(max_digits=34, decimal_places=4, default=0)
    sum_xy = models.DecimalField(max_digits=34, decimal_places=4, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "variant", "is_bot", "conflicting"],
                                               name="experiments_variantstats_key")]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.variant}: {self.visitors} visitors"
