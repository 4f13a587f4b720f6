"""Stored CLV fits and their per-customer predictions (imported by ``insights.models``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

# A fit needs at least this many customers with an order, and this many with a repeat order.
MIN_CUSTOMERS = 50
MIN_REPEAT_CUSTOMERS = 10


class ClvFit(models.Model):
    """One BG/NBD + Gamma-Gamma fit on the orders up to ``until``.

    ``parameters``: r, alpha (per day), alpha_weeks, a, b (BG/NBD, time in days) and p, q, gamma
    (Gamma-Gamma, in the store's money; absent when too few repeat buyers). ``diagnostics``:
    log-likelihoods, convergence, iterations, seconds and the holdout check's rows."""

    class Trigger(models.TextChoices):
        COMMAND = "command", "manage.py fit_clv"
        SCHEDULE = "schedule", "Nightly refit"
        TEST = "test", "Test"

    model_version = models.CharField(max_length=40, help_text="Which model and implementation made it.")
    fitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.COMMAND)
    until = models.DateField(help_text="Orders on or before this day (the store's days) were used.")
    customers = models.PositiveIntegerField(default=0, help_text="Customers with an order (fitted).")
    repeat_customers = models.PositiveIntegerField(default=0, help_text="Customers with a repeat order.")
    parameters = models.JSONField(default=dict)
    diagnostics = models.JSONField(default=dict)

    class Meta:
        ordering = ["-fitted_at", "-id"]

    def __str__(self) -> str:
        return f"CLV fit {self.pk} until {self.until} ({self.customers} customers)"


class ClvPrediction(models.Model):
    """A customer's predictions at the fit's ``until`` day."""

    class Tier(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    fit = models.ForeignKey(ClvFit, on_delete=models.CASCADE, related_name="predictions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="clv_predictions")
    orders = models.PositiveIntegerField(help_text="Order days up to the fit's until day (repeats + 1).")
    last_order = models.DateField()
    p_alive = models.FloatField()
    p_alive_before = models.FloatField(null=True, blank=True, help_text="In the fit before this one.")
    orders_90 = models.FloatField(help_text="Expected orders in the next 90 days.")
    orders_365 = models.FloatField(help_text="Expected orders in the next 365 days.")
    order_value = models.FloatField(help_text="Expected value of a future order.")
    clv_12m = models.FloatField(help_text="Predicted value of the next 12 months' orders.")
    clv_if_active = models.FloatField(help_text="The same had the customer not lapsed: clv_12m / P(alive).")
    next_order = models.DateField(null=True, blank=True, help_text="None: no order expected within two years.")
    tier = models.CharField(max_length=6, choices=Tier.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fit", "customer"], name="insights_clvpred_fit_customer"),
            models.CheckConstraint(condition=models.Q(p_alive__gte=0, p_alive__lte=1),
                                   name="insights_clvpred_p_alive_0_1"),
        ]
        indexes = [
            models.Index(fields=["fit", "-clv_12m"], name="insights_clvpred_value_idx"),
            models.Index(fields=["customer", "fit"], name="insights_clvpred_cust_idx"),
            models.Index(fields=["fit", "-clv_if_active"], name="insights_clvpred_active_idx"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in fit {self.fit_id}: {self.clv_12m:.2f} ({self.tier})"
