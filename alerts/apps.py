from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alerts.selectors import alert_notices
        from insights.extensions import register_dashboard_notices

        register_dashboard_notices(alert_notices)
