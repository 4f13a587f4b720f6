from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.template.response import TemplateResponse

from customers.admin import CustomerAdmin as CustomerProfileAdmin
from customers.models import Customer
from events.admin import SourceAdmin as SourceListAdmin
from events.models import Event, Source
from insights.models import Cart, HistoryMove, PendingWindow, Session
from insights.recategorise import product_category_request
from insights.source_removal import source_removal_request
from insights.upkeep import customer_age_group_change, customer_events_erase
from products.admin import ProductAdmin as CatalogueAdmin
from products.models import Product

AGE_NOTE = (
    "Every report is broken down by age group. Saving a new age that changes the group moves all of this "
    "customer's events, sessions and carts, history included, from the old group to the new one: the "
    "reports then read as if the customer had always been in the new group.")


class DerivedAdmin(admin.ModelAdmin):
    """Derived from events by the metrics engine (and rebuilt by ``rebuild_rollups``): read-only for
    everyone. A hand-made, edited or deleted row would disagree with the events and the rollups."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    has_delete_permission = has_change_permission


@admin.register(Session)
class SessionAdmin(DerivedAdmin):
    list_display = ("key", "customer", "started_at", "last_event_at", "event_count", "funnel_step", "purchased",
                    "revenue", "closed")
    list_filter = ("closed", "purchased", "funnel_step", "age_group")
    list_select_related = ("customer",)
    date_hierarchy = "started_at"


@admin.register(Cart)
class CartAdmin(DerivedAdmin):
    list_display = ("pk", "customer", "state", "items", "value", "revenue_left", "opened_at", "closed_at")
    list_filter = ("state", "age_group")
    list_select_related = ("customer",)


@admin.register(PendingWindow)
class PendingWindowAdmin(DerivedAdmin):
    list_display = ("pk", "created_at", "__str__")


@admin.register(HistoryMove)
class HistoryMoveAdmin(DerivedAdmin):
    """The queue of identity merges and age changes made in the background (docs/operations.md)."""

    list_display = ("pk", "__str__", "queued_at", "steps", "events", "sessions", "finished_at")
    list_filter = ("kind", ("finished_at", admin.EmptyFieldListFilter))


class CustomerAdmin(CustomerProfileAdmin):
    """Profiles are editable; an age change re-derives the customer's place in every report
    (``insights.upkeep.customer_age_group_change``). Customers are not deleted here: "Erase selected
    customers" (a store's erasure request) removes them with their events and takes them out of every
    report (``insights.upkeep.customer_events_erase``)."""

    actions = ["erase_customers"]
    age_note = AGE_NOTE

    def has_delete_permission(self, request, obj=None):
        return False  # erasure (the action below) is the only way out: it keeps the reports true

    def has_erase_permission(self, request):
        return request.user.has_perm("customers.delete_customer")

    def save_model(self, request, obj, form, change):
        if not (change and "age" in form.changed_data):
            return super().save_model(request, obj, form, change)
        age = obj.age
        obj.age = Customer.objects.values_list("age", flat=True).get(pk=obj.pk)
        super().save_model(request, obj, form, change)  # the other fields, under the old age
        moved = customer_age_group_change(customer=obj, age=age)
        if moved.old_group != moved.new_group:
            self.message_user(request, f"Age group {moved.old_group} → {moved.new_group}: {moved.events} events and "
                                       f"{moved.sessions} sessions moved in every report.", messages.INFO)
        return None

    @admin.action(description="Erase selected customers (events, sessions, carts; out of every report)",
                  permissions=["erase"])
    def erase_customers(self, request, queryset):
        if request.POST.get("post") != "yes":
            return self._erase_confirmation(request, queryset)
        content_type = ContentType.objects.get_for_model(Customer)
        erased = events = 0
        for customer in queryset.order_by("pk"):
            result = customer_events_erase(customer=customer)
            LogEntry.objects.create(  # no name in the history: only the row's number
                user_id=request.user.pk, content_type=content_type, object_id=str(result.customer_pk),
                object_repr=f"erased customer #{result.customer_pk}", action_flag=DELETION,
                change_message=f"Erased with {result.events} events, {result.sessions} sessions, "
                               f"{result.carts} carts (taken out of every report).")
            erased += 1
            events += result.events
        self.message_user(request, f"Erased {erased} customers and their {events} events; every report updated.",
                          messages.SUCCESS)
        return None

    def _erase_confirmation(self, request, queryset):
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase customers?",
            "customers": queryset.order_by("pk"),
            "count": queryset.count(),
            "events": Event.objects.filter(customer__in=queryset).count(),
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "insights/admin/erase_confirmation.html", context)


# Replaces customers.admin's plain registration (customers sits below insights and cannot import it).
admin.site.unregister(Customer)
admin.site.register(Customer, CustomerAdmin)


class SourceAdmin(SourceListAdmin):
    """Sources, with the action that removes everything one sent (a leaked key): confirmed on a page
    of its own, then run in the background (``insights.source_removal``)."""

    actions = ["remove_sources"]

    def has_remove_permission(self, request):
        return request.user.has_perm("events.delete_event")

    @admin.action(description="Remove everything the selected sources sent (events, their figures; key revoked)",
                  permissions=["remove"])
    def remove_sources(self, request, queryset):
        sources = list(queryset.order_by("pk"))
        if request.POST.get("post") != "yes":
            return self._remove_confirmation(request, sources)
        content_type = ContentType.objects.get_for_model(Source)
        for source in sources:
            source_removal_request(source_pk=source.pk)
            LogEntry.objects.create(user_id=request.user.pk, content_type=content_type, object_id=str(source.pk),
                                    object_repr=str(source)[:200], action_flag=DELETION,
                                    change_message="Removal of everything this source sent asked for.")
        self.message_user(request, f"Removing what {len(sources)} source(s) sent, in the background: their keys "
                                   "and connections no longer accept events; every report is updated as the "
                                   "removal goes.", messages.SUCCESS)
        return None

    def _remove_confirmation(self, request, sources):
        rows = [(s, Event.objects.filter(source_id=s.pk).count()) for s in sources]
        context = {
            **self.admin_site.each_context(request),
            "title": "Remove everything these sources sent?",
            "rows": rows,
            "count": len(rows),
            "events": sum(n for _, n in rows),
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "insights/admin/remove_sources_confirmation.html", context)


# Replaces events.admin's listing (events sits below insights and cannot import it).
admin.site.unregister(Source)
admin.site.register(Source, SourceAdmin)


CATEGORY_NOTE = ("Reports by category count each event and each session under its product's category. Saving a new "
                 "category moves all of this product's history, past periods included, to the new one; for a "
                 "product with events that runs in the background and the product shows its new category once done.")


class ProductAdmin(CatalogueAdmin):
    """The catalogue; a category change moves the product's history (``insights.recategorise``)."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "category" in form.base_fields:
            form.base_fields["category"].help_text = CATEGORY_NOTE
        return form

    def save_model(self, request, obj, form, change):
        if not (change and "category" in form.changed_data):
            return super().save_model(request, obj, form, change)
        category = obj.category
        obj.category = Product.objects.values_list("category", flat=True).get(pk=obj.pk)
        super().save_model(request, obj, form, change)  # the other fields, under the old category
        if product_category_request(product_pk=obj.pk, category=category):
            self.message_user(request, f"Category {obj.category or '(none)'} → {category or '(none)'}: this product's "
                                       "history moves in the background; it counts under the old category until "
                                       "then.", messages.INFO)
        else:
            obj.category = category
        return None


admin.site.unregister(Product)
admin.site.register(Product, ProductAdmin)
