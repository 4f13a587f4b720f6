from django.contrib import admin
from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("healthz", healthz, name="healthz"),
    # Pages without <link rel="icon"> (the admin's, a JSON answer opened in a tab) make browsers ask here.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg")), name="favicon"),
    path("demo-store/", include("demostore.urls")),
    path("", include("events.urls")),
    path("", include("insights.urls")),
    path("", include("ml.urls")),
]
