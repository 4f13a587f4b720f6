from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.template.response import TemplateResponse

from customers.models import Customer
from events.models import Event

PROFILE_NOTE = (
    "Name, email, gender, city, country and sign-up date are read from this row whenever a page is drawn "
    "or the model is trained: an edit shows at once everywhere, past periods included. Nothing else "
    "is stored per event.")
AGE_NOTE = (
    "Every report is broken down by age group. Saving a new age that changes the group moves all of this "
    "customer's events, sessions and carts, history included, from the old group to the new one: the "
    "reports then read as if the customer had always been in the new group.")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Profiles are editable; an age change re-derives the customer's place in every report
    (``insights.upkeep.customer_age_group_change``). Customers are not deleted here: "Erase selected
    customers" (a store's erasure request) removes them with their events and takes them out of every
    report (``insights.upkeep.customer_events_erase``)."""

    list_display = ("external_id", "name", "email", "age", "age_group", "city", "country", "signed_up_at")
    list_filter = ("age_group", "gender", "country")
    search_fields = ("external_id", "name", "email", "city")
    readonly_fields = ("age_group", "created_at")
    show_full_result_count = False
    actions = ["erase_customers"]
    fieldsets = (
        (None, {"fields": ("external_id",)}),
        ("Profile", {"fields": ("name", "email", "gender", "city", "country", "signed_up_at"),
                     "description": PROFILE_NOTE}),
        ("Age", {"fields": ("age", "age_group"), "description": AGE_NOTE}),
        ("Record", {"fields": ("created_at",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        # The store's own id links future events to this row: fixed once the row exists.
        return (*self.readonly_fields, "external_id") if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # erasure (the action below) is the only way out: it keeps the reports true

    def has_erase_permission(self, request):
        return request.user.has_perm("customers.delete_customer")

    def save_model(self, request, obj, form, change):
        if not (change and "age" in form.changed_data):
            return super().save_model(request, obj, form, change)
        from insights.upkeep import customer_age_group_change

        age = obj.age
        obj.age = Customer.objects.values_list("age", flat=True).get(pk=obj.pk)
        super().save_model(request, obj, form, change)  # the other fields, under the old age
        moved = customer_age_group_change(customer=obj, age=age)
        if moved.old_group != moved.new_group:
            self.message_user(request, f"Age group {moved.old_group} → {moved.new_group}: {moved.events} events and "
                                       f"{moved.sessions} sessions moved in every report.", messages.INFO)

    @admin.action(description="Erase selected customers (events, sessions, carts; out of every report)",
                  permissions=["erase"])
    def erase_customers(self, request, queryset):
        from insights.upkeep import customer_events_erase

        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase customers?",
                "customers": queryset.order_by("pk"),
                "count": queryset.count(),
                "events": Event.objects.filter(customer__in=queryset).count(),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            return TemplateResponse(request, "customers/admin/erase_confirmation.html", context)
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
