from django.contrib import admin

from customers.models import Customer

PROFILE_NOTE = (
    "Name, email, gender, city, country and sign-up date are read from this row whenever a page is drawn "
    "or the model is trained: an edit shows at once everywhere, past periods included. Nothing else "
    "is stored per event.")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Customer profiles. With the metrics engine installed, ``insights.admin`` registers its subclass
    in this one's place: there an age change moves the customer's history between age groups and
    customers leave only through erasure, so every report stays true."""

    list_display = ("external_id", "name", "email", "age", "age_group", "city", "country", "signed_up_at")
    list_filter = ("age_group", "gender", "country")
    search_fields = ("external_id", "name", "email", "city")
    readonly_fields = ("age_group", "created_at")
    show_full_result_count = False
    age_note: str | None = None  # the "Age" section's note

    def get_fieldsets(self, request, obj=None):
        return (
            (None, {"fields": ("external_id",)}),
            ("Profile", {"fields": ("name", "email", "gender", "city", "country", "signed_up_at"),
                         "description": PROFILE_NOTE}),
            ("Age", {"fields": ("age", "age_group"), "description": self.age_note}),
            ("Record", {"fields": ("created_at",)}),
        )

    def get_readonly_fields(self, request, obj=None):
        # The store's own id links future events to this row: fixed once the row exists.
        return (*self.readonly_fields, "external_id") if obj is not None else self.readonly_fields
