"""Reads for the dashboards and the JSON API: one selector per metric family (DESIGN §4).

Every panel reads rollups (never the event table); the customer drill-down and the recent lists use
indexed look-ups with a LIMIT. Money is a float rounded to 2 dp, rates are fractions or None.

Filter semantics:
- date range (store days, end inclusive): events and revenue by their own time; sessions, carts,
  orders and funnel steps by the session's start.
- actions: restrict event counts (events, timeseries, seasonality events). Revenue, orders, sessions
  and carts are not event counts and ignore it.
- age_group: the customer's age group, everywhere.
- category: events and revenue of that category's products; the sessions that touched it, the carts
  it was added to, and orders with a line in it. The distinct-customer count, seasonality by hour,
  CLV and RFM do not have a category dimension and ignore it.
- segment: the customers currently in that RFM segment; answered from the day × customer rollup
  (KPIs, funnel, timeseries by day, customers, carts over time and rates). Seasonality and
  products ignore it (they have no customer dimension).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from customers.models import AgeGroup, Customer
from events.models import Action, Event
from insights.contributions import CART_VALUE_EDGES
from insights.filters import RFM_SEGMENTS, MetricFilter, store_today, store_tz
from insights.models import (
    Cart,
    CartValueDaily,
    CustomerDaily,
    CustomerTotals,
    EventDaily,
    EventHourly,
    PendingWindow,
    ProductDaily,
    Session,
    SessionDaily,
    SessionHourly,
)
from insights.stats import quintile_scores, rate, rfm_segment, separated_best, wilson_interval
from products.models import Product

CLV_EDGES = (0, 50, 100, 250, 500, 1000, 2500, 5000)
TOP_N = 10
HOURLY_MAX_DAYS = 2
MIN_CARTS_FOR_CLAIM = 20
FUNNEL = (("view", "funnel_view"), ("add_to_cart", "funnel_cart"), ("checkout", "funnel_checkout"),
          ("purchase", "funnel_purchase"))
DROPOFF = {"add_to_cart": "dropoff_cart", "checkout": "dropoff_checkout"}
WEEKDAYS = [calendar.day_abbr[i] for i in range(7)]
MONTHS = [calendar.month_abbr[i] for i in range(1, 13)]


# --- helpers -----------------------------------------------------------------------------------


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


def _int(value: Any) -> int:
    return int(value or 0)


def _days(qs: QuerySet, f: MetricFilter, field: str = "day") -> QuerySet:
    if f.start is not None:
        qs = qs.filter(**{f"{field}__gte": f.start})
    if f.end is not None:
        qs = qs.filter(**{f"{field}__lte": f.end})
    return qs


def _hours(qs: QuerySet, f: MetricFilter, field: str = "hour") -> QuerySet:
    lo, hi = f.utc_bounds()
    if lo is not None:
        qs = qs.filter(**{f"{field}__gte": lo})
    if hi is not None:
        qs = qs.filter(**{f"{field}__lt": hi})
    return qs


def _age(qs: QuerySet, f: MetricFilter) -> QuerySet:
    return qs.filter(age_group=f.age_group) if f.age_group else qs


def mask_name(name: str) -> str:
    return " ".join(part[0] + "***" for part in name.split() if part) if name else ""


def mask_email(email: str) -> str:
    if not email or "@" not in email:
        return "***" if email else ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def _sums(qs: QuerySet, fields: Iterable[str]) -> dict[str, Any]:
    fields = list(fields)
    row = qs.aggregate(**{f: Sum(f) for f in fields})
    return {f: row[f] or 0 for f in fields}


# --- RFM segments ------------------------------------------------------------------------------


def rfm_assignments() -> dict[int, tuple[str, float]]:
    """customer pk → (segment, all-time revenue) for every customer with an order (DESIGN §4 RFM:
    recency of the last purchase, order count and revenue scored 1–5 by quintile; frequency and
    monetary scores are averaged, rounding up)."""
    rows = list(CustomerTotals.objects.filter(orders__gt=0).values_list(
        "customer_id", "last_purchase_at", "orders", "revenue"))
    if not rows:
        return {}
    recency = quintile_scores([r[1].timestamp() if r[1] else 0.0 for r in rows])
    freq = quintile_scores([float(r[2]) for r in rows])
    money = quintile_scores([float(r[3]) for r in rows])
    return {r[0]: (rfm_segment(rs, (fs + ms + 1) // 2), float(r[3]))
            for r, rs, fs, ms in zip(rows, recency, freq, money, strict=True)}


def _segment_customers(f: MetricFilter) -> list[int] | None:
    """The customers of the filter's segment and age group (None: no customer restriction needed)."""
    if not f.segment:
        return None
    ids = [pk for pk, (seg, _) in rfm_assignments().items() if seg == f.segment]
    if f.age_group and ids:
        ids = list(Customer.objects.filter(pk__in=ids, age_group=f.age_group).values_list("pk", flat=True))
    return ids


def _customer_daily(f: MetricFilter, seg: list[int] | None) -> QuerySet:
    qs = _days(CustomerDaily.objects.all(), f)
    if seg is not None:
        qs = qs.filter(customer_id__in=seg)
    elif f.age_group:
        qs = qs.filter(customer_id__in=Customer.objects.filter(age_group=f.age_group).values("pk"))
    return qs


# --- KPIs --------------------------------------------------------------------------------------

