"""Template tags other pages include: ``{% load ml_tags %}`` then ``{% ml_open_carts %}`` (dashboard:
carts at risk and likely buyers) or ``{% ml_customer_carts customer_pk %}`` (customer drill-down)."""

from __future__ import annotations

from django import template

from accounts import roles
from ml import selectors

register = template.Library()


def _can(context, capability: str) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.can(capability))


def _masked(context) -> bool:
    return not _can(context, roles.VIEW_PERSONAL_DATA)


@register.inclusion_tag("ml/_open_carts.html", takes_context=True)
def ml_open_carts(context, limit: int = 5):
    mask = _masked(context)
    return {"at_risk": selectors.cart_scores_at_risk(limit=limit, mask=mask),
            "likely": selectors.cart_scores_likely_buyers(limit=limit, mask=mask),
            # No link to a customer's drill-down for roles that may not open one (DESIGN §5 round 2).
            "can_view_customer_detail": _can(context, roles.VIEW_CUSTOMER_DETAIL)}


@register.inclusion_tag("ml/_customer_carts.html")
def ml_customer_carts(customer_pk: int):
    return {"cart_scores": selectors.cart_scores_for_customer(customer_pk=int(customer_pk))}
