from django.urls import path

from insights import api_views

urlpatterns = [
    path("latest", api_views.metrics_latest, name="api-metrics-latest"),
    path("customers/<int:pk>", api_views.metrics_customer, name="api-metrics-customer"),
    path("<slug:panel>", api_views.metrics_panel, name="api-metrics"),
]