LONG_PERIOD_DAYS = 45  # _active_customers: from here on, probing each customer beats scanning the period
KPI_KEYS = ("events", "customers", "sessions", "revenue", "orders", "aov", "cart_conversion_rate",
            "cart_abandonment_rate", "session_conversion_rate", "avg_clv")


def _kpis(f: MetricFilter, seg: list[int] | None, *, people: bool = True) -> dict[str, Any]:
    """The KPI row of DESIGN §4. ``people=False`` leaves out the two distinct-customer counts
    (customers, avg_clv: the costly part, a scan of day × customer) for callers that need neither;
    the extra ``_carts_closed`` and ``_revenue_left`` keys are for insights_list and are dropped by
    kpis_stats. ``seg``: the filter's segment customers (``_segment_customers``: the same for a
    period and the previous one)."""
    cd = _customer_daily(f, seg)
    customers = buyers = None
    session_cols = ("sessions", "purchasing_sessions", "orders", "carts_converted", "carts_abandoned",
                    "carts_emptied", "revenue_left")
    if seg is not None:
        # One pass grouped by the segment's customers gives the sums and both distinct counts.
        cols = ("events", "revenue", *session_cols)
        rows = list(cd.values("customer_id").annotate(**{f"t_{c}": Sum(c) for c in cols}))
        s = {c: sum(r[f"t_{c}"] or 0 for r in rows) for c in cols}
        customers = sum(1 for r in rows if r["t_events"])
        buyers = sum(1 for r in rows if r["t_revenue"])
        events, revenue = s["events"], s["revenue"]
    else:
        if people:
            customers = _active_customers(f, cd)
            # An index-only scan of the buyers' partial index (insights_cud_buyers_idx).
            buyers = cd.filter(revenue__gt=0).values("customer_id").distinct().count()
        ev = _age(_days(EventDaily.objects.all(), f), f)
        if f.category:
            ev = ev.filter(category=f.category)
        events = _sums(ev.filter(action__in=f.actions) if f.actions else ev, ["events"])["events"]
        revenue = _sums(ev.filter(action=Action.PURCHASE), ["revenue"])["revenue"]
        s = _sums(_age(_days(SessionDaily.objects.filter(category=f.category or ""), f), f), session_cols)
    closed = s["carts_converted"] + s["carts_abandoned"] + s["carts_emptied"]
    return {
        "events": _int(events),
        "customers": _int(customers) if people else None,
        "sessions": _int(s["sessions"]),
        "revenue": _money(revenue),
        "orders": _int(s["orders"]),
        "aov": round(float(revenue) / s["orders"], 2) if s["orders"] else None,
        "cart_conversion_rate": rate(s["carts_converted"], closed),
        "cart_abandonment_rate": rate(s["carts_abandoned"], closed),
        "session_conversion_rate": rate(s["purchasing_sessions"], s["sessions"]),
        "avg_clv": round(float(revenue) / buyers, 2) if buyers else None,
        "_carts_closed": _int(closed),
        "_revenue_left": _money(s["revenue_left"]),
    }


def _active_customers(f: MetricFilter, cd: QuerySet) -> int:
    """Distinct customers with events in the period, exactly. A short period: the distinct customer
    ids of its day × customer rows (an index-only scan of insights_cud_active_idx, which grows with
    the period). A long one: one probe per customer into (customer_id, day) that stops at the first
    active day (which grows with the customer base, not the period)."""
    if f.has_range and (f.end - f.start).days < LONG_PERIOD_DAYS:  # type: ignore[operator]
        return cd.filter(events__gt=0).values("customer_id").distinct().count()
    people = Customer.objects.filter(age_group=f.age_group) if f.age_group else Customer.objects.all()
    return people.filter(Exists(cd.filter(customer_id=OuterRef("pk"), events__gt=0))).count()


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in KPI_KEYS}


def kpis_stats(f: MetricFilter) -> dict[str, Any]:
    """The KPI row for ``f`` and, under ``previous``, for the period of equal length before it, with
    ``previous["comparison"]`` (``previous_period_comparison``) saying whether the two may be compared."""
    seg = _segment_customers(f)
    out = _public(_kpis(f, seg))
    out["previous"] = _public(_kpis(f.previous(), seg)) if f.has_range else {k: None for k in KPI_KEYS}
    out["previous"]["comparison"] = previous_period_comparison(f)
    return out


# --- honesty: what the figures can be compared with, and how fresh they are ---------------------


def data_first_day() -> dt.date | None:
    """The store day of the oldest stored event (the first key of the day × action rollup's index)."""
    return EventDaily.objects.aggregate(first=Min("day"))["first"]


def previous_period_comparison(f: MetricFilter) -> dict[str, Any]:
    """Whether ``f``'s period may be compared with the period of equal length before it: only when the
    stored history covers that previous period from its first day. The one rule behind the KPI cards'
    deltas, the API's ``previous.comparison`` and the insights' revenue trend: a history that starts
    inside (or after) the previous period would make any store look like it is booming.

    ``{"available": bool, "reason": str | None, "data_starts": "YYYY-MM-DD" | None}``."""
    if not f.has_range:
        return {"available": False, "reason": "no previous period for an open date range", "data_starts": None}
    first = data_first_day()
    if first is None:
        return {"available": False, "reason": "no data yet", "data_starts": None}
    previous_start = f.previous().start
    assert previous_start is not None
    if first > previous_start:
        return {"available": False, "reason": f"data starts {first.isoformat()}", "data_starts": first.isoformat()}
    return {"available": True, "reason": None, "data_starts": first.isoformat()}


