from __future__ import annotations

from django.db import models


class Product(models.Model):
    external_id = models.CharField(max_length=100, unique=True, help_text="The store's own id.")
    title = models.CharField(max_length=300)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    image_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_gte_0"),
        ]
        indexes = [models.Index(fields=["title"], name="product_title_idx")]

    def __str__(self) -> str:
        return self.title
