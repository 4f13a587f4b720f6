"""What the model adds to insights pages (registered in ``MlConfig.ready()`` with
``insights.extensions.register_page_extension``), and the open-cart lists ml's own report shows.

The edge for score rows: customers' names and emails are masked here, by ``customers.masking``,
for roles without VIEW_PERSONAL_DATA (the selectors return real values).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string

from accounts.roles import VIEW_CUSTOMER_DETAIL, VIEW_PERSONAL_DATA
from customers.masking import mask_email, mask_name
from insights.extensions import register_page_extension
from ml import selectors

# Rows per list in the carts page's panel (the model report shows more).
CARTS_PAGE_LIMIT = 5


def _can(request: HttpRequest, capability: str) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.can(capability))


def masked_score_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score rows with the customer's name and email masked."""
    return [{**r, "customer_name": mask_name(r["customer_name"]), "customer_email": mask_email(r["customer_email"])}
            for r in rows]


def open_cart_lists(request: HttpRequest, *, limit: int) -> dict[str, list[dict[str, Any]]]:
    """Carts at risk and likely buyers, masked unless the user may see personal data."""
    at_risk = selectors.cart_scores_at_risk(limit=limit)
    likely = selectors.cart_scores_likely_buyers(limit=limit)
    if not _can(request, VIEW_PERSONAL_DATA):
        at_risk, likely = masked_score_rows(at_risk), masked_score_rows(likely)
    return {"at_risk": at_risk, "likely": likely}


def carts_page(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The carts page: a panel of carts at risk and likely buyers."""
    html = render_to_string("ml/_open_carts.html", {
        **open_cart_lists(request, limit=CARTS_PAGE_LIMIT),
        # No link to a customer's drill-down for roles that may not open one (docs/security.md).
        "can_view_customer_detail": _can(request, VIEW_CUSTOMER_DETAIL),
    }, request=request)
    return {"fragments": [html]}


def customer_detail_page(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The customer drill-down: each open cart's purchase probability, by the metrics engine's cart pk.

    The customer is the page's ``detail["profile"]["pk"]`` (insights.selectors.customer_detail)."""
    customer_pk = int(context["detail"]["profile"]["pk"])
    return {"cart_predictions": selectors.cart_predictions_for_customer(customer_pk=customer_pk)}


def register() -> None:
    register_page_extension("carts", carts_page)
    register_page_extension("customer_detail", customer_detail_page)