FRESHNESS_GRACE_SECONDS = 10  # live derivation runs every 2 s: a lag under this is normal, not news


def derivation_status() -> dict[str, Any]:
    """Events stored but not yet derived into sessions and carts (``PendingWindow``, queued by the ingest
    transaction, drained by ``process_pending_analytics_task``). Event counts and revenue are live;
    sessions, carts, orders, funnel and conversion include every event received before
    ``derived_through`` (the oldest queued batch) and none of the ``pending_events`` after it.

    The counts are exact whenever anything waits; ``message`` (what pages show) is set only once the
    oldest batch has waited ``FRESHNESS_GRACE_SECONDS``, so live traffic, derived within seconds, does
    not make the banner blink. One aggregate over the queue (a few rows; hundreds after a bulk load):
    cheap enough for every page, API answer and dashboard push."""
    row = PendingWindow.objects.aggregate(events=Sum("events"), batches=Count("id"), oldest=Min("created_at"))
    batches = _int(row["batches"])
    if not batches:
        return {"pending_events": 0, "pending_batches": 0, "derived_through": None, "lag_seconds": 0,
                "message": None}
    events = _int(row["events"])
    oldest: dt.datetime = row["oldest"]
    lag = max(0, int((timezone.now() - oldest).total_seconds()))
    message = None
    if lag >= FRESHNESS_GRACE_SECONDS:
        local = oldest.astimezone(store_tz())
        when = f"{local:%H:%M %Z}" if local.date() == store_today() else f"{local.day} {local:%b %H:%M %Z}"
        waiting = f"{events:,} events being processed" if events else f"{batches:,} batches of events being processed"
        message = f"Sessions, carts and orders include events received up to {when}; {waiting}."
    return {"pending_events": events, "pending_batches": batches, "derived_through": oldest.isoformat(),
            "lag_seconds": lag, "message": message}


# --- timeseries --------------------------------------------------------------------------------


def events_timeseries(f: MetricFilter) -> dict[str, Any]:
    hourly = f.days is not None and f.days <= HOURLY_MAX_DAYS and not f.category and not f.segment
    points: dict[Any, dict[str, Any]] = defaultdict(lambda: {"events": 0, "orders": 0, "revenue": 0})
    if hourly:
        ev = _age(_hours(EventHourly.objects.all(), f), f)
        for row in (ev.filter(action__in=f.actions) if f.actions else ev).values("hour").annotate(n=Sum("events")):
            points[row["hour"]]["events"] = row["n"]
        for row in ev.filter(action=Action.PURCHASE).values("hour").annotate(r=Sum("revenue")):
            points[row["hour"]]["revenue"] = row["r"]
        for row in _age(_hours(SessionHourly.objects.all(), f), f).values("hour").annotate(o=Sum("orders")):
            points[row["hour"]]["orders"] = row["o"]
        lo, hi = f.utc_bounds()
        assert lo is not None and hi is not None
        t = lo.astimezone(dt.UTC)
        while t < hi:
            points[t]  # noqa: B018 - fill empty hours
            t += dt.timedelta(hours=1)
        tz = store_tz()
        series = [{"t": t.astimezone(tz).isoformat(), "events": _int(p["events"]), "orders": _int(p["orders"]),
                   "revenue": _money(p["revenue"])} for t, p in sorted(points.items())]
        return {"grain": "hour", "points": series}
    seg = _segment_customers(f)
    if seg is not None:
        for row in _customer_daily(f, seg).values("day").annotate(n=Sum("events"), r=Sum("revenue"),
                                                                   o=Sum("orders")):
            points[row["day"]].update(events=row["n"], revenue=row["r"], orders=row["o"])
    else:
        ev = _age(_days(EventDaily.objects.all(), f), f)
        if f.category:
            ev = ev.filter(category=f.category)
        for row in (ev.filter(action__in=f.actions) if f.actions else ev).values("day").annotate(n=Sum("events")):
            points[row["day"]]["events"] = row["n"]
        for row in ev.filter(action=Action.PURCHASE).values("day").annotate(r=Sum("revenue")):
            points[row["day"]]["revenue"] = row["r"]
        sd = _age(_days(SessionDaily.objects.filter(category=f.category or ""), f), f)
        for row in sd.values("day").annotate(o=Sum("orders")):
            points[row["day"]]["orders"] = row["o"]
    if f.start is not None and f.end is not None:
        d = f.start
        while d <= f.end:
            points[d]  # noqa: B018 - fill empty days
            d += dt.timedelta(days=1)
    series = [{"t": d.isoformat(), "events": _int(p["events"]), "orders": _int(p["orders"]),
               "revenue": _money(p["revenue"])} for d, p in sorted(points.items())]
    return {"grain": "day", "points": series}


# --- funnel ------------------------------------------------------------------------------------


def _funnel_steps(row: dict[str, Any]) -> list[dict[str, Any]]:
    steps = []
    first = row.get("funnel_view") or 0
    prev = None
    for step, col in FUNNEL:
        n = _int(row.get(col))
        steps.append({
            "step": step, "sessions": n,
            "rate_from_previous": None if prev is None else rate(n, prev),
            "rate_from_first": rate(n, first),
            "dropoff_revenue": _money(row.get(DROPOFF[step], 0)) if step in DROPOFF else 0.0,
        })
        prev = n
    return steps


