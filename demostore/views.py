"""The demo store: a catalogue of the shipped products, product pages, a cart, a checkout
and a demo-shopper login, instrumented only through ``/tracker.js`` and the public key ``make run``
creates, as a real store would be. Public pages (no dashboard login); the cart lives in the browser
(``static/demostore/store.js``), so the server keeps no shopper state at all."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from demostore.selectors import demo_catalogue, demo_store_key
from products.models import Product


def _render(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    return render(request, f"demostore/{template}", {"tracker_key": demo_store_key(), **context})


def catalogue(request: HttpRequest) -> HttpResponse:
    return _render(request, "catalogue.html", products=demo_catalogue())


def product(request: HttpRequest, external_id: str) -> HttpResponse:
    item = Product.objects.filter(external_id=external_id).first()
    if item is None:
        raise Http404("No such product")
    return _render(request, "product.html", product=item)


def cart(request: HttpRequest) -> HttpResponse:
    return _render(request, "cart.html")


def checkout(request: HttpRequest) -> HttpResponse:
    return _render(request, "checkout.html")


def login(request: HttpRequest) -> HttpResponse:
    return _render(request, "login.html")
