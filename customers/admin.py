from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name", "email", "age", "age_group", "city", "country", "signed_up_at")
    list_filter = ("age_group", "gender", "country")
    search_fields = ("external_id", "name", "email", "city")
    readonly_fields = ("age_group", "created_at")
    show_full_result_count = False
