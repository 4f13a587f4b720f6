from django.contrib import admin

from experiments.models import Experiment
from experiments.services import experiment_outcomes_refresh


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """An experiment's design (docs/experiments.md): saving a new window or end recomputes its outcomes."""

    list_display = ("name", "control", "started_at", "ended_at", "window_days", "source")
    list_filter = ("source",)
    search_fields = ("name",)
    readonly_fields = ("created_at", "source")

    def has_add_permission(self, request):
        return False  # created by its first exposure

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if {"window_days", "ended_at"} & set(form.changed_data):
            experiment_outcomes_refresh(experiment_pk=obj.pk)
