"""A simulated A/B experiment with a known true lift (docs/experiments.md#the-simulator). PURE.

Each simulated visitor is in variant ``B`` with probability ``share`` (a hash of the experiment and the
customer id: the same visitor is always in the same variant), else ``A``; the first event of each of
their sessions carries the exposure. The true effect is applied to the generated orders:

- **conversion**: with ``lift`` > 0 each order of an ``A`` visitor is kept with probability
  1 / (1 + lift) (a hash of the order id), so B's order rate is (1 + lift) × A's; with ``lift`` < 0,
  B's orders are kept with probability 1 + lift. A dropped order's purchase lines are removed (its
  session ends at checkout, abandoned).
- **order value**: ``B``'s purchase lines cost (1 + value_lift) × their price.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal("0.01")


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from a hash of ``parts`` (deterministic)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


@dataclass(frozen=True)
class ExperimentPlan:
    name: str
    lift: float = 0.0  # relative lift of B's orders (0.1: +10%)
    value_lift: float = 0.0  # relative lift of B's order value
    share: float = 0.5  # share of visitors in B

    @classmethod
    def parse(cls, text: str) -> ExperimentPlan | None:
        """``name[:lift[:value_lift]]`` (SIMULATOR_EXPERIMENT); empty: None."""
        if not text.strip():
            return None
        name, *numbers = text.strip().split(":")
        values = [float(n) for n in numbers[:2]]
        return cls(name, *values)

    def variant(self, customer_id: str) -> str:
        return "B" if _unit(self.name, customer_id) < self.share else "A"

    def keeps(self, variant: str, order_id: str) -> bool:
        """Whether this order survives the conversion lift."""
        if self.lift >= 0:
            keep, thinned = 1 / (1 + self.lift), "A"
        else:
            keep, thinned = 1 + self.lift, "B"
        return variant != thinned or _unit(self.name, "order", order_id) < keep


def apply_experiment(events: list[dict], plan: ExperimentPlan) -> list[dict]:
    """The events with the experiment applied (a new list; the dicts of kept events are updated)."""
    out: list[dict] = []
    sessions: set[str] = set()
    factor = Decimal(str(1 + plan.value_lift))
    for event in events:
        customer = str(event.get("customer_id"))
        variant = plan.variant(customer)
        action, order_id = event.get("action"), event.get("order_id")
        if action == "purchase" and order_id is not None and not plan.keeps(variant, order_id):
            continue
        session = f"{customer}|{event.get('session_id')}"
        if session not in sessions and action != "refund":
            sessions.add(session)
            event["experiment"], event["variant"] = plan.name, variant
        if action == "purchase" and variant == "B" and plan.value_lift and event.get("product_price") is not None:
            price = (Decimal(str(event["product_price"])) * factor).quantize(_CENT, rounding=ROUND_HALF_UP)
            event["product_price"] = str(price) if isinstance(event["product_price"], str) else float(price)
        out.append(event)
    return out
