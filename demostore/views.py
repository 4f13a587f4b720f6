"""The demo store: a catalogue of the shipped products, product pages, a cart, a checkout
and a demo-shopper login, instrumented only through ``/tracker.js`` and the public key ``make run``
creates, as a real store would be. Public pages (no dashboard login); the cart lives in the browser
(``static/demostore/store.js``), so the server keeps no shopper state at all.

Served only where DEMO_STORE_ENABLED is set (``make run`` sets it): anywhere else every page is a
404, so a deployment never shows strangers a shop that sends into its figures."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from demostore.selectors import demo_catalogue, demo_store_key
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
