from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("reports/<slug:page>.pdf", views.report_pdf_view, name="pdf"),
]
