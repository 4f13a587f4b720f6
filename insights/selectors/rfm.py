"""RFM segments (docs/metrics.md#rfm-segments): every purchasing customer's segment, and the customers of
one segment, read from the kept scores (``CustomerRfm``, refreshed by ``insights.rfm_store``)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet

from customers.models import Customer
from insights.filters import MetricFilter
from insights.models import CustomerRfm, CustomerTotals, RfmRefresh
from insights.selectors._common import iso_or_none
from insights.stats import quintile_scores, rfm_segment


def rfm_assignments() -> dict[int, tuple[str, float]]:
    """customer pk → (segment, all-time net revenue) for every customer with an order, as last kept."""
    return {pk: (segment, float(net)) for pk, segment, net in
            CustomerRfm.objects.values_list("customer_id", "segment", "net_revenue")}


def rfm_assignments_scored() -> dict[int, tuple[str, float]]:
    """The reference the kept scores are tested against: ``rfm_assignments`` scored now, in Python, over
    every buyer (recency of the last purchase, order count and net revenue scored 1–5 by quintile;
    frequency and monetary scores are averaged, rounding up)."""
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


def segment_rows(f: MetricFilter) -> QuerySet:
    """The kept RFM rows of the filter's segment (every buyer without one) and age group."""
    rows = CustomerRfm.objects.all()
    if f.segment:
        rows = rows.filter(segment=f.segment)
    if f.age_group:
        rows = rows.filter(customer_id__in=Customer.objects.filter(age_group=f.age_group).values("pk"))
    return rows


def segment_customer_pks(f: MetricFilter) -> list[int] | None:
    """The customers of the filter's segment and age group (None: no customer restriction needed)."""
    if not f.segment:
        return None
    return list(segment_rows(f).values_list("customer_id", flat=True))


def rfm_freshness() -> dict[str, Any]:
    """When the kept segments were last refreshed (``as_of``, None: never) and over how many buyers."""
    kept = RfmRefresh.objects.filter(pk=1).values("refreshed_at", "buyers").first()
    return {"as_of": iso_or_none(kept["refreshed_at"]) if kept else None, "buyers": kept["buyers"] if kept else 0}
