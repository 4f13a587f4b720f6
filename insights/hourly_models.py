"""Hour-grained rollups beside ``SessionHourly`` (docs/alerts-and-reports.md#metrics): what hourly alert
series read where the day-grained tables are too coarse."""

from __future__ import annotations

from django.db import models


class CartHourly(models.Model):
    """Cart outcomes by the hour their session started (UTC) × the session's traffic channel
    (``insights.contributions``: ``carts_hourly``). ``carts_open`` counts carts whose session may still
    continue: they are in neither rate (docs/metrics.md), and an hour with open carts is not final."""

    hour = models.DateTimeField()
    channel = models.CharField(max_length=20)
    carts_open = models.BigIntegerField(default=0)
    carts_converted = models.BigIntegerField(default=0)
    carts_abandoned = models.BigIntegerField(default=0)
    carts_emptied = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "channel"], name="insights_cah_key")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.channel}: {self.carts_abandoned} abandoned"
