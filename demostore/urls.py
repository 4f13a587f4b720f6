from django.urls import path

from demostore import views

app_name = "demostore"
urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("p/<str:external_id>/", views.product, name="product"),
    path("cart/", views.cart, name="cart"),
    path("checkout/", views.checkout, name="checkout"),
    path("order/", views.order, name="order"),
    path("login/", views.login, name="login"),
]
