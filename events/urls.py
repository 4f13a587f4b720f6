"""Key-authenticated ingest endpoints (included at the site root)."""

from django.urls import path

from events import views
from events.connections import views as connection_views

app_name = "events"

urlpatterns = [
    path("api/v1/events", views.events_api, name="api-events"),
    path("v1/batch", views.segment_batch, name="segment-batch"),
    path("v1/track", views.segment_track, name="segment-track"),
    path("webhooks/shopify/<slug:slug>/", connection_views.shopify_webhook, name="webhook-shopify"),
    path("webhooks/woocommerce/<slug:slug>/", connection_views.woocommerce_webhook, name="webhook-woocommerce"),
]
