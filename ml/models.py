from __future__ import annotations

from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    """One trained purchase-likelihood model: its data window, holdout metrics and artifact file.

    At most one version is active (a database constraint); scoring uses it. A new version is
    activated only when its holdout ROC AUC is not worse than the active one's by more than the
    tolerance; otherwise it is kept, inactive, with the reason in ``decision``.
    """

    class Trigger(models.TextChoices):
        COMMAND = "command", "manage.py train_model"
        SCHEDULE = "schedule", "Scheduled retraining"
        WEB = "web", "Retrain button"
        TEST = "test", "Test"

    trained_at = models.DateTimeField(default=timezone.now, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.COMMAND)
    since = models.DateField(null=True, blank=True, help_text="Only carts opened on or after this date.")
    data_start = models.DateTimeField(null=True, blank=True, help_text="First cart decision time used.")
    data_end = models.DateTimeField(null=True, blank=True, help_text="Last cart decision time used.")
    split_at = models.DateTimeField(null=True, blank=True, help_text="Holdout carts decided at or after this.")
    events_count = models.PositiveIntegerField(default=0)
    carts_count = models.PositiveIntegerField(default=0)
    train_rows = models.PositiveIntegerField(default=0)
    test_rows = models.PositiveIntegerField(default=0)
    roc_auc = models.FloatField(null=True, blank=True, help_text="Holdout ROC AUC.")
    baseline_roc_auc = models.FloatField(null=True, blank=True, help_text="Logistic regression, same holdout.")
    threshold = models.FloatField(default=0.5)
    metrics = models.JSONField(default=dict)
    features = models.JSONField(default=list)
    params = models.JSONField(default=dict)
    artifact = models.CharField(max_length=255, help_text="joblib file name under MODEL_DIR.")
    sha256 = models.CharField(max_length=64)
    duration_seconds = models.FloatField(default=0)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    decision = models.TextField(blank=True, help_text="Why this version is (not) active.")

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                    name="ml_one_active_model_version"),
            models.CheckConstraint(condition=models.Q(roc_auc__isnull=True) | models.Q(roc_auc__gte=0, roc_auc__lte=1),
                                   name="ml_model_version_roc_auc_0_1"),
        ]

    def __str__(self) -> str:
        auc = "n/a" if self.roc_auc is None else f"{self.roc_auc:.3f}"
        state = " (active)" if self.is_active else ""
        return f"v{self.pk} {self.trained_at:%Y-%m-%d %H:%M} AUC {auc}{state}"


class CartScore(models.Model):
    """The active model's purchase probability for a cart that is still open (refreshed every minute)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="cart_scores")
    session_key = models.CharField(max_length=200, help_text="The metrics engine's session key.")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="cart_scores")
    probability = models.FloatField()
    items = models.PositiveBigIntegerField(default=0)
    value = models.DecimalField(max_digits=18, decimal_places=2, default=0)  # as wide as the carts' value
    opened_at = models.DateTimeField()
    decided_at = models.DateTimeField(help_text="The cart's last event used for the score.")
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-value", "probability"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "session_key"], name="ml_cart_score_unique_cart"),
            models.CheckConstraint(condition=models.Q(probability__gte=0, probability__lte=1),
                                   name="ml_cart_score_probability_0_1"),
        ]
        indexes = [models.Index(fields=["probability"], name="ml_cart_score_prob_idx")]

    def __str__(self) -> str:
        return f"cart {self.session_key} of {self.customer_id}: {self.probability:.0%}"


class RetrainRequest(models.Model):
    """One retraining asked for (retrain button or schedule), from queued to finished.

    At most one is open (queued or running) at a time: a database constraint, so concurrent requests
    cannot both queue a full training. One that stays open past ``ml.services.RETRAIN_STALE_AFTER``
    (a worker killed mid-training) is closed as expired by the next request."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    is_open = models.BooleanField(default=True, help_text="Queued or running.")
    trigger = models.CharField(max_length=10, choices=ModelVersion.Trigger.choices,
                               default=ModelVersion.Trigger.WEB)
    requested_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_open"], condition=models.Q(is_open=True),
                                    name="ml_one_open_retrain_request"),
        ]

    def __str__(self) -> str:
        return f"retraining {self.state} (requested {self.requested_at:%Y-%m-%d %H:%M} UTC)"


class PredictionRun(models.Model):
    """One training and scoring run of the customer predictions (purchase and churn in 7 days).

    ``targets`` holds, per target, its eligibility (GA4's rule) with the reason and counts, and when eligible
    the families compared and the chosen one (docs/retention-and-predictions.md#customer-predictions)."""

    trained_at = models.DateTimeField(default=timezone.now, db_index=True)
    trigger = models.CharField(max_length=10, choices=ModelVersion.Trigger.choices,
                               default=ModelVersion.Trigger.COMMAND)
    cutoff = models.DateTimeField(help_text="Scoring time: features up to here, predictions for the 7 days after.")
    holdout_cutoff = models.DateTimeField(help_text="The newest labelled cut-off (the holdout week).")
    events_count = models.PositiveIntegerField(default=0)
    rows_count = models.PositiveIntegerField(default=0, help_text="Customer-weeks in the training frame.")
    scored_count = models.PositiveIntegerField(default=0, help_text="Customers active in the last 28 days.")
    targets = models.JSONField(default=dict)
    artifact = models.CharField(max_length=255, blank=True, help_text="joblib file name under MODEL_DIR.")
    sha256 = models.CharField(max_length=64, blank=True)
    duration_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"predictions run {self.pk} at {self.trained_at:%Y-%m-%d %H:%M}"


class CustomerPrediction(models.Model):
    """The latest run's predictions for one customer active in the 28 days before its cut-off. A probability
    is null when its target was not eligible in that run."""

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="prediction")
    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="predictions")
    purchase_probability = models.FloatField(null=True, blank=True)
    churn_probability = models.FloatField(null=True, blank=True)
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(purchase_probability__isnull=True)
                                   | models.Q(purchase_probability__gte=0, purchase_probability__lte=1),
                                   name="ml_customer_prediction_purchase_0_1"),
            models.CheckConstraint(condition=models.Q(churn_probability__isnull=True)
                                   | models.Q(churn_probability__gte=0, churn_probability__lte=1),
                                   name="ml_customer_prediction_churn_0_1"),
        ]
        indexes = [models.Index(fields=["purchase_probability"], name="ml_cpred_purchase_idx"),
                   models.Index(fields=["churn_probability"], name="ml_cpred_churn_idx")]

    def __str__(self) -> str:
        return f"predictions of customer {self.customer_id}"


class AudienceMember(models.Model):
    """A customer in a predictive audience of a predictions run (replaced with each run: ml/audiences.py)."""

    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="audience_members")
    audience = models.CharField(max_length=40, db_index=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "customer"], name="ml_audience_member_unique")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.audience}"
