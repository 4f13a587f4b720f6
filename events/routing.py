"""Machine (ingest-key) WebSocket routes."""

from django.urls import path

from events.consumers import IngestConsumer

websocket_urlpatterns = [
    path("ws/events/", IngestConsumer.as_asgi()),
]
