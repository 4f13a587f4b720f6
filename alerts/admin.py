"""Alert rules and destinations are edited here (admins); incidents and deliveries are read-only logs."""

from django.contrib import admin
from django.db import models

from alerts.models import AlertRule, Delivery, DeliveryAttempt, Destination, Incident


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "url", "enabled")
    list_filter = ("kind", "enabled")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "metric", "channel", "direction", "sensitivity", "min_volume", "consecutive_hours",
                    "enabled", "evaluated_through")
    list_filter = ("metric", "enabled")
    filter_horizontal = ("destinations",)
    readonly_fields = ("evaluated_through", "streak", "streak_start")


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(_ReadOnly):
    list_display = ("rule", "started_hour", "fired_at", "ended_hour", "summary")
    list_filter = ("rule",)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("at", "status_code", "response", "error", "retry_in_seconds")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    list_display = ("incident", "destination", "event", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "event")
    readonly_fields = ("incident", "destination", "event", "payload", "status", "attempts", "created_at",
                       "delivered_at")
    inlines = [AttemptInline]
