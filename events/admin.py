from django import forms
from django.contrib import admin

from events.models import Event, ExchangeRate, IngestKey, Source


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events are facts: read-only for everyone (list and detail only). Adding one here would skip
    validation and the derived sessions, carts and rollups; changing or deleting one would leave them
    stale. Events arrive through the ingest service; a customer's events are erased with the
    customer ("Erase selected customers" under Customers), which takes them out of every report."""

    list_display = ("timestamp", "action", "customer", "product", "quantity", "price", "amount", "order_id",
                    "currency", "discount", "coupon", "session_id")
    list_filter = ("action",)
    search_fields = ("event_id", "order_id", "session_id", "customer__external_id")
    date_hierarchy = "timestamp"
    list_select_related = ("customer", "product")
    show_full_result_count = False  # COUNT(*) over millions of events on every page is wasteful

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class IngestKeyForm(forms.ModelForm):
    """The key's kind (fixed once made) and, for public keys, its allowed origins (one a line)."""

    origins = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Public keys: the store's origins allowed to send, one a line (https://shop.example).")

    class Meta:
        model = IngestKey
        fields = ("name", "kind", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].required = False  # secret unless chosen
        if self.instance.pk:
            self.fields["kind"].disabled = True
            self.fields["origins"].initial = "\n".join(self.instance.allowed_origins)

    def clean(self):
        from events.services import OriginError
        from events.services.public_keys import origins_normalize

        data = super().clean()
        data["kind"] = data.get("kind") or IngestKey.Kind.SECRET
        lines = [line for line in (data.get("origins") or "").splitlines() if line.strip()]
        try:
            data["allowed"] = origins_normalize(lines)
        except OriginError as exc:
            self.add_error("origins", str(exc))
            return data
        public = (self.instance.kind if self.instance.pk else data.get("kind")) == IngestKey.Kind.PUBLIC
        if public and not data["allowed"]:
            self.add_error("origins", "A public key needs at least one allowed origin.")
        if not public and data["allowed"]:
            self.add_error("origins", "Allowed origins are for public keys; secret keys are refused from browsers.")
        return data


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    """Keys are made here or with `manage.py create_ingest_key NAME`; the secret is shown once.

    The secret is shown on the page that answers the "add" form (``no-store``), never through Django's
    messages: those travel in a signed, not encrypted, cookie. Revoking (the action, or unticking
    "active") goes through ``events.services.ingest_key_revoke``."""

    form = IngestKeyForm
    list_display = ("name", "kind", "prefix", "origins_list", "is_active", "created_at", "last_used_at")
    list_filter = ("kind", "is_active")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    fields = ("name", "kind", "origins", "prefix", "is_active", "created_at", "last_used_at")
    actions = ["revoke"]
    change_form_template = "admin/events/ingestkey/change_form.html"

    @admin.display(description="allowed origins")
    def origins_list(self, obj):
        return ", ".join(obj.allowed_origins) or "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from events.services import snippet_for

        key = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if key is not None and key.is_public:
            extra["snippet"] = snippet_for(key, server=request.build_absolute_uri("/").rstrip("/"))
            extra["public_value"] = key.public_value
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request, obj, form, change):
        from events.services import ingest_key_create, ingest_key_revoke, ingest_key_set_origins

        allowed = form.cleaned_data.get("allowed", [])
        if change and obj.is_public and allowed != obj.allowed_origins:
            ingest_key_set_origins(key=obj, origins=allowed)
        if change:
            was_active = IngestKey.objects.filter(pk=obj.pk).values_list("is_active", flat=True).first()
            if was_active and not obj.is_active:
                obj.is_active = True  # the service makes the change
                super().save_model(request, obj, form, change)
                ingest_key_revoke(key=obj)
                return None
            return super().save_model(request, obj, form, change)
        key, secret = ingest_key_create(name=obj.name, public=obj.kind == IngestKey.Kind.PUBLIC, origins=allowed)
        obj.pk = key.pk
        obj.__dict__.update(key.__dict__)
        request._ingest_key_secret = secret  # read once by response_add, kept nowhere else
        return None

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_ingest_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        from django.template.response import TemplateResponse
        from django.utils.cache import add_never_cache_headers

        from events.services import snippet_for

        context = {**self.admin_site.each_context(request), "opts": self.opts, "key": obj, "secret": secret,
                   "title": f"Ingest key {obj.name!r} created",
                   "snippet": snippet_for(obj, server=request.build_absolute_uri("/").rstrip("/"))
                   if obj.is_public else None}
        response = TemplateResponse(request, "admin/events/ingestkey/created.html", context)
        add_never_cache_headers(response)  # Cache-Control: no-store (and friends): the page holds a secret
        return response

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        from events.services import ingest_key_revoke

        revoked = 0
        for key in queryset.filter(is_active=True):
            ingest_key_revoke(key=key)
            revoked += 1
        self.message_user(request, f"{revoked} key(s) revoked.")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    """What sent the events (docs/trust.md): each key, store connection, import run, the simulator and
    key-less server code, with how many events it sent and when it was last used. Sources are made
    by ingest, never by hand, and stay (their events point at them). With the metrics engine
    installed, ``insights.admin`` adds the action that removes everything a source sent."""

    list_display = ("name", "kind", "trust", "belongs_to", "event_count", "last_used_at", "state")
    list_filter = ("kind", "trust")
    search_fields = ("name",)
    list_select_related = ("ingest_key", "connection")
    readonly_fields = ("kind", "trust", "namespace", "name", "belongs_to", "event_count", "created_at",
                       "last_used_at", "removal_requested_at", "removed_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="key or connection")
    def belongs_to(self, obj):
        from django.urls import reverse
        from django.utils.html import format_html

        target = obj.ingest_key or obj.connection
        if target is None:
            return "—"
        url = reverse(f"admin:events_{target._meta.model_name}_change", args=[target.pk])
        return format_html('<a href="{}">{}</a>', url, target)

    @admin.display(description="events")
    def event_count(self, obj):
        return Event.objects.filter(source_id=obj.pk).count()  # event_source_idx

    @admin.display(description="removed")
    def state(self, obj):
        if obj.removed_at is not None:
            return f"removed {obj.removed_at:%Y-%m-%d %H:%M}"
        if obj.removal_requested_at is not None:
            return f"removal asked for {obj.removal_requested_at:%Y-%m-%d %H:%M}"
        return "—"


# --- Simulator ------------------------------------------------------------------------------
from accounts.roles import MANAGE_SIMULATOR  # noqa: E402
from events.models import SimulatorState  # noqa: E402


@admin.register(SimulatorState)
class SimulatorStateAdmin(admin.ModelAdmin):
    """Pause or resume the live simulator, change its rate, reset the demo data. The beat schedule
    itself is the "Simulator: live events" periodic task (Periodic tasks, django-celery-beat)."""

    list_display = ("__str__", "enabled", "rate_now", "customers", "events_sent", "pending", "last_tick_at",
                    "last_error")
    fields = ("enabled", "rate", "customers", "seed", "rate_now", "events_sent", "pending", "last_tick_at",
              "last_error")
    readonly_fields = ("rate_now", "events_sent", "pending", "last_tick_at", "last_error")
    actions = ["pause", "resume", "reset_demo_data"]

    @staticmethod
    def _allowed(request) -> bool:
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and hasattr(user, "can") and user.can(MANAGE_SIMULATOR))

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request) and not SimulatorState.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        from events.simulation import simulator_state_get

        if self._allowed(request):
            simulator_state_get()  # the one row always exists to be edited
        return super().changelist_view(request, extra_context)

    @admin.display(description="rate now (events/s)")
    def rate_now(self, obj):
        from django.conf import settings

        return obj.rate if obj.rate is not None else f"{settings.SIMULATOR_RATE} (default)"

    @admin.display(description="events in progress")
    def pending(self, obj):
        return len(obj.state.get("pending", []))

    @admin.action(description="Pause the live simulator")
    def pause(self, request, queryset):
        from events.simulation import simulator_configure

        simulator_configure(enabled=False)
        self.message_user(request, "Simulator paused.")

    @admin.action(description="Resume the live simulator")
    def resume(self, request, queryset):
        from events.simulation import simulator_configure

        simulator_configure(enabled=True)
        self.message_user(request, "Simulator resumed.")

    @admin.action(description="Reset demo data: delete every event and derived metric (keeps customers, "
                              "products, users)")
    def reset_demo_data(self, request, queryset):
        from events.simulation import simulator_reset_demo

        deleted = simulator_reset_demo()
        self.message_user(request, f"Demo data reset: {deleted} events deleted.")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Daily rates against the euro (ECB layout). Usually loaded with ``manage.py import_rates FILE``;
    a rate edited here converts events stored from then on (stored events keep the rate they got).
    Sample rates (``import_rates --sample``, generated for the demo) are marked and filterable."""

    list_display = ("day", "currency", "per_eur", "is_sample")
    list_filter = ("is_sample", "currency")
    date_hierarchy = "day"
    ordering = ("-day", "currency")


# --- Store connections ----------------------------------------------------------------------
import events.connections.admin  # noqa: E402,F401  (registers StoreConnection and WebhookDelivery)
