from django.urls import include, path

urlpatterns = [
    path("api/v1/metrics/", include("insights.api_urls")),
    path("", include("insights.page_urls")),
]
