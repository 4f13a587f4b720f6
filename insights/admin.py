from django.contrib import admin

from insights.models import Cart, PendingWindow, Session


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("key", "customer", "started_at", "last_event_at", "event_count", "funnel_step", "purchased",
                    "revenue", "closed")
    list_filter = ("closed", "purchased", "funnel_step", "age_group")
    raw_id_fields = ("customer",)
    readonly_fields = [f.name for f in Session._meta.fields]
    date_hierarchy = "started_at"


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("pk", "customer", "state", "items", "value", "revenue_left", "opened_at", "closed_at")
    list_filter = ("state", "age_group")
    raw_id_fields = ("customer", "session")
    readonly_fields = [f.name for f in Cart._meta.fields]


@admin.register(PendingWindow)
class PendingWindowAdmin(admin.ModelAdmin):
    list_display = ("pk", "created_at", "__str__")
