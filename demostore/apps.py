from django.apps import AppConfig


class DemostoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "demostore"
    verbose_name = "Demo store"
