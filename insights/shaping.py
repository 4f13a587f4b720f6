"""What a role may see of the selectors' answers (docs/security.md), applied where output leaves the server.

Selectors return the real values. Views, the JSON API, CSV exports and the dashboard socket pass each
answer through the shaping function of its kind before sending it: for roles without VIEW_PERSONAL_DATA
names and emails are masked (``customers.masking``) and a customer's exact age and city left out. Answers
with no personal data (KPIs, funnel, seasonality, products, the live feed: only the store's customer id)
need no shaping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.roles import VIEW_PERSONAL_DATA
from customers.masking import mask_email, mask_name

Answer = dict[str, Any]


def hides_personal_data(user: Any) -> bool:
    """Whether ``user``'s role must not see customers' names, emails, exact age and city."""
    return not user.can(VIEW_PERSONAL_DATA)


def _masked_person(row: Answer, name: str, email: str) -> Answer:
    return {**row, name: mask_name(row[name]), email: mask_email(row[email])}


# Per-customer predictions (analysts only, docs/security.md), left out of rows for masked roles.
PER_CUSTOMER_PREDICTIONS = ("predicted_clv_12m", "tier")


def customers_shaped(stats: Answer, *, masked: bool) -> Answer:
    """``selectors.customers_stats`` for a role: the top customers' names and emails masked and their
    predicted value and spend tier left out."""
    if not masked:
        return stats
    return {**stats, "top_customers": [
        {k: v for k, v in _masked_person(r, "name", "email").items() if k not in PER_CUSTOMER_PREDICTIONS}
        for r in stats["top_customers"]]}


def slipping_away_shaped(answer: Answer, *, masked: bool) -> Answer:
    """``clv_slipping_away`` for a role: names and emails masked."""
    if not masked:
        return answer
    return {**answer, "rows": [_masked_person(r, "name", "email") for r in answer["rows"]]}


def carts_shaped(stats: Answer, *, masked: bool) -> Answer:
    """``selectors.carts_stats`` for a role: the recovery list's names and emails masked."""
    if not masked:
        return stats
    return {**stats, "recent_abandoned": [_masked_person(r, "customer_name", "customer_email")
                                          for r in stats["recent_abandoned"]]}


def customer_detail_shaped(detail: Answer, *, masked: bool) -> Answer:
    """``selectors.customer_detail`` for a role: name and email masked, exact age and city left out."""
    if not masked:
        return detail
    profile = _masked_person(detail["profile"], "name", "email")
    return {**detail, "profile": {**profile, "age": None, "city": ""}}


# The API's and the exports' panels whose answers hold personal data.
PANEL_SHAPES: dict[str, Callable[..., Answer]] = {"customers": customers_shaped, "carts": carts_shaped}


def panel_shaped(panel: str, answer: Any, *, masked: bool) -> Any:
    """A panel's answer as ``masked`` says (unchanged for panels without personal data)."""
    shape = PANEL_SHAPES.get(panel)
    return shape(answer, masked=masked) if shape else answer