FUNNEL_COLS = ("funnel_view", "funnel_cart", "funnel_checkout", "funnel_purchase", "dropoff_cart", "dropoff_checkout")


def funnel_stats(f: MetricFilter, breakdown: str | None = None) -> dict[str, Any]:
    if breakdown not in (None, "age_group", "category"):
        raise ValueError("breakdown must be age_group or category")
    seg = _segment_customers(f)
    if seg is not None:
        total = _sums(_customer_daily(f, seg), FUNNEL_COLS)
        base = None
    else:
        base = _age(_days(SessionDaily.objects.all(), f), f)
        total = _sums(base.filter(category=f.category or ""), FUNNEL_COLS)
    out: dict[str, Any] = {"steps": _funnel_steps(total), "breakdown": None}
    if breakdown:
        groups = []
        if breakdown == "age_group":
            if seg is not None:
                by_age: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
                ages = dict(Customer.objects.filter(pk__in=seg).values_list("pk", "age_group"))
                for row in _customer_daily(f, seg).values("customer_id").annotate(**{c: Sum(c) for c in FUNNEL_COLS}):
                    for c in FUNNEL_COLS:
                        by_age[ages.get(row["customer_id"], "unknown")][c] += row[c] or 0
                rows = [dict(v, group=k) for k, v in by_age.items()]
            else:
                assert base is not None
                rows = [dict(r, group=r["age_group"]) for r in base.filter(category=f.category or "")
                        .values("age_group").annotate(**{c: Sum(c) for c in FUNNEL_COLS})]
            order = {g: i for i, g in enumerate(AgeGroup.values)}
            rows.sort(key=lambda r: order.get(r["group"], 99))
        else:
            base_c = _age(_days(SessionDaily.objects.exclude(category=""), f), f)
            if f.category:
                base_c = base_c.filter(category=f.category)
            rows = [dict(r, group=r["category"]) for r in base_c.values("category")
                    .annotate(**{c: Sum(c) for c in FUNNEL_COLS}).order_by("category")]
        for r in rows:
            groups.append({"group": r["group"], "steps": _funnel_steps(r)})
        out["breakdown"] = {"by": breakdown, "groups": groups}
    return out


# --- seasonality -------------------------------------------------------------------------------


def _events_per_hour(f: MetricFilter, *, revenue: bool = True) -> list[tuple[dt.datetime, int, Any]]:
    """(UTC hour, events of the filter's actions, purchase revenue or None) in one pass over EventHourly."""
    ev = _age(_hours(EventHourly.objects.all(), f), f)
    if not revenue:
        ev = ev.filter(action__in=f.actions) if f.actions else ev
        return [(at, n, None) for at, n in ev.values("hour").annotate(n=Sum("events")).values_list("hour", "n")]
    events = Sum("events", filter=Q(action__in=f.actions)) if f.actions else Sum("events")
    return list(ev.values("hour").annotate(n=events, r=Sum("revenue", filter=Q(action=Action.PURCHASE)))
                .values_list("hour", "n", "r"))


_SEASON_SUMS = ("events", "revenue", "sessions", "purchasing", "orders")


def seasonality_stats(f: MetricFilter) -> dict[str, Any]:
    """Sums per UTC hour from the hourly rollups, bucketed in the store's time zone into a
    weekday × hour grid and months; the hour and weekday profiles are the grid's margins."""
    tz = store_tz()
    slots: dict[dt.datetime, tuple[int, int]] = {}  # UTC hour → (weekday * 24 + local hour, month - 1)
    grid = {name: [0] * 168 for name in _SEASON_SUMS}
    by_month = {name: [0] * 12 for name in _SEASON_SUMS}

    def add(name: str, at: dt.datetime, value: Any) -> None:
        slot = slots.get(at)
        if slot is None:
            local = at.astimezone(tz)
            slot = slots[at] = (local.weekday() * 24 + local.hour, local.month - 1)
        grid[name][slot[0]] += value
        by_month[name][slot[1]] += value

    for at, n, revenue in _events_per_hour(f):
        add("events", at, n or 0)
        add("revenue", at, revenue or 0)
    for at, sessions, purchasing, orders in _age(_hours(SessionHourly.objects.all(), f), f).values("hour").annotate(
            s=Sum("sessions"), p=Sum("purchasing_sessions"), o=Sum("orders")).values_list("hour", "s", "p", "o"):
        add("sessions", at, sessions)
        add("purchasing", at, purchasing)
        add("orders", at, orders)

    def metrics(sums: dict[str, Any]) -> dict[str, Any]:
        return {"events": _int(sums["events"]), "sessions": _int(sums["sessions"]), "orders": _int(sums["orders"]),
                "revenue": _money(sums["revenue"]), "conversion": rate(sums["purchasing"], sums["sessions"])}

    def cell(i: int) -> dict[str, Any]:
        return metrics({name: grid[name][i] for name in _SEASON_SUMS})

    def margin(cells: range) -> dict[str, Any]:
        return metrics({name: sum(grid[name][i] for i in cells) for name in _SEASON_SUMS})

    return {
        "time_zone": str(tz),
        "hour": [{"hour": h, **margin(range(h, 168, 24))} for h in range(24)],
        "weekday": [{"weekday": d, "label": WEEKDAYS[d], **margin(range(d * 24, d * 24 + 24))} for d in range(7)],
        "month": [{"month": m, "label": MONTHS[m - 1],
                   **metrics({name: by_month[name][m - 1] for name in _SEASON_SUMS})} for m in range(1, 13)],
        "weekday_hour": [{"weekday": d, "hour": h, **cell(d * 24 + h)} for d in range(7) for h in range(24)],
    }


