"""Key-authenticated ingest endpoints (included at the site root)."""

from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("api/v1/events", views.events_api, name="api-events"),
    path("v1/batch", views.segment_batch, name="segment-batch"),
    path("v1/track", views.segment_track, name="segment-track"),
]
