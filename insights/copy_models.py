"""Month copies of rollups (``insights.month_copies``, docs/derivation.md#month-copies-of-the-rollups): a
closed month of a rollup summed once, so a long period reads a dozen rows a key instead of a year of
hours or days; which months are copied, and the days written since (what keeps the copies exact)."""

from __future__ import annotations

from django.db import models

from insights.counter_models import ProductShares, SessionCounters
from insights.fields import money_field as _money

ALL = "*"  # in a month copy's key column: the row is summed over every value of it


class EventSlotMonthly(models.Model):
    """``EventHourly`` summed per closed month of the store's time zone × local weekday × local hour: what
    seasonality reads for whole months instead of their 720-odd hours (``insights.month_copies``; kept on
    PostgreSQL only)."""

    month = models.DateField()  # the local month's first day
    weekday = models.SmallIntegerField()  # 0 = Monday, local
    hour = models.SmallIntegerField()  # 0–23, local
    action = models.CharField(max_length=20)  # ALL: summed over every action
    age_group = models.CharField(max_length=8)  # ALL: over every age group
    events = models.BigIntegerField(default=0)
    revenue = _money()  # of purchases and refunds only
    discounts = _money()
    refunds = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["age_group", "action", "month", "weekday", "hour"],
                                               name="insights_evslot_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} day {self.weekday} {self.hour}h {self.action} {self.age_group}: {self.events}"


class SessionSlotMonthly(models.Model):
    """``SessionHourly`` summed like ``EventSlotMonthly`` (by each session's local start)."""

    month = models.DateField()
    weekday = models.SmallIntegerField()
    hour = models.SmallIntegerField()
    age_group = models.CharField(max_length=8)
    channel = models.CharField(max_length=20)  # ALL: over every channel (so is age_group)
    sessions = models.BigIntegerField(default=0)
    purchasing_sessions = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)
    revenue = _money()
    discounts = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["age_group", "channel", "month", "weekday", "hour"],
                                               name="insights_ssslot_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} day {self.weekday} {self.hour}h {self.age_group} {self.channel}"


class MonthCopy(models.Model):
    """A month copied from a rollup (``source``, ``insights.month_copies.SOURCES``): in which time zone (""
    for day rollups, whose days are already store days), the UTC times it covers [lo, hi) and the first
    and last time of the rows it was copied from (a day as its UTC midnight; None: copied before they
    were kept), so a period that holds all of a month's rows reads the copy though it starts or ends
    inside the month (a store's first month, as "all history" reads it)."""

    source = models.CharField(max_length=20)
    month = models.DateField()
    time_zone = models.CharField(max_length=64)
    lo = models.DateTimeField()
    hi = models.DateTimeField()
    first = models.DateTimeField(null=True)
    last = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "month"], name="insights_monthcopy_key")]

    def __str__(self) -> str:
        return f"{self.source} {self.month:%Y-%m} ({self.time_zone})"


class MonthCopyNote(models.Model):
    """A day of a copied rollup written after it was over (a database trigger adds one a statement and day:
    the UTC day of an hour, or the store day): the copies of the months it overlaps are not read until the
    refresh recomputes them and deletes the notes it read. Rows are only added and deleted (no unique key),
    so concurrent writers never wait for each other here."""

    source = models.CharField(max_length=20)
    day = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["source", "day"], name="insights_copynote_idx")]

    def __str__(self) -> str:
        return f"{self.source} {self.day} written since its copy"


class SessionMonthly(SessionCounters):
    """``SessionDaily`` summed per closed month (store days): what carts and the KPIs read for whole months."""

    month = models.DateField()  # the month's first store day
    age_group = models.CharField(max_length=8)
    category = models.CharField(max_length=100)
    channel = models.CharField(max_length=20)
    events = models.BigIntegerField(default=0)
    discounts = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["category", "month", "age_group", "channel"],
                                               name="insights_ssm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.age_group} {self.category or '*'}: {self.sessions}"


class CartValueMonthly(models.Model):
    """``CartValueDaily`` summed per closed month (store days)."""

    month = models.DateField()
    age_group = models.CharField(max_length=8)
    category = models.CharField(max_length=100)
    bucket = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=20)
    carts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["category", "month", "age_group", "bucket", "channel"],
                                               name="insights_cvm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} bucket {self.bucket}: {self.carts}"


class EventMonthly(models.Model):
    """``EventDaily`` summed per closed month (store days): what the KPIs read for whole months."""

    month = models.DateField()
    action = models.CharField(max_length=20)
    age_group = models.CharField(max_length=8)
    category = models.CharField(max_length=100)
    events = models.BigIntegerField(default=0)
    quantity = models.BigIntegerField(default=0)
    revenue = _money()
    discounts = _money()
    refunds = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "action", "age_group", "category"],
                                               name="insights_evm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.action} {self.age_group} {self.category}: {self.events}"


class ProductMonthly(ProductShares):
    """``ProductDaily`` summed per closed month: what the products page and insights read for whole months."""

    month = models.DateField()
    refunds = _money()
    refunded_units = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "product_id", "age_group"], name="insights_prm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} product {self.product_id} {self.age_group}"


class ProductChannelMonthly(ProductShares):
    """``ProductChannelDaily`` summed per closed month."""

    month = models.DateField()

    channel = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "month", "product_id", "age_group"],
                                               name="insights_pcm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} product {self.product_id} {self.age_group} {self.channel}"


class ChannelPeopleMonthly(models.Model):
    """The customers with a session from a channel that started in a closed month of the store's time zone,
    per the session's age group: active (kind "v") and buying ("p", a purchasing session), each as a bitmap
    of customer pks (``insights.people``). A channel's distinct people over a long period are the bits of
    the OR of its months (``insights.selectors.channel_people``), not a distinct over every session."""

    month = models.DateField()  # the local month's first day
    channel = models.CharField(max_length=20)
    age_group = models.CharField(max_length=8)
    kind = models.CharField(max_length=1)
    bits = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "month", "age_group", "kind"],
                                               name="insights_chpm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.channel} {self.age_group} {self.kind}: {len(self.bits)} bytes"


class FirstTouchMonthly(models.Model):
    """The net-of-discounts revenue of a closed month's buyer days (``CustomerDaily`` rows with revenue) by
    each buyer's first-touch channel (``CustomerTotals.first_channel``, "" read as Direct): acquisition's
    first-touch revenue over whole months. Its buyers are counted from the people bitmaps instead (distinct
    customers cannot be summed over months)."""

    month = models.DateField()  # the month's first store day
    channel = models.CharField(max_length=20)
    revenue = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "channel"], name="insights_ftm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} first touch {self.channel}: {self.revenue}"


class PeopleMonthly(models.Model):
    """The OR of a closed month's ``DailyPeople`` bitmaps per kind (active, buying, anonymous among them):
    the distinct people of a long period read a dozen month rows instead of every day's."""

    month = models.DateField()  # the month's first store day
    kind = models.CharField(max_length=1)
    bits = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "month"], name="insights_pplm_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.kind}: {len(self.bits)} bytes"
