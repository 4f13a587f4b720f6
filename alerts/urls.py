from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.alerts_page, name="page"),
    path("api/v1/metrics/alerts", views.alerts_api, name="api"),
]
