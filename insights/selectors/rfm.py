"""RFM segments (docs/metrics.md): every purchasing customer's segment, and the customers of one segment."""

from __future__ import annotations

from django.db.models import F

from customers.models import Customer
from insights.filters import MetricFilter
from insights.models import CustomerTotals
from insights.stats import quintile_scores, rfm_segment


def rfm_assignments() -> dict[int, tuple[str, float]]:
    """customer pk → (segment, all-time net revenue) for every customer with an order (docs/metrics.md:
    recency of the last purchase, order count and net revenue scored 1–5 by quintile; frequency and
    monetary scores are averaged, rounding up)."""
    rows = list(CustomerTotals.objects.filter(orders__gt=0).annotate(
        net=F("revenue") - F("discounts") - F("refunds")).values_list("customer_id", "last_purchase_at", "orders",
                                                                     "net"))
    if not rows:
        return {}
    recency = quintile_scores([r[1].timestamp() if r[1] else 0.0 for r in rows])
    frequency = quintile_scores([float(r[2]) for r in rows])
    monetary = quintile_scores([float(r[3]) for r in rows])
    return {r[0]: (rfm_segment(r_score, (f_score + m_score + 1) // 2), float(r[3]))
            for r, r_score, f_score, m_score in zip(rows, recency, frequency, monetary, strict=True)}


def segment_customer_pks(f: MetricFilter) -> list[int] | None:
    """The customers of the filter's segment and age group (None: no customer restriction needed)."""
    if not f.segment:
        return None
    pks = [pk for pk, (segment, _revenue) in rfm_assignments().items() if segment == f.segment]
    if f.age_group and pks:
        pks = list(Customer.objects.filter(pk__in=pks, age_group=f.age_group).values_list("pk", flat=True))
    return pks
