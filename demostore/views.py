"""The demo store: a catalogue of the shipped products, product pages, a cart, a checkout
and a demo-shopper login, instrumented only through ``/tracker.js`` and the public key ``make run``
creates, as a real store would be. Public pages (no dashboard login); the cart lives in the browser
(``static/demostore/store.js``), so the server keeps no shopper state at all.

Served only where DEMO_STORE_ENABLED is set (``make run`` sets it): anywhere else every page is a
404, so a deployment never shows strangers a shop that sends into its figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from demostore.selectors import demo_catalogue, demo_store_key
from demostore.services import DemoLine, DemoOrderError, demo_order_place
from products.models import Product


def _served(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.DEMO_STORE_ENABLED:
            raise Http404("The demo store is not enabled (DEMO_STORE_ENABLED).")
        return view(request, *args, **kwargs)

    return wrapped


def _render(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    return render(request, f"demostore/{template}", {"tracker_key": demo_store_key(), **context})


@_served
def catalogue(request: HttpRequest) -> HttpResponse:
    return _render(request, "catalogue.html", products=demo_catalogue())


@_served
def product(request: HttpRequest, external_id: str) -> HttpResponse:
    item = Product.objects.filter(external_id=external_id).first()
    if item is None:
        raise Http404("No such product")
    return _render(request, "product.html", product=item)


@_served
def cart(request: HttpRequest) -> HttpResponse:
    return _render(request, "cart.html")


@_served
def checkout(request: HttpRequest) -> HttpResponse:
    return _render(request, "checkout.html")


@_served
def login(request: HttpRequest) -> HttpResponse:
    return _render(request, "login.html")


def _order_request(request: HttpRequest) -> tuple[str, list[DemoLine], str]:
    try:
        body = json.loads(request.body)
        lines = [DemoLine(str(line["product_id"]), int(line["quantity"])) for line in body["lines"]]
        customer, session = body["customer_id"], body.get("session_id") or ""
    except (ValueError, KeyError, TypeError) as exc:
        raise DemoOrderError("send {customer_id, session_id, lines: [{product_id, quantity}]} as JSON") from exc
    if type(customer) is not str or type(session) is not str:
        raise DemoOrderError("customer_id and session_id are strings")
    return customer, lines, session


@_served
@require_POST
def order(request: HttpRequest) -> JsonResponse:
    """The checkout's server side: the order placed and reported as the shop's backend would
    (``demo_order_place``); the page then reports the purchase from the browser with its id."""
    try:
        customer, lines, session = _order_request(request)
        return JsonResponse({"order_id": demo_order_place(customer_id=customer, lines=lines, session_id=session)})
    except DemoOrderError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
