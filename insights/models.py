"""Derived analytics: sessions, carts and rollups (docs/metrics.md). Events stay the source of truth;
everything here can be rebuilt from them with ``manage.py rebuild_rollups``."""

from __future__ import annotations

from django.db import models

from insights.counter_models import ProductShares, SessionCounters
from insights.derivation import DerivedSession
from insights.fields import money_field as _money


class CartState(models.TextChoices):
    OPEN = "open", "Open"
    CONVERTED = "converted", "Converted"
    ABANDONED = "abandoned", "Abandoned"
    EMPTIED = "emptied", "Emptied"


class Session(models.Model):
    """One derived session (docs/metrics.md#sessions). ``summary`` holds the derivation's full output so that its
    contribution to the rollups can be taken out exactly when a late event re-derives it."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="sessions",
                                 db_index=False)  # the customer-led indexes below serve it
    key = models.CharField(max_length=140, help_text="'s:<client session id>' or 'g:<start time>'.")
    session_id = models.CharField(max_length=100, blank=True)
    age_group = models.CharField(max_length=8)
    started_at = models.DateTimeField()
    last_event_at = models.DateTimeField()
    closed = models.BooleanField(default=False, help_text="Idle for 30 minutes: it cannot continue.")
    event_count = models.PositiveIntegerField(default=0)
    funnel_step = models.PositiveSmallIntegerField(default=0)
    purchased = models.BooleanField(default=False)
    revenue = _money()
    discounts = _money()  # its orders' discounts (insights.money)
    order_count = models.PositiveIntegerField(default=0)
    # Traffic source of the session (insights.channels, from its first event's context).
    channel = models.CharField(max_length=20, default="Direct", db_default="Direct")
    source = models.CharField(max_length=200, blank=True, default="", db_default="")
    medium = models.CharField(max_length=100, blank=True, default="", db_default="")
    campaign = models.CharField(max_length=200, blank=True, default="", db_default="")
    landing_page = models.CharField(max_length=500, blank=True, default="", db_default="")
    summary = models.JSONField()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "key"], name="insights_session_customer_key"),
            models.CheckConstraint(condition=models.Q(funnel_step__lte=4), name="insights_session_funnel_0_4"),
        ]
        indexes = [
            models.Index(fields=["customer", "last_event_at"], name="insights_sess_cust_last_idx"),
            models.Index(fields=["closed", "last_event_at"], name="insights_sess_open_idx"),
            # A customer's first session (first-touch channel).
            models.Index(fields=["customer", "started_at"], name="insights_sess_cust_start_idx"),
            # A channel's sessions in a period: its distinct visitors; its buyers and top customers from
            # the purchasing ones (index-only on PostgreSQL).
            models.Index(fields=["channel", "started_at"], include=["customer", "age_group"],
                         name="insights_sess_chan_start_idx"),
            models.Index(fields=["channel", "started_at"], condition=models.Q(purchased=True),
                         include=["customer", "age_group", "revenue", "discounts", "order_count"],
                         name="insights_sess_chan_buy_idx"),
        ]

    def __str__(self) -> str:
        return f"Session {self.key} of customer {self.customer_id}"

    def derived(self) -> DerivedSession:
        """The derivation's output this row was saved from (``summary``, read back), so readers never
        depend on the summary's stored keys."""
        return DerivedSession.from_json(self.summary)


