from __future__ import annotations

from django.db import models

from customers.age import age_group_for  # the rule lives in customers.age; importable from here too

__all__ = ["AgeGroup", "Customer", "age_group_for"]


class AgeGroup(models.TextChoices):
    A18_25 = "18-25", "18–25"
    A26_35 = "26-35", "26–35"
    A36_45 = "36-45", "36–45"
    A46_55 = "46-55", "46–55"
    A56_65 = "56-65", "56–65"
    A66_PLUS = "66+", "66+"
    UNKNOWN = "unknown", "Unknown"


class Customer(models.Model):
    class Gender(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "", "Unknown"

    external_id = models.CharField(max_length=100, unique=True, help_text="The store's own id.")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    age_group = models.CharField(max_length=8, choices=AgeGroup.choices, default=AgeGroup.UNKNOWN,
                                 editable=False, help_text="Derived from age on save.")
    gender = models.CharField(max_length=10, choices=Gender.choices, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    signed_up_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Identity: this id turned out to be another customer's (an anonymous visitor who logged
    # in, an aliased id). Its events were moved there, and ingest stores later ones there too.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    editable=False, db_index=False,
                                    help_text="Merged into this customer by an identify or alias.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(age__isnull=True) | models.Q(age__gte=0, age__lte=120),
                name="customer_age_0_120",
            ),
        ]
        indexes = [models.Index(fields=["age_group"], name="customer_age_group_idx")]

    def __str__(self) -> str:
        return self.name or f"Customer {self.external_id}"

    def save(self, *args, **kwargs):
        self.age_group = age_group_for(self.age)
        super().save(*args, **kwargs)
