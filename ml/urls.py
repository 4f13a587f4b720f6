from django.urls import path

from ml import audience_views, views

app_name = "ml"

urlpatterns = [
    path("model/", views.model_report, name="report"),
    path("model/retrain/", views.model_retrain, name="retrain"),
    path("audiences/", audience_views.audiences, name="audiences"),
    path("audiences/<slug:slug>/", audience_views.audience, name="audience"),
    path("audiences/<slug:slug>.csv", audience_views.audience_csv, name="audience_csv"),
    path("api/v1/customers/<int:pk>/predictions", views.customer_predictions_api, name="customer_predictions"),
]