class Cart(models.Model):
    """The cart opened by a session's first add_to_cart."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="cart")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="carts", db_index=False)
    age_group = models.CharField(max_length=8)
    # its session's traffic channel, copied when both are derived (a session's channel never changes in place)
    channel = models.CharField(max_length=20, default="Direct", db_default="Direct")
    state = models.CharField(max_length=10, choices=CartState.choices)
    items = models.PositiveBigIntegerField(default=0)  # a sum of quantities (each up to 2^31 - 1)
    value = _money()
    revenue_left = _money()
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=CartState.values), name="insights_cart_state_valid"),
            models.CheckConstraint(
                condition=models.Q(state="open", closed_at__isnull=True) | ~models.Q(state="open"),
                name="insights_cart_open_not_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "closed_at"], include=["customer", "revenue_left", "age_group", "channel"],
                         name="insights_cart_state_closed_idx"),  # a week's abandoned carts, index-only
            models.Index(fields=["customer", "opened_at"], name="insights_cart_cust_idx"),
        ]

    def __str__(self) -> str:
        return f"Cart {self.pk} ({self.state})"


class PendingWindow(models.Model):
    """The customers' time windows one ingest batch touched, whose sessions must be re-derived (one row a
    batch, written in the ingest transaction; processed every few seconds by ``process_pending_analytics_task``).

    A window whose derivation failed is *set aside* (``insights.set_aside``): a row of its own, one
    customer's window, with the error, the number of failed attempts and when it is tried again;
    the other windows are derived without it."""

    windows = models.JSONField(help_text='{"<customer pk>": [<first epoch second>, <last epoch second + 1>]}')
    events = models.PositiveIntegerField(default=0, help_text="Events of the batch waiting to be derived.")
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0, db_default=0,
                                           help_text="Failed derivations of this window (0: not failed: queued).")
    last_error = models.TextField(blank=True, default="", db_default="", help_text="Why the last attempt failed.")
    retry_at = models.DateTimeField(null=True, blank=True, help_text="Not tried again before this time.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        if self.attempts:
            return f"customer {', '.join(self.windows)}: set aside after {self.attempts} failed attempts"
        return f"{len(self.windows)} customers at {self.created_at:%Y-%m-%d %H:%M:%S}"


# --- Rollups (see insights/contributions.py for what each holds) --------------------------------


class EventHourly(models.Model):
    hour = models.DateTimeField()
    action = models.CharField(max_length=20)
    age_group = models.CharField(max_length=8)
    events = models.BigIntegerField(default=0)
    quantity = models.BigIntegerField(default=0)
    revenue = _money()
    discounts = _money()  # order discounts (insights.money): net = revenue − discounts − refunds
    refunds = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "action", "age_group"], name="insights_evh_key")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.action} {self.age_group}: {self.events}"


class EventDaily(models.Model):
    day = models.DateField()
    action = models.CharField(max_length=20)
    age_group = models.CharField(max_length=8)
    category = models.CharField(max_length=100)
    events = models.BigIntegerField(default=0)
    quantity = models.BigIntegerField(default=0)
    revenue = _money()
    discounts = _money()  # order discounts (insights.money): net = revenue − discounts − refunds
    refunds = _money()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "action", "age_group", "category"], name="insights_evd_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.action} {self.age_group} {self.category}: {self.events}"


class SessionHourly(models.Model):
    hour = models.DateTimeField()
    age_group = models.CharField(max_length=8)
    channel = models.CharField(max_length=20, default="Direct")  # the session's (insights.channels)
    sessions = models.BigIntegerField(default=0)
    purchasing_sessions = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)  # the sessions' events, revenue and discounts, by their start
    revenue = _money()
    discounts = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "age_group", "channel"], name="insights_ssh_key")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.age_group}: {self.sessions}"


class SessionDaily(SessionCounters):
    """category "" holds every session; a named category holds the sessions that touched it. ``channel``
    is the session's traffic channel (insights.channels). ``events`` and ``discounts`` (the sessions'
    events and their orders' discounts) are kept on whole-session rows (category "") only."""

    day = models.DateField()
    age_group = models.CharField(max_length=8)
    category = models.CharField(max_length=100)
    channel = models.CharField(max_length=20, default="Direct")
    events = models.BigIntegerField(default=0)
    discounts = _money()

    class Meta:
        # category first: every read names one ("" for whole sessions) and a range of days; or every category
        constraints = [models.UniqueConstraint(fields=["category", "day", "age_group", "channel"],
                                               name="insights_ssd_key")]
        indexes = [models.Index(fields=["day"], condition=~models.Q(category=""), name="insights_ssd_cat_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.age_group} {self.category or '*'}: {self.sessions}"


class TrafficDaily(models.Model):
    """Sessions by store day × traffic source (insights.channels), placed by the session's start.
    ``revenue`` is gross (cancelled orders out); ``discounts`` are the orders' own; refunds are
    counted by the refund's day in other rollups and are not attributed to a channel."""

    day = models.DateField()
    channel = models.CharField(max_length=20)
    source = models.CharField(max_length=200)
    medium = models.CharField(max_length=100)
    campaign = models.CharField(max_length=200)
    sessions = models.BigIntegerField(default=0)
    purchasing_sessions = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    revenue = _money()
    discounts = _money()
    carts_converted = models.BigIntegerField(default=0)
    carts_abandoned = models.BigIntegerField(default=0)
    carts_emptied = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "source", "medium", "campaign"],
                                    name="insights_trd_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.source}/{self.medium}: {self.sessions}"


class ProductCounters(ProductShares):
    """A product's share of the sessions placed on a day (insights.contributions ``_add_product_rows``)."""

    day = models.DateField()

    class Meta:
        abstract = True


class ProductDaily(ProductCounters):
    refunds = _money()  # refunded lines of the product, by the refund's day
    refunded_units = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "product_id", "age_group"], name="insights_prd_key")]

    def __str__(self) -> str:
        return f"{self.day} product {self.product_id} {self.age_group}"


