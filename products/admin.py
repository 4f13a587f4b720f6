from django.contrib import admin

from products.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("external_id", "title", "category", "price")
    list_filter = ("category",)
    search_fields = ("external_id", "title")
