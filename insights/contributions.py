"""What each event and each derived session adds to the rollup tables. PURE (no ORM).

Rollups are sums, so maintaining them is adding contributions: a new event adds its own once (events
never change); a re-derived session takes its old contribution out and puts its new one in. The rebuild
command sums the same contributions over everything, which is why incremental == rebuilt.

Grains (DESIGN §6: choose per panel):
- ``ev_h``  hour × action × age_group                → events, quantity, revenue (timeseries, seasonality)
- ``ev_d``  store day × action × age_group × category  → events, quantity, revenue (filtered KPIs)
- ``ss_h``  hour × age_group                         → sessions, purchasing_sessions, orders (seasonality)
- ``ss_d``  store day × age_group × category ("" = every session) → session, funnel and cart outcome counts
- ``pr_d``  store day × product × age_group          → views, units, revenue, per-product session/cart counts
- ``cu_d``  store day × customer                     → events, revenue, sessions, orders, funnel, carts
- ``cv_d``  store day × age_group × category ("" = all) × value bucket → carts
- ``cu_t``  customer                                 → events, revenue, sessions, orders (plus first/last seen)

Only ``ev_h`` and ``ev_d`` are fed by events as they are stored (inside the ingest transaction: live);
everything else, including per-customer and per-product counts, comes from derived sessions, placed
by the session's start. Events and revenue in ``ev_*`` are placed by the event's own time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal

from insights.derivation import (
    ADDED,
    CART_ABANDONED,
    CART_CONVERTED,
    CART_EMPTIED,
    CART_OPEN,
    PURCHASED,
    VIEWED,
    DerivedSession,
    EventLike,
)

CART_VALUE_EDGES = (0, 25, 50, 100, 200, 500, 1000)  # bucket i = [edge i, edge i+1), last is open-ended

Counters = dict[str, int | Decimal]
Contributions = dict[str, dict[tuple, dict[str, int | Decimal]]]

SESSION_COUNTERS = ("sessions", "purchasing_sessions", "orders", "revenue", "funnel_view", "funnel_cart",
                    "funnel_checkout", "funnel_purchase", "dropoff_cart", "dropoff_checkout", "carts_open",
                    "carts_converted", "carts_abandoned", "carts_emptied", "revenue_left")


def new_contributions() -> Contributions:
    return defaultdict(lambda: defaultdict(lambda: defaultdict(int)))  # type: ignore[arg-type]


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def day_of(ts: datetime, tz: tzinfo) -> date:
    return ts.astimezone(tz).date()


def cart_value_bucket(value: Decimal) -> int:
    bucket = 0
    for i, edge in enumerate(CART_VALUE_EDGES):
        if value >= edge:
            bucket = i
    return bucket


def _add(target: dict[str, int | Decimal], values: Mapping[str, int | Decimal], sign: int) -> None:
    for name, v in values.items():
        if v:
            target[name] += v * sign  # type: ignore[operator]


def add_event_contributions(out: Contributions, events: Iterable[EventLike], *, age_of: Mapping[int, str],
                            category_of: Mapping[int, str], tz: tzinfo) -> None:
    """Each event's share of the event-grained counters (added once, when it is first stored)."""
    hourly: dict[tuple, list] = {}
    daily: dict[tuple, list] = {}
    day_cache: dict[datetime, date] = {}
    zero = Decimal("0")
    for e in events:
        action = "purchase" if e.action == "purchase_cart" else e.action
        age = age_of.get(e.customer_pk, "unknown")
        cat = category_of.get(e.product_pk, "") if e.product_pk is not None else ""
        minute = e.timestamp.replace(second=0, microsecond=0)
        day = day_cache.get(minute)
        if day is None:
            day = day_cache[minute] = day_of(minute, tz)
        revenue = e.line_total if action == "purchase" else zero
        kh = (minute.replace(minute=0), action, age)
        r = hourly.get(kh)
        if r is None:
            hourly[kh] = [1, e.quantity, revenue]
        else:
            r[0] += 1
            r[1] += e.quantity
            r[2] += revenue
        kd = (day, action, age, cat)
        r = daily.get(kd)
        if r is None:
            daily[kd] = [1, e.quantity, revenue]
        else:
            r[0] += 1
            r[1] += e.quantity
            r[2] += revenue
    for table, rows in (("ev_h", hourly), ("ev_d", daily)):
        target = out[table]
        for key, (n, q, rev) in rows.items():
            c = target[key]
            c["events"] += n
            c["quantity"] += q
            if rev:
                c["revenue"] += rev


def _extend(target: dict, name: str, value: datetime, pick) -> None:  # type: ignore[type-arg, no-untyped-def]
    current = target.get(name)
    target[name] = value if current is None else pick(current, value)