# --- customers ---------------------------------------------------------------------------------


def _buckets(values: Iterable[float], edges: tuple[int, ...]) -> list[dict[str, Any]]:
    counts = [0] * len(edges)
    for v in values:
        i = 0
        for j, edge in enumerate(edges):
            if v >= edge:
                i = j
        counts[i] += 1
    return [{"bucket_low": edges[i], "bucket_high": edges[i + 1] if i + 1 < len(edges) else None, "n": c}
            for i, c in enumerate(counts)]


def _age_group_stats(f: MetricFilter, seg: list[int] | None, cd: QuerySet, *,
                     with_customers: bool = True) -> list[dict[str, Any]]:
    """Sessions and conversion per age group with Wilson 95% intervals (``customers``: active ones,
    counted only ``with_customers``: it scans day × customer)."""
    age_rows: dict[str, dict[str, Any]] = {g: {"customers": 0, "sessions": 0, "purchasing_sessions": 0, "revenue": 0}
                                           for g in AgeGroup.values}
    if seg is not None:
        ages = dict(Customer.objects.filter(pk__in=seg).values_list("pk", "age_group"))
        for row in cd.values("customer_id").annotate(s=Sum("sessions"), p=Sum("purchasing_sessions"),
                                                     r=Sum("revenue"), e=Sum("events")):
            a = age_rows[ages.get(row["customer_id"], "unknown")]
            a["customers"] += int(bool(row["e"]))
            a["sessions"] += row["s"]
            a["purchasing_sessions"] += row["p"]
            a["revenue"] += row["r"] or 0
    else:
        sd = _age(_days(SessionDaily.objects.filter(category=f.category or ""), f), f)
        for row in sd.values("age_group").annotate(s=Sum("sessions"), p=Sum("purchasing_sessions"), r=Sum("revenue")):
            a = age_rows.setdefault(row["age_group"], {"customers": 0, "sessions": 0, "purchasing_sessions": 0,
                                                       "revenue": 0})
            a.update(sessions=row["s"], purchasing_sessions=row["p"], revenue=row["r"])
        if with_customers:
            counts = (Customer.objects.filter(pk__in=cd.filter(events__gt=0).values("customer_id"))
                      .values("age_group").annotate(n=Count("pk")))
            for row in counts:
                age_rows[row["age_group"]]["customers"] = row["n"]
    age_groups = []
    for g in AgeGroup.values:
        a = age_rows[g]
        if f.age_group and g != f.age_group:
            continue
        low, high = wilson_interval(_int(a["purchasing_sessions"]), _int(a["sessions"]))
        age_groups.append({"age_group": g, "customers": _int(a["customers"]), "sessions": _int(a["sessions"]),
                           "purchasing_sessions": _int(a["purchasing_sessions"]),
                           "conversion": rate(_int(a["purchasing_sessions"]), _int(a["sessions"])),
                           "ci_low": low, "ci_high": high, "revenue": _money(a["revenue"])})
    return age_groups


def customers_stats(f: MetricFilter, *, mask: bool) -> dict[str, Any]:
    seg = _segment_customers(f)
    cd = _customer_daily(f, seg)
    age_groups = _age_group_stats(f, seg, cd)
    # Top customers by revenue in the period.
    top_rows = list(cd.filter(revenue__gt=0).values("customer_id").annotate(r=Sum("revenue"), o=Sum("orders"))
                    .order_by("-r", "customer_id")[:TOP_N])
    people = Customer.objects.in_bulk([r["customer_id"] for r in top_rows])
    last_seen = dict(CustomerTotals.objects.filter(customer_id__in=[r["customer_id"] for r in top_rows])
                     .values_list("customer_id", "last_seen"))
    top = []
    for r in top_rows:
        c = people.get(r["customer_id"])
        if c is None:
            continue
        seen = last_seen.get(c.pk)
        top.append({"pk": c.pk, "customer_id": c.external_id, "name": mask_name(c.name) if mask else c.name,
                    "email": mask_email(c.email) if mask else c.email, "revenue": _money(r["r"]),
                    "orders": _int(r["o"]), "last_seen": seen.isoformat() if seen else None})
    # CLV (all-time revenue) and RFM segments of purchasing customers.
    totals = CustomerTotals.objects.filter(revenue__gt=0)
    if seg is not None:
        totals = totals.filter(customer_id__in=seg)
    elif f.age_group:
        totals = totals.filter(customer_id__in=Customer.objects.filter(age_group=f.age_group).values("pk"))
    clv = [{"bucket_low": b["bucket_low"], "bucket_high": b["bucket_high"], "customers": b["n"]}
           for b in _buckets((float(v) for v in totals.values_list("revenue", flat=True)), CLV_EDGES)]
    assignments = rfm_assignments()
    allowed: set[int] | None = set(seg) if seg is not None else None
    if allowed is None and f.age_group:
        allowed = set(Customer.objects.filter(pk__in=list(assignments), age_group=f.age_group)
                      .values_list("pk", flat=True))
    seg_totals: dict[str, list[float]] = {name: [0, 0.0] for name in RFM_SEGMENTS}
    for pk, (name, revenue) in assignments.items():
        if allowed is None or pk in allowed:
            seg_totals[name][0] += 1
            seg_totals[name][1] += revenue
    rfm = [{"segment": name, "customers": int(v[0]), "revenue": round(v[1], 2)} for name, v in seg_totals.items()]
    return {"age_groups": age_groups, "top_customers": top, "clv_distribution": clv, "rfm": rfm}


