from django.conf import settings
from django.contrib.auth.views import redirect_to_login

# Paths that authenticate some other way (ingest keys) or must be reachable signed out.
PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/admin/", "/api/v1/events", "/v1/", "/healthz", "/tracker.js",
                   "/webhooks/", "/demo-store/")  # store connections: the body's HMAC (events.connections)


class LoginRequiredMiddleware:
    """Every page but login requires a signed-in user.

    Django admin keeps its own login; key-authenticated ingest endpoints check their key.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse({"error": "authentication required"}, status=401)
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response that reaches Django: pages, API answers and CSV
    exports carry personal data and must not stay in a browser's or a proxy's cache. Static files are
    answered by WhiteNoise before this runs and keep their long cache lifetimes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils.cache import add_never_cache_headers

        response = self.get_response(request)
        if not getattr(response, "public_cache", False):  # e.g. /tracker.js: the same for everyone
            add_never_cache_headers(response)
        return response
