"""Admin for store connections (admin role only, docs/security.md; other roles hold no model permission).

The webhook secret is typed in (it comes from the store: Shopify shows it under Notifications →
Webhooks, WooCommerce takes the one you choose), written through the service, stored encrypted
and never shown again: the form has a write-only password field, empty on every page, and leaving
it empty on an existing connection keeps the secret."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from events.connections.models import StoreConnection, WebhookDelivery


class StoreConnectionForm(forms.ModelForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=True,
        help_text="The store's webhook signing secret. Never shown again; leave empty to keep the current one.")

    class Meta:
        model = StoreConnection
        fields = ("platform", "slug", "is_active")

    def clean(self):
        cleaned = super().clean() or {}
        if self.instance.pk is None and not cleaned.get("secret"):
            self.add_error("secret", "A new connection needs the store's webhook secret.")
        return cleaned


@admin.register(StoreConnection)
class StoreConnectionAdmin(admin.ModelAdmin):
    form = StoreConnectionForm
    list_display = ("slug", "platform", "is_active", "webhook_path", "created_at", "last_delivery_at")
    list_filter = ("platform", "is_active")
    readonly_fields = ("webhook_path", "created_at", "last_delivery_at")
    fields = ("platform", "slug", "secret", "is_active", "webhook_path", "created_at", "last_delivery_at")

    def get_readonly_fields(self, request, obj=None):
        # Every event id from the store starts with the slug, and its URL holds the platform.
        return (*self.readonly_fields, "platform", "slug") if obj is not None else self.readonly_fields

    @admin.display(description="webhook URL path")
    def webhook_path(self, obj):
        return f"/webhooks/{obj.platform}/{obj.slug}/" if obj and obj.pk else "-"

    def save_model(self, request, obj, form, change):
        from events.connections.services import connection_create, connection_set_secret

        secret = form.cleaned_data.get("secret")
        if not change:
            created = connection_create(platform=obj.platform, slug=obj.slug, secret=secret)
            if not obj.is_active:
                StoreConnection.objects.filter(pk=created.pk).update(is_active=False)
                created.is_active = False
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)
            return
        super().save_model(request, obj, form, change)
        if secret:
            connection_set_secret(connection=obj, secret=secret)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Deliveries received (read-only): what each one stored."""

    list_display = ("received_at", "connection", "topic", "delivery_id", "outcome")
    list_filter = ("connection", "topic")
    search_fields = ("delivery_id",)
    list_select_related = ("connection",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
