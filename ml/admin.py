from django.contrib import admin, messages

from ml.models import CartScore, ModelVersion
from ml.services import model_activate


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "trained_at", "trigger", "roc_auc", "baseline_roc_auc", "carts_count", "events_count",
                    "is_active", "decision")
    list_filter = ("is_active", "trigger")
    ordering = ("-trained_at", "-id")
    actions = ["activate"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Activate the selected version (rollback)", permissions=["view"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        model_activate(version=version, reason=f"activated by {request.user} in admin (rollback/manual)")
        self.message_user(request, f"{version} is now the active model.", messages.SUCCESS)


@admin.register(CartScore)
class CartScoreAdmin(admin.ModelAdmin):
    list_display = ("session_key", "customer", "probability", "items", "value", "model_version", "scored_at")
    list_select_related = ("customer",)
    readonly_fields = [f.name for f in CartScore._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
