"""Browser (session-authenticated) WebSocket routes."""

from django.urls import path

from insights.consumers import DashboardConsumer

websocket_urlpatterns: list = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
