from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("reports/<slug:page>.pdf", views.report_pdf_view, name="pdf"),
    path("reports/subscriptions/", views.subscriptions_page, name="subscriptions"),
    path("reports/subscriptions/<int:pk>/cancel/", views.unsubscribe, name="unsubscribe"),
]
