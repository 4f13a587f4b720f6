from django.contrib import admin

from insights.models import Cart, PendingWindow, Session


class DerivedAdmin(admin.ModelAdmin):
    """Derived from events by the metrics engine (and rebuilt by ``rebuild_rollups``): read-only for
    everyone. A hand-made, edited or deleted row would disagree with the events and the rollups."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(DerivedAdmin):
    list_display = ("key", "customer", "started_at", "last_event_at", "event_count", "funnel_step", "purchased",
                    "revenue", "closed")
    list_filter = ("closed", "purchased", "funnel_step", "age_group")
    list_select_related = ("customer",)
    date_hierarchy = "started_at"


@admin.register(Cart)
class CartAdmin(DerivedAdmin):
    list_display = ("pk", "customer", "state", "items", "value", "revenue_left", "opened_at", "closed_at")
    list_filter = ("state", "age_group")
    list_select_related = ("customer",)


@admin.register(PendingWindow)
class PendingWindowAdmin(DerivedAdmin):
    list_display = ("pk", "created_at", "__str__")