def customer_detail(customer_pk: int, *, mask: bool, limit: int = 50) -> dict[str, Any]:
    c = Customer.objects.get(pk=customer_pk)
    totals = CustomerTotals.objects.filter(customer_id=c.pk).first()
    segment = rfm_assignments().get(c.pk, (None, 0.0))[0]
    profile = {
        "pk": c.pk, "customer_id": c.external_id, "name": mask_name(c.name) if mask else c.name,
        "email": mask_email(c.email) if mask else c.email, "age": None if mask else c.age,
        "age_group": c.age_group, "gender": c.gender, "city": "" if mask else c.city, "country": c.country,
        "signed_up_at": c.signed_up_at.isoformat() if c.signed_up_at else None,
        "revenue": _money(totals.revenue if totals else 0), "orders": totals.orders if totals else 0,
        "sessions": totals.sessions if totals else 0, "events": totals.events if totals else 0,
        "first_seen": totals.first_seen.isoformat() if totals and totals.first_seen else None,
        "last_seen": totals.last_seen.isoformat() if totals and totals.last_seen else None,
        "segment": segment,
    }
    sessions = list(Session.objects.filter(customer_id=c.pk).order_by("-last_event_at")[:limit])
    orders = []
    for s in sessions:
        for key, ts in s.summary.get("o", []):
            orders.append({"order": key.split(":", 1)[1] if key.startswith("o:") else None, "session": s.key,
                           "timestamp": ts})
    session_rows = [{"pk": s.pk, "key": s.key, "session_id": s.session_id, "started_at": s.started_at.isoformat(),
                     "last_event_at": s.last_event_at.isoformat(), "events": s.event_count, "closed": s.closed,
                     "funnel_step": s.funnel_step, "purchased": s.purchased, "revenue": _money(s.revenue),
                     "orders": s.order_count} for s in sessions]
    carts = [{"pk": k.pk, "state": k.state, "items": k.items, "value": _money(k.value),
              "opened_at": k.opened_at.isoformat(), "closed_at": k.closed_at.isoformat() if k.closed_at else None}
             for k in Cart.objects.filter(customer_id=c.pk).order_by("-opened_at")[:limit]]
    timeline = [{"event_id": e.event_id, "action": e.action, "product_title": e.product.title if e.product else None,
                 "price": _money(e.price), "quantity": e.quantity, "order_id": e.order_id,
                 "session_id": e.session_id, "timestamp": e.timestamp.isoformat()}
                for e in Event.objects.filter(customer_id=c.pk).select_related("product")
                .order_by("-timestamp", "-id")[:limit]]
    orders.sort(key=lambda o: o["timestamp"], reverse=True)
    return {"profile": profile, "sessions": session_rows, "carts": carts, "orders": orders, "timeline": timeline}


# --- products ----------------------------------------------------------------------------------


def _product_rows(f: MetricFilter) -> list[dict[str, Any]]:
    qs = _age(_days(ProductDaily.objects.all(), f), f)
    if f.category:
        qs = qs.filter(product_id__in=Product.objects.filter(category=f.category).values("pk"))
    rows = list(qs.values("product_id").annotate(
        views=Sum("views"), units=Sum("units"), revenue=Sum("revenue"), view_sessions=Sum("view_sessions"),
        cart_sessions=Sum("cart_sessions"), purchase_sessions=Sum("purchase_sessions"),
        carts_abandoned=Sum("carts_abandoned")))
    return rows


def products_stats(f: MetricFilter) -> dict[str, Any]:
    rows = _product_rows(f)
    info = {p["pk"]: p for p in Product.objects.filter(pk__in=[r["product_id"] for r in rows])
            .values("pk", "external_id", "title", "category")}

    def head(r: dict[str, Any]) -> dict[str, Any]:
        p: dict[str, Any] = dict(info.get(r["product_id"]) or {})
        return {"product_id": p.get("external_id"), "pk": r["product_id"], "title": p.get("title", ""),
                "category": p.get("category", "")}

    def top(key: str, build, *, where=lambda r: True) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        picked = sorted((r for r in rows if where(r)), key=lambda r: (-(r[key] or 0), r["product_id"]))[:TOP_N]
        return [{**head(r), **build(r)} for r in picked]

    for r in rows:
        r["abandon_rate"] = rate(r["carts_abandoned"] or 0, r["cart_sessions"] or 0) or 0.0
    return {
        "most_viewed": top("views", lambda r: {"views": _int(r["views"])}, where=lambda r: r["views"]),
        "top_revenue": top("revenue", lambda r: {"revenue": _money(r["revenue"]), "units": _int(r["units"])},
                           where=lambda r: r["revenue"]),
        "most_abandoned": top("carts_abandoned", lambda r: {"abandoned_carts": _int(r["carts_abandoned"])},
                              where=lambda r: r["carts_abandoned"]),
        "abandonment_rate": top("abandon_rate", lambda r: {
            "carts": _int(r["cart_sessions"]), "abandoned_carts": _int(r["carts_abandoned"]),
            "rate": rate(_int(r["carts_abandoned"]), _int(r["cart_sessions"]))}, where=lambda r: r["cart_sessions"]),
        "conversion": top("view_sessions", lambda r: {
            "view_sessions": _int(r["view_sessions"]), "cart_sessions": _int(r["cart_sessions"]),
            "purchase_sessions": _int(r["purchase_sessions"]),
            "cart_to_view": rate(_int(r["cart_sessions"]), _int(r["view_sessions"])),
            "purchase_to_view": rate(_int(r["purchase_sessions"]), _int(r["view_sessions"]))},
            where=lambda r: r["view_sessions"]),
    }


