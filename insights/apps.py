from django.apps import AppConfig


def _on_logout(sender, request, user, **kwargs):
    """Logging out closes that session's dashboard sockets (they would otherwise keep pushing)."""
    from insights.services import dashboard_session_end

    session = getattr(request, "session", None)
    dashboard_session_end(session_key=getattr(session, "session_key", None))


class InsightsConfig(AppConfig):
    name = "insights"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(_on_logout, dispatch_uid="insights.close_dashboard_sockets")
