"""The model's predictions in the product: the carts page (at risk, likely buyers) and the customer drill-down.

The page extensions ml registers are tested directly; the page tests also need insights' views to call them."""

from datetime import timedelta
from decimal import Decimal

from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from insights.extensions import page_extensions
from insights.models import Cart
from insights.rebuild import analytics_rebuild
from ml import selectors
from ml.models import CartScore
from tests.factories import CustomerFactory, EventFactory, ModelVersionFactory, ProductFactory


def _scored_open_cart(probability: float):
    customer = CustomerFactory(name="Jane Doe", email="jane@example.com")
    product = ProductFactory()
    now = timezone.now()
    EventFactory(customer=customer, product=product, action="add_to_cart", session_id="live",
                 price=Decimal("80.00"), timestamp=now - timedelta(minutes=3))
    analytics_rebuild(as_of=now)
    cart = Cart.objects.get(customer=customer)
    assert cart.state == "open"
    version = ModelVersionFactory(is_active=True, threshold=0.5)
    CartScore.objects.create(customer=customer, session_key=cart.session.key, model_version=version,
                             probability=probability, items=1, value=Decimal("80.00"), opened_at=cart.opened_at,
                             decided_at=cart.opened_at)
    return customer, cart


def test_customer_drill_down_shows_each_open_carts_probability(client_for):
    customer, cart = _scored_open_cart(0.23)
    assert selectors.cart_predictions_for_customer(customer_pk=customer.pk) == [
        {"cart_pk": cart.pk, "probability": 0.23, "model_version": CartScore.objects.get().model_version_id}]
    body = client_for(Role.ANALYST).get(reverse("customer_detail", args=[customer.pk])).content.decode()
    assert "Purchase probability" in body
    assert f'data-cart-prediction="{cart.pk}">23' in body


def test_carts_page_lists_carts_at_risk_masked_for_viewers(client_for):
    _scored_open_cart(0.1)
    viewer = client_for(Role.VIEWER).get(reverse("carts")).content.decode()
    assert 'id="carts-at-risk"' in viewer and 'id="likely-buyers"' in viewer
    assert "Jane Doe" not in viewer and "J*** D***" in viewer
    analyst = client_for(Role.ANALYST).get(reverse("carts")).content.decode()
    assert "Jane Doe" in analyst


def test_carts_at_risk_link_to_the_drill_down_only_for_roles_that_may_open_it(client_for):
    customer, _cart = _scored_open_cart(0.1)
    link = f'href="/customers/{customer.pk}/"'
    assert link not in client_for(Role.VIEWER).get(reverse("carts")).content.decode()
    assert link in client_for(Role.ANALYST).get(reverse("carts")).content.decode()


def test_model_link_in_the_nav_only_for_roles_that_may_see_the_report(client_for):
    assert 'href="/model/"' in client_for(Role.ANALYST).get(reverse("ml:report")).content.decode()
    assert 'href="/model/"' not in client_for(Role.VIEWER).get(reverse("carts")).content.decode()


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_carts_page_extension_renders_the_open_carts_panel_masked_for_viewers(make_user):
    customer, _cart = _scored_open_cart(0.1)
    link = f'href="/customers/{customer.pk}/"'
    [viewer] = page_extensions("carts", _request(make_user(Role.VIEWER)), {})["fragments"]
    assert 'id="carts-at-risk"' in viewer and 'id="likely-buyers"' in viewer
    assert "Jane Doe" not in viewer and "J*** D***" in viewer and link not in viewer
    [analyst] = page_extensions("carts", _request(make_user(Role.ANALYST)), {})["fragments"]
    assert "Jane Doe" in analyst and link in analyst


def test_customer_detail_page_extension_gives_each_open_carts_probability(make_user):
    customer, cart = _scored_open_cart(0.23)
    context = {"detail": {"profile": {"pk": customer.pk}}}
    extra = page_extensions("customer_detail", _request(make_user(Role.ANALYST)), context)
    assert extra["cart_predictions"] == [
        {"cart_pk": cart.pk, "probability": 0.23, "model_version": CartScore.objects.get().model_version_id}]
    assert extra["fragments"] == []