class ProductChannelDaily(ProductCounters):
    """``ProductDaily`` split by the session's traffic channel, read only with a channel filter (the
    unfiltered products page keeps its narrower table). Refunds have no channel: not kept here."""

    channel = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "day", "product_id", "age_group"],
                                               name="insights_pcd_key")]

    def __str__(self) -> str:
        return f"{self.day} product {self.product_id} {self.age_group} {self.channel}"


class CustomerDaily(models.Model):
    day = models.DateField()
    customer_id = models.BigIntegerField()
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
    discounts = _money()  # order discounts (insights.money): net = revenue − discounts − refunds
    refunds = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "customer_id"], name="insights_cud_key")]
        indexes = [
            models.Index(fields=["customer_id", "day"], name="insights_cud_cust_idx"),
            # Distinct active customers and buyers in a date range (KPIs) and top customers by revenue
            # come from index-only scans of these (INCLUDE: PostgreSQL), not from the wide table.
            models.Index(fields=["day", "customer_id"], condition=models.Q(events__gt=0),
                         name="insights_cud_active_idx"),
            models.Index(fields=["day", "customer_id"], condition=models.Q(revenue__gt=0),
                         include=["revenue", "orders", "discounts", "refunds"], name="insights_cud_buyers_idx"),
            # Customers' order days (a segment's cohorts, insights.selectors.segment_retention), index-only.
            # Also the period revenue of a few customers (the top customers' bounded read: revenue > 0).
            models.Index(fields=["customer_id", "day"], condition=models.Q(orders__gt=0) | models.Q(revenue__gt=0),
                         include=["orders", "revenue", "discounts", "refunds"], name="insights_cud_orders_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} customer {self.customer_id}"


class CartValueDaily(models.Model):
    day = models.DateField()
    age_group = models.CharField(max_length=8)
    category = models.CharField(max_length=100)
    bucket = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=20, default="Direct")
    carts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "day", "age_group", "bucket", "channel"],
                                    name="insights_cvd_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} bucket {self.bucket}: {self.carts}"


class CustomerTotals(models.Model):
    """All-time figures per customer (CLV, RFM)."""

    customer_id = models.BigIntegerField(primary_key=True)
    events = models.BigIntegerField(default=0)
    revenue = _money()
    discounts = _money()  # order discounts (insights.money): net = revenue − discounts − refunds
    refunds = _money()
    sessions = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField(null=True)
    first_channel = models.CharField(max_length=20, blank=True, default="")  # of the first session (first touch)
    # that session's key: of two sessions starting at the same instant the smaller key is the first
    first_session = models.CharField(max_length=140, blank=True, default="")
    last_seen = models.DateTimeField(null=True)
    last_purchase_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["revenue"], name="insights_cut_revenue_idx")]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: {self.revenue}"


# Models living in their own modules (CLV, copies, retention…), imported here so Django finds them.
from insights.clv.models import ClvFit, ClvPrediction  # noqa: E402, F401
from insights.copy_models import MonthCopy  # noqa: E402, F401
from insights.hourly_models import CartHourly  # noqa: E402, F401
from insights.kept_models import CustomerRfm, ProductPairTotal, RfmRefresh  # noqa: E402, F401
from insights.moves.models import HistoryMove  # noqa: E402, F401
from insights.retention_models import (  # noqa: E402, F401
    BuyerOrders,
    CohortMonthly,
    CustomerFirstOrder,
    DailyPeople,
    OrderGap,
    ProductPairDaily,
)
