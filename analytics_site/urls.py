from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("healthz", healthz, name="healthz"),
    path("demo-store/", include("demostore.urls")),
    path("", include("alerts.urls")),
    path("", include("reports.urls")),  # before insights: /api/v1/metrics/alerts is not an insights panel
    path("", include("events.urls")),
    path("", include("experiments.urls")),  # before insights: /api/v1/metrics/experiments is its own
    path("", include("insights.urls")),
    path("", include("ml.urls")),
]
