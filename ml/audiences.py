"""Predictive audiences: saved lists of customers drawn from a predictions run. PURE: scores in, members out.

Definitions (docs/retention-and-predictions.md#predictive-audiences), over the customers scored in a run
(active in the last 28 days); a probability that is not shown (its target not eligible) puts no one in:

- ``likely-buyers``: purchase probability at least ``THRESHOLD``;
- ``likely-churners``: churn probability at least ``THRESHOLD``;
- ``high-value-slipping``: in the high predicted-CLV tier (insights/clv) and churn probability at least
  ``THRESHOLD``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

THRESHOLD = 0.5  # calibrated probabilities: more likely than not
AUDIENCES: dict[str, tuple[str, str]] = {
    "likely-buyers": ("Likely to buy in 7 days", f"purchase probability (next 7 days) ≥ {THRESHOLD}"),
    "likely-churners": ("Likely to churn", f"churn probability (not seen in the next 7 days) ≥ {THRESHOLD}"),
    "high-value-slipping": ("High predicted value, slipping away",
                            f"high predicted-CLV tier and churn probability ≥ {THRESHOLD}"),
}


def members(scores: Iterable[tuple[int, float | None, float | None]], tiers: Mapping[int, str]) -> dict[str, list[int]]:
    """``scores``: (customer pk, purchase probability or None, churn probability or None); ``tiers``: customer
    pk → predicted-CLV tier. Each audience's customer pks, ascending."""
    out: dict[str, list[int]] = {slug: [] for slug in AUDIENCES}
    for pk, purchase, churn in scores:
        if purchase is not None and purchase >= THRESHOLD:
            out["likely-buyers"].append(pk)
        if churn is not None and churn >= THRESHOLD:
            out["likely-churners"].append(pk)
            if tiers.get(pk) == "high":
                out["high-value-slipping"].append(pk)
    return {slug: sorted(pks) for slug, pks in out.items()}