def session_counters(s: DerivedSession) -> dict[str, int | Decimal]:
    cart = s.cart
    state = cart.state if cart else None
    return {
        "sessions": 1,
        "purchasing_sessions": int(s.purchased),
        "orders": s.order_count,
        "revenue": s.revenue,
        "funnel_view": int(s.funnel_step >= 1),
        "funnel_cart": int(s.funnel_step >= 2),
        "funnel_checkout": int(s.funnel_step >= 3),
        "funnel_purchase": int(s.funnel_step >= 4),
        "dropoff_cart": s.dropoff_value if s.funnel_step == 2 else Decimal("0"),
        "dropoff_checkout": s.dropoff_value if s.funnel_step == 3 else Decimal("0"),
        "carts_open": int(state == CART_OPEN),
        "carts_converted": int(state == CART_CONVERTED),
        "carts_abandoned": int(state == CART_ABANDONED),
        "carts_emptied": int(state == CART_EMPTIED),
        "revenue_left": cart.revenue_left if cart else Decimal("0"),
    }


def add_session_contributions(out: Contributions, sessions: Iterable[tuple[DerivedSession, str]], *,
                              category_of: Mapping[int, str], tz: tzinfo, sign: int = 1) -> None:
    """Each session's share of the session-grained counters; ``sign=-1`` takes an old one out."""
    for s, age in sessions:
        day = day_of(s.started_at, tz)
        base = session_counters(s)
        _add(out["ss_h"][(hour_of(s.started_at), age)],
             {"sessions": 1, "purchasing_sessions": base["purchasing_sessions"], "orders": base["orders"]}, sign)
        _add(out["ss_d"][(day, age, "")], base, sign)
        _add(out["cu_d"][(day, s.customer_pk)], {k: base[k] for k in (
            "sessions", "purchasing_sessions", "orders", "funnel_view", "funnel_cart", "funnel_checkout",
            "funnel_purchase", "dropoff_cart", "dropoff_checkout", "carts_converted", "carts_abandoned",
            "carts_emptied", "revenue_left", "revenue")}, sign)
        _add(out["cu_d"][(day, s.customer_pk)], {"events": s.event_count}, sign)
        totals = out["cu_t"][(s.customer_pk,)]
        _add(totals, {"sessions": 1, "orders": base["orders"], "events": s.event_count, "revenue": s.revenue}, sign)
        if sign > 0:  # first/last times only move outwards: events are never deleted
            _extend(totals, "first_seen", s.started_at, min)
            _extend(totals, "last_seen", s.last_event_at, max)
            if s.last_purchase_at is not None:
                _extend(totals, "last_purchase_at", s.last_purchase_at, max)
        cart = s.cart
        if cart is not None:
            _add(out["cv_d"][(day, age, "", cart_value_bucket(cart.value))], {"carts": 1}, sign)
        # Per category: the session counts in every category it touched; money and orders only from
        # that category's lines; a cart counts where one of its products was added.
        cats: dict[str, dict[str, int | Decimal]] = {}
        abandoned = cart is not None and cart.state == CART_ABANDONED
        for pk, p in s.products.items():
            left = p.price * p.final_qty if abandoned else Decimal("0")
            _add(out["pr_d"][(day, pk, age)], {
                "views": p.views, "units": p.units, "revenue": p.revenue,
                "view_sessions": int(bool(p.flags & VIEWED)), "cart_sessions": int(bool(p.flags & ADDED)),
                "purchase_sessions": int(bool(p.flags & PURCHASED)),
                "carts_abandoned": int(abandoned and p.final_qty > 0), "revenue_left": left}, sign)
            cat = category_of.get(pk, "")
            if not cat:
                continue
            cc = cats.setdefault(cat, {"revenue": Decimal("0"), "orders": set(), "cart": False,  # type: ignore[dict-item]
                                       "left": Decimal("0")})
            cc["revenue"] += p.revenue  # type: ignore[operator]
            cc["orders"].update(p.order_keys)  # type: ignore[union-attr]
            if p.added_qty:
                cc["cart"] = True
                cc["left"] += left  # type: ignore[operator]
        for cat, cc in cats.items():
            counters = dict(base)
            counters["revenue"] = cc["revenue"]
            counters["orders"] = len(cc["orders"])  # type: ignore[arg-type]
            counters["revenue_left"] = cc["left"]
            if not cc["cart"]:
                for k in ("carts_open", "carts_converted", "carts_abandoned", "carts_emptied"):
                    counters[k] = 0
            elif cart is not None:
                _add(out["cv_d"][(day, age, cat, cart_value_bucket(cart.value))], {"carts": 1}, sign)
            _add(out["ss_d"][(day, age, cat)], counters, sign)
