"""The colours and names every chart uses."""

from __future__ import annotations

# One palette for the whole product (colour-blind safe, Okabe–Ito based).
BLUE = "#3b6fe0"
ORANGE = "#e69f00"
GREEN = "#009e73"
RED = "#d55e00"
PURPLE = "#8a5cd0"
GREY = "#98a2b3"
STEP_COLOURS = [BLUE, PURPLE, ORANGE, GREEN]

STEP_LABELS = {"view": "Viewed", "add_to_cart": "Added to cart", "checkout": "Checkout", "purchase": "Purchased"}
METRICS = {
    "events": "Events",
    "sessions": "Sessions",
    "orders": "Orders",
    "revenue": "Net revenue",  # gross − discounts − refunds (docs/money.md)
    "conversion": "Conversion rate",
}