# --- carts -------------------------------------------------------------------------------------

CART_COLS = ("carts_converted", "carts_abandoned", "carts_emptied", "revenue_left")


def _rate_row(abandoned: int, carts: int) -> dict[str, Any]:
    low, high = wilson_interval(abandoned, carts)
    return {"carts": carts, "abandoned": abandoned, "rate": rate(abandoned, carts), "ci_low": low, "ci_high": high}


def carts_stats(f: MetricFilter, *, mask: bool, recent: int = 20) -> dict[str, Any]:
    seg = _segment_customers(f)
    over: dict[dt.date, dict[str, Any]] = {}
    by_age: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if seg is not None:
        cd = _customer_daily(f, seg)
        for row in cd.values("day").annotate(**{c: Sum(c) for c in CART_COLS}):
            over[row["day"]] = row
        ages = dict(Customer.objects.filter(pk__in=seg).values_list("pk", "age_group"))
        for row in cd.values("customer_id").annotate(**{c: Sum(c) for c in CART_COLS}):
            a = by_age[ages.get(row["customer_id"], "unknown")]
            for c in CART_COLS[:3]:
                a[c] += row[c] or 0
        revenue_left = _sums(cd, ["revenue_left"])["revenue_left"]
    else:
        sd = _age(_days(SessionDaily.objects.all(), f), f)
        main = sd.filter(category=f.category or "")
        for row in main.values("day").annotate(**{c: Sum(c) for c in CART_COLS}):
            over[row["day"]] = row
        for row in main.values("age_group").annotate(**{c: Sum(c) for c in CART_COLS[:3]}):
            by_age[row["age_group"]].update({c: row[c] or 0 for c in CART_COLS[:3]})
        revenue_left = _sums(main, ["revenue_left"])["revenue_left"]
    over_time = []
    for day in sorted(over):
        r = over[day]
        closed = _int(r["carts_converted"]) + _int(r["carts_abandoned"]) + _int(r["carts_emptied"])
        over_time.append({"t": day.isoformat(), "converted": _int(r["carts_converted"]),
                          "abandoned": _int(r["carts_abandoned"]), "emptied": _int(r["carts_emptied"]),
                          "abandonment_rate": rate(_int(r["carts_abandoned"]), closed)})
    age_out = []
    for g in AgeGroup.values:
        if g in by_age:
            a = by_age[g]
            closed = a["carts_converted"] + a["carts_abandoned"] + a["carts_emptied"]
            if closed:
                age_out.append({"age_group": g, **_rate_row(a["carts_abandoned"], closed)})
    cat_qs = _age(_days(SessionDaily.objects.exclude(category=""), f), f)
    if f.category:
        cat_qs = cat_qs.filter(category=f.category)
    by_category = []
    for row in cat_qs.values("category").annotate(**{c: Sum(c) for c in CART_COLS[:3]}).order_by("category"):
        closed = _int(row["carts_converted"]) + _int(row["carts_abandoned"]) + _int(row["carts_emptied"])
        if closed:
            by_category.append({"category": row["category"], **_rate_row(_int(row["carts_abandoned"]), closed)})
    cv = _age(_days(CartValueDaily.objects.filter(category=f.category or ""), f), f)
    counts = dict(cv.values("bucket").annotate(n=Sum("carts")).values_list("bucket", "n"))
    value_distribution = [{"bucket_low": edge, "bucket_high": CART_VALUE_EDGES[i + 1] if i + 1 < len(CART_VALUE_EDGES)
                           else None, "carts": _int(counts.get(i))} for i, edge in enumerate(CART_VALUE_EDGES)]
    lo, hi = f.utc_bounds()
    recent_qs = Cart.objects.filter(state="abandoned").select_related("customer")
    if lo is not None:
        recent_qs = recent_qs.filter(closed_at__gte=lo)
    if hi is not None:
        recent_qs = recent_qs.filter(closed_at__lt=hi)
    if f.age_group:
        recent_qs = recent_qs.filter(age_group=f.age_group)
    if seg is not None:
        recent_qs = recent_qs.filter(customer_id__in=seg)
    recent_rows = [{"cart_pk": k.pk, "customer_pk": k.customer_id, "customer_id": k.customer.external_id,
                    "customer_name": mask_name(k.customer.name) if mask else k.customer.name,
                    "customer_email": mask_email(k.customer.email) if mask else k.customer.email,
                    "value": _money(k.value), "items": k.items,
                    "abandoned_at": k.closed_at.isoformat() if k.closed_at else None}
                   for k in recent_qs.order_by("-closed_at", "-pk")[:recent]]
    return {"over_time": over_time, "revenue_left": _money(revenue_left), "value_distribution": value_distribution,
            "by_age_group": age_out, "by_category": by_category, "recent_abandoned": recent_rows}


# --- latest events, choices --------------------------------------------------------------------


