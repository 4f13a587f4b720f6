from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "ml"
    verbose_name = "Purchase-likelihood model"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ml import page_extensions

        page_extensions.register()
