"""Customers: conversion by age group, top customers, CLV and RFM segments; one customer's drill-down.

Names and emails are returned as stored: masking for roles without VIEW_PERSONAL_DATA happens where the
output leaves the server (``insights.shaping``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Round

from customers.models import AgeGroup, Customer
from customers.selectors import customer_age_groups
from events.models import Event
from insights.clv.models import ClvPrediction
from insights.clv.selectors import clv_fit_latest, clv_predictions_for
from insights.filters import RFM_SEGMENTS, MetricFilter
from insights.models import Cart, CustomerDaily, CustomerRfm, CustomerTotals, Session
from insights.selectors._common import (
    MONEY_ACTIONS,
    TOP_N,
    as_count,
    as_money,
    channel_cut,
    channel_sessions,
    channel_unknowns,
    customer_days,
    iso_or_none,
    net_revenue,
    of_category_events,
    of_category_sessions,
    period_sums_by,
    within_store_days,
)
from insights.selectors.channel_people import channel_people
from insights.selectors.rfm import rfm_freshness, segment_customer_pks, segment_rows
from insights.selectors.segment_days import (
    active_customers_by_age,
    segment_active_by_age,
    segment_days,
    segment_rollup_applies,
)
from insights.stats import rate, wilson_interval

NET = F("revenue") - F("discounts") - F("refunds")  # a customer's net revenue (CustomerTotals)

CLV_EDGES = (0, 50, 100, 250, 500, 1000, 2500, 5000)


def _empty_age_row() -> dict[str, Any]:
    return {"customers": 0, "sessions": 0, "purchasing_sessions": 0, "revenue": 0}


def _segment_age_rows(days: QuerySet, segment_pks: list[int], age_rows: dict[str, dict[str, Any]]) -> None:
    age_groups = customer_age_groups(customer_pks=segment_pks)
    for row in days.values("customer_id").annotate(s=Sum("sessions"), p=Sum("purchasing_sessions"),
                                                   r=net_revenue(), e=Sum("events")):
        sums = age_rows[age_groups.get(row["customer_id"], "unknown")]
        sums["customers"] += int(bool(row["e"]))
        sums["sessions"] += row["s"]
        sums["purchasing_sessions"] += row["p"]
        sums["revenue"] += row["r"] or 0


def _segment_rollup_age_rows(f: MetricFilter, age_rows: dict[str, dict[str, Any]], *, with_customers: bool) -> None:
    """``_segment_age_rows`` from the segment × day rollup and the people bitmaps."""
    for row in segment_days(f).values("age_group").annotate(s=Sum("sessions"), p=Sum("purchasing_sessions"),
                                                            r=net_revenue()):
        sums = age_rows.setdefault(row["age_group"], _empty_age_row())
        sums.update(sessions=row["s"], purchasing_sessions=row["p"], revenue=row["r"] or 0)
    if with_customers:
        for age_group, n in segment_active_by_age(f).items():
            age_rows.setdefault(age_group, _empty_age_row())["customers"] = n


def _channel_customers_by_age(f: MetricFilter) -> list[tuple[str, int]]:
    """The channel's distinct customers per age group: the distinct (age group, customer) pairs of its
    sessions counted (a hashed DISTINCT; a COUNT(DISTINCT …) sorts every session of the period), or over a
    long period the bits of their bitmaps (``channel_people``)."""
    people = channel_people(f)
    if people is not None:
        return [(age_group, active.bit_count()) for age_group, (active, _) in people.items()]
    pairs, params = channel_sessions(f).order_by().values("age_group", "customer_id").distinct().query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(f"SELECT age_group, COUNT(*) FROM ({pairs}) p GROUP BY age_group", params)
        return [(age_group, int(n)) for age_group, n in cur.fetchall()]


def _store_age_rows(f: MetricFilter, age_rows: dict[str, dict[str, Any]], *, with_customers: bool) -> None:
    # whole closed months from the rollups' month copies (insights.month_copies); with a channel, revenue is
    # its sessions' less discounts (refunds are not attributed to a channel)
    money = ("revenue", "discounts") if f.channel else ()
    for row in period_sums_by(f, "session_days", lambda qs: of_category_sessions(qs, f), "age_group",
                              ("sessions", "purchasing_sessions", *money)):
        sums = age_rows.setdefault(row["age_group"], _empty_age_row())
        sums.update(sessions=row["sessions"], purchasing_sessions=row["purchasing_sessions"])
        if f.channel:
            sums["revenue"] = None if "revenue" in channel_unknowns(f) else row["revenue"] - row["discounts"]
    if f.channel:
        if with_customers:
            for age_group, n in _channel_customers_by_age(f):
                age_rows.setdefault(age_group, _empty_age_row())["customers"] = n
        return
    for row in period_sums_by(f, "event_days", lambda qs: of_category_events(qs, f).filter(action__in=MONEY_ACTIONS),
                              "age_group", ("revenue", "discounts", "refunds")):
        age_rows.setdefault(row["age_group"], _empty_age_row())["revenue"] = (
            row["revenue"] - row["discounts"] - row["refunds"])
    if with_customers:
        # the period's people bitmap cut to each age group's customers (a scan of the customers, not of
        # every active customer day of the period)
        customers = Customer.objects.filter(age_group=f.age_group) if f.age_group else Customer.objects.all()
        for age_group, n in active_customers_by_age(f, customers).items():
            age_rows.setdefault(age_group, _empty_age_row())["customers"] = n


def age_group_stats(f: MetricFilter, segment_pks: list[int] | None, days: QuerySet | None = None, *,
                    with_customers: bool = True) -> list[dict[str, Any]]:
    """Sessions and conversion per age group with Wilson 95% intervals (``customers``: active ones,
    counted only ``with_customers``: it scans day × customer). ``days``: the segment's day × customer
    rows, read only without the segment rollup (None: ``customer_days``, built only then)."""
    age_rows = {g: _empty_age_row() for g in AgeGroup.values}
    if segment_pks is not None and segment_rollup_applies(f):
        _segment_rollup_age_rows(f, age_rows, with_customers=with_customers)
    elif segment_pks is not None:
        _segment_age_rows(customer_days(f, segment_pks) if days is None else days, segment_pks, age_rows)
    else:
        _store_age_rows(f, age_rows, with_customers=with_customers)
    out = []
    for g in AgeGroup.values:
        if f.age_group and g != f.age_group:
            continue
        sums = age_rows[g]
        purchasing, sessions = as_count(sums["purchasing_sessions"]), as_count(sums["sessions"])
        low, high = wilson_interval(purchasing, sessions)
        out.append({"age_group": g, "customers": as_count(sums["customers"]), "sessions": sessions,
                    "purchasing_sessions": purchasing, "conversion": rate(purchasing, sessions),
                    "ci_low": low, "ci_high": high,
                    "revenue": None if sums["revenue"] is None else as_money(sums["revenue"])})
    return out


BOUNDED_ROUNDS = (4 * TOP_N, 16 * TOP_N, 64 * TOP_N)  # candidates read per round, then the whole period
# a channel's round reads its purchasing sessions' index whatever the candidates: fewer, larger rounds
CHANNEL_ROUNDS = (84 * TOP_N, 256 * TOP_N)
BOUNDED_DAYS = 90  # shorter periods read every buyer (fewer of them, and the all-time bound is loose there)


def _bounded_top(rows: QuerySet, rounds: tuple[int, ...] = BOUNDED_ROUNDS) -> list[dict[str, Any]] | None:
    """The ``TOP_N`` of ``rows`` (per customer: ``r``, the period's revenue, and ``o``) by ``r`` then
    customer, reading only the customers of highest all-time gross revenue (``CustomerTotals``): a
    customer's revenue in any period, net or less discounts, is at most their all-time gross (lines,
    discounts and refunds are never negative), so once the tenth best period figure exceeds the all-time
    revenue of every customer not read, no one else can enter. A long period's top customers are then a
    few dozen customers' rows instead of every buyer's. None when a few rounds did not settle it (a short
    period, whose buyers are few anyway): the caller reads the whole period."""
    best: list[dict[str, Any]] = []
    ranked = CustomerTotals.objects.filter(revenue__gt=0).order_by("-revenue", "customer_id")
    read = 0
    for size in rounds:
        candidates = list(ranked.values_list("customer_id", "revenue")[read:read + size])
        if not candidates:
            return best[:TOP_N]  # every buyer read
        read += size
        best.extend(rows.filter(customer_id__in=[pk for pk, _ in candidates]))
        best = sorted(best, key=lambda r: (-r["r"], r["customer_id"]))[:TOP_N]
        if len(best) == TOP_N and best[-1]["r"] > candidates[-1][1]:
            return best  # (those not read have at most the last candidate's revenue)
    return None


def _top_customers(f: MetricFilter, days: QuerySet) -> list[dict[str, Any]]:
    """The period's top customers by net revenue (among those who bought in it); with a channel, by the
    revenue less discounts of their sessions from it (``insights_sess_chan_start_idx``)."""
    if f.channel:
        rows = (channel_sessions(f).filter(purchased=True).values("customer_id")
                .annotate(r=Sum(F("revenue") - F("discounts")), o=Sum("order_count")))
    else:
        rows = days.filter(revenue__gt=0).values("customer_id").annotate(r=net_revenue(), o=Sum("orders"))
    rounds = CHANNEL_ROUNDS if f.channel else BOUNDED_ROUNDS
    top_rows = _bounded_top(rows, rounds) if (f.days or BOUNDED_DAYS) >= BOUNDED_DAYS else None
    if top_rows is None:
        top_rows = list(rows.order_by("-r", "customer_id")[:TOP_N])
    pks = [r["customer_id"] for r in top_rows]
    customers_by_pk = Customer.objects.in_bulk(pks)
    last_seen = dict(CustomerTotals.objects.filter(customer_id__in=pks).values_list("customer_id", "last_seen"))
    predicted = clv_predictions_for(customer_pks=pks)  # per customer: left out for viewers (insights.shaping)
    top = []
    for r in top_rows:
        c = customers_by_pk.get(r["customer_id"])
        if c is not None:
            top.append({"pk": c.pk, "customer_id": c.external_id, "name": c.name, "email": c.email,
                        "revenue": as_money(r["r"]), "orders": as_count(r["o"]),
                        "last_seen": iso_or_none(last_seen.get(c.pk)),
                        "predicted_clv_12m": predicted.get(c.pk, {}).get("predicted_clv_12m"),
                        "tier": predicted.get(c.pk, {}).get("tier")})
    return top


def _clv_bucket_counts(totals: QuerySet) -> dict[int, int]:
    """Customers per CLV bucket of ``totals``: each one's net rounded once in a subquery (OFFSET 0 keeps
    PostgreSQL from folding it back into every edge's test: eight roundings a row, the panel's costliest
    statement with 30,000 customers)."""
    # as stored: SQLite's float residue must not move a customer across an edge
    try:
        inner, params = totals.annotate(net=Round(NET, 2)).values("net").query.sql_with_params()
    except EmptyResultSet:  # a segment without customers
        return {}
    whens = " ".join("WHEN t.net >= %s THEN %s" for _ in CLV_EDGES)
    edges = [v for i, edge in reversed(list(enumerate(CLV_EDGES))) for v in (edge, i)]
    limit = " LIMIT -1" if connection.vendor == "sqlite" else ""  # SQLite takes an OFFSET only after a LIMIT
    sql = (f"SELECT CASE {whens} ELSE 0 END AS bucket, COUNT(*) FROM ({inner}{limit} OFFSET 0) t "
           f"GROUP BY 1")
    with connection.cursor() as cur:
        cur.execute(sql, [*edges, *params])
        return {int(bucket): int(n) for bucket, n in cur.fetchall()}


def _clv_distribution(f: MetricFilter, segment_pks: list[int] | None) -> list[dict[str, Any]]:
    """Purchasing customers by all-time net revenue (historical CLV, docs/money.md), counted per bucket in
    SQL (bucket i: from edge i to edge i + 1; below the first edge: the first bucket)."""
    totals = CustomerTotals.objects.filter(revenue__gt=0)
    if segment_pks is not None:
        totals = totals.filter(customer_id__in=segment_rows(f).values("customer_id"))
    elif f.age_group:
        totals = totals.filter(customer_id__in=Customer.objects.filter(age_group=f.age_group).values("pk"))
    counts = _clv_bucket_counts(totals)
    return [{"bucket_low": edge, "bucket_high": CLV_EDGES[i + 1] if i + 1 < len(CLV_EDGES) else None,
             "customers": counts.get(i, 0)} for i, edge in enumerate(CLV_EDGES)]


def _segment_predictions(f: MetricFilter) -> dict[str, dict[str, Any]]:
    """Per RFM segment (the filter's segment and age group): the latest CLV fit's summed predicted
    12-month value and high-tier customers. Empty without a fit."""
    fit = clv_fit_latest()
    if fit is None:
        return {}
    rows = ClvPrediction.objects.filter(fit=fit, customer__rfm__isnull=False)
    if f.segment:
        rows = rows.filter(customer__rfm__segment=f.segment)
    if f.age_group:
        rows = rows.filter(customer__age_group=f.age_group)
    return {r["customer__rfm__segment"]: {"predicted_clv_12m": round(r["v"] or 0.0, 2), "high_tier": r["h"]}
            for r in rows.values("customer__rfm__segment").annotate(
                v=Sum("clv_12m"), h=Count("pk", filter=Q(tier=ClvPrediction.Tier.HIGH)))}


def _rfm_segments(f: MetricFilter) -> list[dict[str, Any]]:
    """Customers and all-time revenue per RFM segment (the kept scores, ``insights.rfm_store``), with the
    latest CLV fit's predicted 12-month value and high-tier customers (None without a fit)."""
    totals: dict[str, tuple[int, float]] = {name: (0, 0.0) for name in RFM_SEGMENTS}
    for r in segment_rows(f).values("segment").annotate(n=Count("pk"), r=Sum("net_revenue")):
        totals[r["segment"]] = (r["n"], float(r["r"] or 0))
    predicted = _segment_predictions(f)
    return [{"segment": name, "customers": int(v[0]), "revenue": round(v[1], 2),
             "predicted_clv_12m": predicted.get(name, {}).get("predicted_clv_12m", 0.0 if predicted else None),
             "high_tier": predicted.get(name, {}).get("high_tier", 0 if predicted else None)}
            for name, v in totals.items()]


def customers_stats(f: MetricFilter) -> dict[str, Any]:
    """Conversion by age group, the period's top customers, CLV (all-time revenue) and RFM segments of
    purchasing customers (these two are all-time figures per customer: no channel)."""
    segment_pks = segment_customer_pks(f)
    f = channel_cut(f, segment_pks)
    # a segment's customers as a subquery (a semi-join), not as thousands of parameters
    days = (customer_days(f, None) if segment_pks is None else within_store_days(CustomerDaily.objects.all(), f)
            .filter(customer_id__in=segment_rows(f).values("customer_id")))
    return {"age_groups": age_group_stats(f, segment_pks, days), "top_customers": _top_customers(f, days),
            "clv_distribution": _clv_distribution(f, segment_pks), "rfm": _rfm_segments(f),
            "rfm_as_of": rfm_freshness()["as_of"]}


def _profile(c: Customer) -> dict[str, Any]:
    totals = CustomerTotals.objects.filter(customer_id=c.pk).first()
    return {
        "pk": c.pk, "customer_id": c.external_id, "name": c.name, "email": c.email, "age": c.age,
        "age_group": c.age_group, "gender": c.gender, "city": c.city, "country": c.country,
        "signed_up_at": iso_or_none(c.signed_up_at),
        "revenue": as_money(totals.revenue - totals.discounts - totals.refunds if totals else 0),
        "gross_revenue": as_money(totals.revenue if totals else 0),
        "discounts": as_money(totals.discounts if totals else 0),
        "refunds": as_money(totals.refunds if totals else 0), "orders": totals.orders if totals else 0,
        "sessions": totals.sessions if totals else 0, "events": totals.events if totals else 0,
        "first_seen": iso_or_none(totals.first_seen if totals else None),
        "last_seen": iso_or_none(totals.last_seen if totals else None),
        "segment": CustomerRfm.objects.filter(pk=c.pk).values_list("segment", flat=True).first(),
        "segment_as_of": rfm_freshness()["as_of"],
    }


def _session_row(s: Session) -> dict[str, Any]:
    return {"pk": s.pk, "key": s.key, "session_id": s.session_id, "started_at": s.started_at.isoformat(),
            "last_event_at": s.last_event_at.isoformat(), "events": s.event_count, "closed": s.closed,
            "funnel_step": s.funnel_step, "purchased": s.purchased, "revenue": as_money(s.revenue),
            "orders": s.order_count}


def _orders(sessions: list[Session]) -> list[dict[str, Any]]:
    """The orders of the customer's latest sessions, newest first (from each session's derived summary)."""
    orders: list[dict[str, Any]] = []
    for s in sessions:
        for key, at in s.derived().orders:  # "o:<order id>", or "s:<session key>" for an order without an id
            order_id = key.split(":", 1)[1] if key.startswith("o:") else None
            orders.append({"order": order_id, "session": s.key, "timestamp": at.isoformat()})
    orders.sort(key=lambda o: o["timestamp"], reverse=True)
    return orders


def customer_detail(customer_pk: int, *, limit: int = 50) -> dict[str, Any]:
    """One customer's profile, latest sessions, carts, orders and events (Customer.DoesNotExist if none)."""
    c = Customer.objects.get(pk=customer_pk)
    sessions = list(Session.objects.filter(customer_id=c.pk).order_by("-last_event_at")[:limit])
    carts = [{"pk": k.pk, "state": k.state, "items": k.items, "value": as_money(k.value),
              "opened_at": k.opened_at.isoformat(), "closed_at": iso_or_none(k.closed_at)}
             for k in Cart.objects.filter(customer_id=c.pk).order_by("-opened_at")[:limit]]
    timeline = [{"event_id": e.event_id, "action": e.action, "product_title": e.product.title if e.product else None,
                 "price": as_money(e.price), "quantity": e.quantity, "order_id": e.order_id,
                 "session_id": e.session_id, "timestamp": e.timestamp.isoformat()}
                for e in Event.objects.filter(customer_id=c.pk).select_related("product")
                .order_by("-timestamp", "-id")[:limit]]
    return {"profile": _profile(c), "sessions": [_session_row(s) for s in sessions], "carts": carts,
            "orders": _orders(sessions), "timeline": timeline}