def events_latest(limit: int = 20, *, mask: bool) -> list[dict[str, Any]]:
    """The newest stored events (no personal data beyond the store's customer id, so ``mask`` changes nothing)."""
    rows = Event.objects.select_related("customer", "product").order_by("-id")[:limit]
    return [{"event_id": e.event_id, "customer_id": e.customer.external_id, "action": e.action,
             "product_title": e.product.title if e.product else None, "price": _money(e.price),
             "quantity": e.quantity, "timestamp": e.timestamp.isoformat()} for e in rows]


def filter_choices() -> dict[str, list[str]]:
    return {
        "actions": list(Action.values),
        "age_groups": list(AgeGroup.values),
        "categories": list(Product.objects.exclude(category="").order_by("category")
                           .values_list("category", flat=True).distinct()),
        "segments": list(RFM_SEGMENTS),
    }


# --- insights ----------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%".replace(".0%", "%")


def _hour_label(h: int) -> str:
    return f"{(h % 12) or 12} {'AM' if h < 12 else 'PM'}"


def insights_list(f: MetricFilter) -> list[dict[str, Any]]:
    """Sentences from the data, each with its figure; nothing is said from too little data and
    "highest"/"best" is only claimed where Wilson 95% intervals separate."""
    q = f.to_query()
    out: list[dict[str, Any]] = []
    # Only the figures the sentences use (no distinct-customer scans, no top lists): the same
    # rollups and helpers as the panels that show the evidence.
    seg = _segment_customers(f)
    k = _kpis(f, seg, people=False)
    comparison = previous_period_comparison(f)
    prev = _kpis(f.previous(), seg, people=False) if comparison["available"] else None
    tz = store_tz()
    by_slot: dict[tuple[int, int], int] = defaultdict(int)
    for at, n, _revenue in _events_per_hour(f, revenue=False):
        local = at.astimezone(tz)
        by_slot[(local.weekday(), local.hour)] += n or 0
    if by_slot:
        # Ties go to the earliest weekday and hour, as in the seasonality grid.
        (weekday, hour), busiest = min(by_slot.items(), key=lambda item: (-item[1], item[0]))
        if sum(by_slot.values()) >= 100 and busiest > 0:
            out.append({"kind": "peak", "text": f"Peak activity occurs at {_hour_label(hour)} on "
                        f"{calendar.day_name[weekday]}s.", "figure": f"{busiest:,} events",
                        "link": f"/seasonality/?{q}", "severity": "info"})
    if k["cart_abandonment_rate"] is not None and k["_carts_closed"] >= MIN_CARTS_FOR_CLAIM:
        ab = k["cart_abandonment_rate"]
        out.append({"kind": "cart_abandonment", "text": f"Cart abandonment rate is {_pct(ab)}: "
                    f"${k['_revenue_left']:,.2f} left in carts in this period.",
                    "figure": _pct(ab), "link": f"/carts/?{q}", "severity": "warning" if ab >= 0.5 else "info"})
    # Every product with enough carts takes part in the comparison, not only a top ten.
    prod_rows = {str(r["product_id"]): r for r in _product_rows(f)}
    best = separated_best([(pk, _int(r["carts_abandoned"]), _int(r["cart_sessions"])) for pk, r in prod_rows.items()],
                          min_trials=MIN_CARTS_FOR_CLAIM)
    if best is not None:
        product = Product.objects.filter(pk=int(best[0])).values_list("title", flat=True).first() or "A product"
        out.append({"kind": "product_abandonment", "text": f"{product} has the highest abandonment rate "
                    f"({_pct(best[1])} of {_int(prod_rows[best[0]]['cart_sessions']):,} carts).",
                    "figure": _pct(best[1]), "link": f"/products/?{q}", "severity": "warning"})
    age_groups = [(r["age_group"], r["purchasing_sessions"], r["sessions"])
                  for r in _age_group_stats(f, seg, _customer_daily(f, seg), with_customers=False)
                  if r["age_group"] != "unknown"]
    best = separated_best(age_groups, min_trials=MIN_CARTS_FOR_CLAIM)
    if best is not None:
        label = AgeGroup(best[0]).label
        out.append({"kind": "age_conversion", "text": f"Customers aged {label} convert best ({_pct(best[1])}, "
                    f"95% CI {_pct(best[2])}–{_pct(best[3])}).", "figure": _pct(best[1]),
                    "link": f"/customers/?{q}", "severity": "info"})
    # A trend only against a previous period the data covers from its first day (the KPI cards' rule,
    # previous_period_comparison), with enough orders in both and never over a zero.
    if (prev and prev.get("revenue") and k["orders"] >= MIN_CARTS_FOR_CLAIM
            and prev["orders"] >= MIN_CARTS_FOR_CLAIM):
        change = (k["revenue"] - prev["revenue"]) / prev["revenue"]
        if abs(change) >= 0.05:
            out.append({"kind": "revenue_trend", "text": f"Revenue is {'up' if change > 0 else 'down'} "
                        f"{_pct(abs(change))} on the previous period (${k['revenue']:,.2f} vs "
                        f"${prev['revenue']:,.2f}).", "figure": _pct(change), "link": f"/?{q}",
                        "severity": "info" if change > 0 else "warning"})
    if k["aov"] is not None and k["orders"] >= MIN_CARTS_FOR_CLAIM:
        out.append({"kind": "aov", "text": f"The average order is ${k['aov']:,.2f} over {k['orders']:,} orders.",
                    "figure": f"${k['aov']:,.2f}", "link": f"/?{q}", "severity": "info"})
    return out
