from django.urls import path

from experiments import views

urlpatterns = [
    path("experiments/", views.experiments_page, name="experiments"),
    path("api/v1/metrics/experiments", views.experiments_api, name="api-metrics-experiments"),
    path("export/experiments.csv", views.experiments_csv, name="export-experiments"),
]
