from django.conf import settings

from accounts import roles


def role(request):
    user = getattr(request, "user", None)
    current = getattr(user, "role", None) if user is not None and user.is_authenticated else None
    return {
        "user_role": current,
        "can_view_personal_data": bool(current) and user.can(roles.VIEW_PERSONAL_DATA),
        "can_export": bool(current) and user.can(roles.EXPORT_DATA),
        # Only roles that may open a single customer get links to one.
        "can_view_customer_detail": bool(current) and user.can(roles.VIEW_CUSTOMER_DETAIL),
        "is_admin_role": current == roles.Role.ADMIN,
        "demo_store_enabled": settings.DEMO_STORE_ENABLED,  # the header links to it only when it is served
    }
