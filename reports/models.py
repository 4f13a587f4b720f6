"""Report subscriptions and the claim row that sends each period's e-mail once
(docs/alerts-and-reports.md#subscriptions)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

PAGE_CHOICES = [(p, p.capitalize()) for p in ("overview", "funnel", "seasonality", "customers", "products",
                                                "cohorts", "carts", "acquisition", "insights")]


class ReportSubscription(models.Model):
    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily (the day before)"
        WEEKLY = "weekly", "Weekly (Monday to Sunday before)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    page = models.CharField(max_length=20, choices=PAGE_CHOICES)
    filters = models.CharField(max_length=500, blank=True,
                               help_text="The page's filters as a query string (channel=Email&age_group=26-35); "
                                         "the dates are the period's.")
    frequency = models.CharField(max_length=6, choices=Frequency.choices, default=Frequency.WEEKLY)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="The user's time zone: days and weeks, "
                                                                          "and the hour it is sent, are its.")
    send_hour = models.PositiveSmallIntegerField(default=7, help_text="Sent after this hour (0-23) of the first day "
                                                                      "after the period, in its time zone.")
    email = models.EmailField(blank=True, help_text="Blank: the user's e-mail.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["user", "page"]

    def __str__(self) -> str:
        return f"{self.page} {self.frequency} for {self.user}"


class ReportSend(models.Model):
    """The claim on one period of one subscription: created before the e-mail is sent, so a second beat
    process (or a task run twice) finds it and sends nothing; ``sent_at`` is set once it is sent."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="sends")
    period_start = models.DateField()
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["subscription", "period_start"], name="reports_send_once")]

    def __str__(self) -> str:
        return f"{self.subscription} {self.period_start}: {'sent' if self.sent_at else 'claimed'}"
