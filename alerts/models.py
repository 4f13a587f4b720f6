"""Alert rules, their destinations, the hours they evaluated, their incidents and every delivery
(docs/alerts-and-reports.md#alert-rules)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from alerts.metrics import METRIC_CHOICES
from alerts.targets import TargetRefused, webhook_target


def new_secret() -> str:
    return secrets.token_hex(32)


class Destination(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON POST)"
        EMAIL = "email", "E-mail"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField(blank=True, help_text="Webhook: where the signed JSON is POSTed.")
    secret = models.CharField(max_length=128, default=new_secret,
                              help_text="Webhook: the HMAC-SHA256 key of the X-Alert-Signature header.")
    emails = models.TextField(blank=True, help_text="E-mail: addresses, one a line or comma-separated.")
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        """The admin's checks: a webhook needs a URL that may receive it (alerts.targets), an e-mail
        destination an address."""
        super().clean()
        if self.kind == self.Kind.WEBHOOK:
            if not self.url:
                raise ValidationError({"url": "A webhook destination needs a URL."})
            try:
                webhook_target(self.url, allow_private=settings.ALERTS_WEBHOOK_ALLOW_PRIVATE)
            except TargetRefused as exc:
                raise ValidationError({"url": str(exc)}) from exc
        elif self.kind == self.Kind.EMAIL and not self.recipients():
            raise ValidationError({"emails": "An e-mail destination needs at least one address."})

    def recipients(self) -> list[str]:
        return [a.strip() for a in self.emails.replace(",", "\n").splitlines() if a.strip()]


class AlertRule(models.Model):
    class Direction(models.TextChoices):
        UP = "up", "Above the band"
        DOWN = "down", "Below the band"
        BOTH = "both", "Either side"

    class Sensitivity(models.TextChoices):
        LOW = "low", "Low (99% band)"
        MEDIUM = "medium", "Medium (95% band)"
        HIGH = "high", "High (90% band)"

    name = models.CharField(max_length=100, unique=True)
    metric = models.CharField(max_length=30, choices=METRIC_CHOICES)
    channel = models.CharField(max_length=20, blank=True, help_text="A traffic channel, or blank for all.")
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.BOTH)
    sensitivity = models.CharField(max_length=6, choices=Sensitivity.choices, default=Sensitivity.MEDIUM)
    min_volume = models.PositiveIntegerField(
        default=20, help_text="Hours with less volume are not judged (rates: sessions or finished carts; "
                              "counts: the expected value).")
    consecutive_hours = models.PositiveSmallIntegerField(default=2, help_text="K: hours in a row outside the band.")
    quiet_start = models.PositiveSmallIntegerField(null=True, blank=True,
                                                   help_text="Quiet hours from (store time, 0-23): not judged.")
    quiet_end = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Quiet hours until (exclusive).")
    destinations = models.ManyToManyField(Destination, blank=True)
    enabled = models.BooleanField(default=True)
    # Evaluation state (services only): the last hour judged and the current run: of hours outside the
    # band while no incident is open, of hours back inside it while one is (alerts.evaluation.advance).
    evaluated_through = models.DateTimeField(null=True, blank=True, editable=False)
    streak = models.PositiveIntegerField(default=0, editable=False)
    streak_start = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(consecutive_hours__gte=1), name="alerts_rule_k_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Evaluation(models.Model):
    """One complete hour judged by one rule: what the chart of the Alerts page draws."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="evaluations")
    hour = models.DateTimeField()
    status = models.CharField(max_length=12)  # alerts.evaluation: normal, breach, no_data, low_volume, quiet
    actual = models.FloatField(null=True)
    expected = models.FloatField(null=True)
    low = models.FloatField(null=True)
    high = models.FloatField(null=True)
    volume = models.FloatField(null=True)

    class Meta:
        ordering = ["rule", "hour"]
        constraints = [models.UniqueConstraint(fields=["rule", "hour"], name="alerts_evaluation_rule_hour")]

    def __str__(self) -> str:
        return f"{self.rule} {self.hour:%Y-%m-%d %H}h: {self.status}"


class Incident(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    started_hour = models.DateTimeField(help_text="The first hour of the run outside the band.")
    fired_at = models.DateTimeField()
    ended_hour = models.DateTimeField(null=True, blank=True, help_text="The first hour back inside the band.")
    ended_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField()

    class Meta:
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "started_hour"], name="alerts_incident_rule_start"),
            models.UniqueConstraint(fields=["rule"], condition=models.Q(ended_at__isnull=True),
                                    name="alerts_incident_one_open"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} from {self.started_hour:%Y-%m-%d %H}h"


class Delivery(models.Model):
    """One message (an incident fired or ended) to one destination; its attempts are logged."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (retries exhausted)"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=6)  # "fired" | "ended"
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["incident", "destination", "event"],
                                               name="alerts_delivery_once")]

    def __str__(self) -> str:
        return f"{self.incident} {self.event} → {self.destination}: {self.status}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.TextField(blank=True, help_text="The answer's first 500 characters.")
    error = models.TextField(blank=True)
    retry_in_seconds = models.PositiveIntegerField(null=True, help_text="The backoff before the next attempt.")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.at:%H:%M:%S}: {self.status_code or self.error[:40]}"
