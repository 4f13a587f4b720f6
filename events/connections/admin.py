"""Admin for store connections (admin role only, docs/security.md; other roles hold no model permission).

The webhook secret is typed in (it comes from the store: Shopify shows it under Notifications →
Webhooks, WooCommerce takes the one you choose), written through the service, stored encrypted
and never shown again: the form has a write-only password field, empty on every page, and leaving
it empty on an existing connection keeps the secret.

A connection's id space is chosen once, when it is added (docs/connections.md): the first one shares
the store's ids unless "own ids" is ticked; later ones are prefixed with their slug."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from events.connections.models import DeliveryStatus, StoreConnection, WebhookDelivery
from events.connections.translation import RESERVED_SLUGS


class StoreConnectionForm(forms.ModelForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=True,
        help_text="The store's webhook signing secret. Never shown again; leave empty to keep the current one.")
    own_ids = forms.BooleanField(
        required=False, label="Own ids",
        help_text="Prefix this store's customer, order and product ids with its slug even if it is the first "
                  "connection (a later connection always is). Leave unticked for the store whose ids the "
                  "tracker and the server keys send. Cannot be changed later.")

    class Meta:
        model = StoreConnection
        fields = ("platform", "slug", "is_active")

    def clean(self):
        cleaned = super().clean() or {}
        if self.instance.pk is None and not cleaned.get("secret"):
            self.add_error("secret", "A new connection needs the store's webhook secret.")
        if self.instance.pk is None and cleaned.get("slug") in RESERVED_SLUGS:
            self.add_error("slug", f"{cleaned['slug']} is reserved: customer ids starting with it mean something "
                                   "else.")
        return cleaned


@admin.register(StoreConnection)
class StoreConnectionAdmin(admin.ModelAdmin):
    form = StoreConnectionForm
    list_display = ("slug", "platform", "is_active", "id_space", "webhook_path", "created_at", "last_delivery_at")
    list_filter = ("platform", "is_active")
    readonly_fields = ("id_space", "webhook_path", "created_at", "last_delivery_at")
    fields = ("platform", "slug", "secret", "own_ids", "is_active", "id_space", "webhook_path", "created_at",
              "last_delivery_at")

    def get_readonly_fields(self, request, obj=None):
        # Every event id from the store starts with the slug, and its URL holds the platform.
        return (*self.readonly_fields, "platform", "slug") if obj is not None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else tuple(f for f in self.fields if f != "own_ids")

    @admin.display(description="ids")
    def id_space(self, obj):
        if not obj or not obj.pk:
            return "-"
        return "the store's own" if obj.shares_store_ids else f"prefixed {obj.id_prefix!r}"

    @admin.display(description="webhook URL path")
    def webhook_path(self, obj):
        return f"/webhooks/{obj.platform}/{obj.slug}/" if obj and obj.pk else "-"

    def save_model(self, request, obj, form, change):
        from events.connections.services import connection_create, connection_set_secret

        secret = form.cleaned_data.get("secret")
        if not change:
            created = connection_create(platform=obj.platform, slug=obj.slug, secret=secret,
                                        shares_store_ids=False if form.cleaned_data.get("own_ids") else None)
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
    """Deliveries received (read-only): what each one stored, and those kept until an exchange rate
    arrives (stored by ``import_rates``, or by the action here after adding rates by hand)."""

    list_display = ("received_at", "connection", "topic", "delivery_id", "status", "currency", "outcome")
    list_filter = ("status", "connection", "topic")
    search_fields = ("delivery_id",)
    list_select_related = ("connection",)
    show_full_result_count = False
    exclude = ("payload",)
    actions = ("replay_waiting",)

    @admin.action(description="Store the deliveries waiting for an exchange rate (all of them)")
    def replay_waiting(self, request, queryset):
        from events.connections.services import webhooks_replay_waiting

        if not queryset.filter(status=DeliveryStatus.WAITING_RATE).exists():
            self.message_user(request, "None of the selected deliveries waits for a rate.", messages.WARNING)
            return
        totals = webhooks_replay_waiting()
        self.message_user(request, f"{totals.stored} stored, {totals.waiting} still waiting for a rate, "
                                   f"{totals.refused} refused.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
