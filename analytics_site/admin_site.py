from django.contrib import admin
from django.core.exceptions import PermissionDenied


class AnalyticsAdminSite(admin.AdminSite):
    """Django admin for the admin role only.

    A signed-in user without the admin role gets 403, not a second login form: they are who they
    say they are, they just may not be here.
    """

    site_header = "Customer analytics administration"
    site_title = "Customer analytics admin"
    index_title = "Data, users and ingest keys"

    def has_permission(self, request):
        return bool(request.user.is_active and request.user.is_staff)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        guarded.__wrapped__ = inner  # type: ignore[attr-defined]
        for attr in ("csrf_exempt",):
            if hasattr(inner, attr):
                setattr(guarded, attr, getattr(inner, attr))
        return guarded

    def login(self, request, extra_context=None):
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied
        return super().login(request, extra_context)
