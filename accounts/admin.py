from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "role_name", "is_active", "last_login")
    list_filter = ("groups", "is_active", "is_staff")

    @admin.display(description="Role")
    def role_name(self, obj: User) -> str:
        return obj.role or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")
