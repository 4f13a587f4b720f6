from django.urls import path

from ml import views

app_name = "ml"

urlpatterns = [
    path("model/", views.model_report, name="report"),
    path("model/retrain/", views.model_retrain, name="retrain"),
    path("api/v1/customers/<int:pk>/predictions", views.customer_predictions_api, name="customer_predictions"),
]
