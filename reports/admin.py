"""Report subscriptions are managed here; each period's send is a read-only log row."""

from django.contrib import admin

from reports.models import ReportSend, ReportSubscription


class SendInline(admin.TabularInline):
    model = ReportSend
    extra = 0
    can_delete = False
    readonly_fields = ("period_start", "claimed_at", "sent_at", "attempts", "error")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "page", "filters", "frequency", "time_zone", "send_hour", "enabled")
    list_filter = ("page", "frequency", "enabled")
    inlines = [SendInline]
