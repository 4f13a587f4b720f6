"""Role checks for views: enforced on the server, not only hidden in templates."""

from functools import wraps

from django.core.exceptions import PermissionDenied


def capability_required(capability: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated or not user.can(capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
