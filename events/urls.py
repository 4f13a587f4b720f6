"""Key-authenticated ingest endpoints (included at the site root)."""

from django.urls import path

from events import views
from events.connections import views as connection_views

app_name = "events"

urlpatterns = [
    path("api/v1/events", views.events_api, name="api-events"),
    path("tracker.js", views.tracker_js, name="tracker-js"),
    path("v1/batch", views.segment_batch, name="segment-batch"),
    path("v1/b", views.segment_batch, name="segment-b"),
    path("v1/track", views.segment_track, name="segment-track"),
    path("webhooks/shopify/<slug:slug>/", connection_views.shopify_webhook, name="webhook-shopify"),
    path("webhooks/woocommerce/<slug:slug>/", connection_views.woocommerce_webhook, name="webhook-woocommerce"),
    path("v1/t", views.segment_track, name="segment-t"),
    path("v1/page", views.segment_page, name="segment-page"),
    path("v1/p", views.segment_page, name="segment-p"),
    path("v1/identify", views.segment_identify, name="segment-identify"),
    path("v1/i", views.segment_identify, name="segment-i"),
    path("v1/alias", views.segment_alias, name="segment-alias"),
    path("v1/a", views.segment_alias, name="segment-a"),
    path("v1/screen", views.segment_screen, name="segment-screen"),
    path("v1/s", views.segment_screen, name="segment-s"),
    path("v1/group", views.segment_group, name="segment-group"),
    path("v1/g", views.segment_group, name="segment-g"),
]
