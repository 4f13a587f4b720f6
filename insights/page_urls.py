"""Dashboard pages, CSV exports and the Explorer's Dash endpoints."""

from django.urls import include, path

from insights import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("funnel/", views.funnel, name="funnel"),
    path("seasonality/", views.seasonality, name="seasonality"),
    path("customers/", views.customers, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("products/", views.products, name="products"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("carts/", views.carts, name="carts"),
    path("cohorts/", views.cohorts, name="cohorts"),
    path("acquisition/", views.acquisition, name="acquisition"),
    path("insights/", views.insights, name="insights"),
    path("explorer/", views.explorer, name="explorer"),
    path("export/<slug:table>.csv", views.export_csv, name="export_csv"),
    # Only the Explorer's routes, not django-plotly-dash's whole URLconf (see insights/dash_urls.py).
    path("django_plotly_dash/", include(("insights.dash_urls", "the_django_plotly_dash"))),
]
