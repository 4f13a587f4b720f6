"""What each event and each derived session adds to the rollup tables. PURE (no ORM).

Rollups are sums, so maintaining them is adding contributions: a new event adds its own once (events
never change); a re-derived session takes its old contribution out and puts its new one in. The rebuild
command sums the same contributions over everything, which is why incremental == rebuilt.

Contributions are ``{rollup: {key: {counter: value}}}``; the rollups (``insights.rollup_store`` maps
each name to its table; docs/benchmarks.md: chosen per panel):

====================  ==================================================  =========================================
rollup                key                                                 counters
====================  ==================================================  =========================================
``events_hourly``     hour × action × age_group                           events, quantity, revenue, discounts,
                                                                          refunds
``events_daily``      store day × action × age_group × category           the same
``sessions_hourly``   hour × age_group × channel                          sessions, purchasing_sessions, orders,
                                                                          events, revenue, discounts
``carts_hourly``      hour × channel (sessions with a cart)                carts open, converted, abandoned, emptied
``sessions_daily``    store day × age_group × category ("" = all) ×       session, funnel and cart outcome counts;
                      channel                                             events, discounts (category "" only)
``products_daily``    store day × product × age_group                     views, units, revenue, session/cart counts
``product_channels``  channel × store day × product × age_group           the same but refunds (read with a
                                                                          channel filter only)
``customers_daily``   store day × customer                                events, revenue, sessions, orders, funnel
``cart_values_daily`` store day × age_group × category ("" = all) ×       carts
                      bucket × channel
``customer_totals``   customer                                            events, revenue, sessions, orders, times,
                                                                          first-touch channel
``product_pairs``     kind ("o" order, "c" cart) × store day × product    baskets (a = b: baskets holding a;
                      a × product b (a ≤ b)                               0, 0: every basket)
``product_pairs_all`` kind × product a × product b (every day)            the same, all time
``traffic_daily``     store day × channel × source × medium × campaign    sessions, purchasing sessions, orders,
                                                                          revenue, discounts, cart outcomes
====================  ==================================================  =========================================

The retention rollups (cohorts, repeat buyers, time between orders) depend on all of a customer's
orders at once: ``insights.retention`` computes them from the customer's order days.

Only ``events_hourly`` and ``events_daily`` are fed by events as they are stored (inside the ingest
transaction: live), placed by the event's own time; everything else, including per-customer and
per-product counts, comes from derived sessions, placed by the session's start, except money beyond
gross: discounts and refunds (``insights.money``) also go to ``customers_daily``/``customer_totals``
and refunds to ``products_daily``, by the event's own day. ``revenue`` is gross (cancelled orders
left out); net = revenue − discounts − refunds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal

from insights.derivation import (
    CART_ABANDONED,
    CART_CONVERTED,
    CART_EMPTIED,
    CART_OPEN,
    DerivedSession,
    EventLike,
    ProductInSession,
)
from insights.money import NO_CANCELS, NOTHING, EventMoney, OrderBook, event_money

CART_VALUE_EDGES = (0, 25, 50, 100, 200, 500, 1000)  # bucket i = [edge i, edge i+1), last is open-ended

Counters = dict[str, int | Decimal]
Contributions = dict[str, dict[tuple, Counters]]

# What a session adds to its customer's day (everything but the open carts, plus its events).
CUSTOMER_DAILY_COUNTERS = ("sessions", "purchasing_sessions", "orders", "funnel_view", "funnel_cart",
                           "funnel_checkout", "funnel_purchase", "dropoff_cart", "dropoff_checkout",
                           "carts_converted", "carts_abandoned", "carts_emptied", "revenue_left", "revenue")
CART_OUTCOME_COUNTERS = ("carts_open", "carts_converted", "carts_abandoned", "carts_emptied")
_ZERO = Decimal("0")
MONEY_ACTIONS = frozenset({"purchase", "refund"})


def new_contributions() -> Contributions:
    return defaultdict(lambda: defaultdict(lambda: defaultdict(int)))


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


def _add_counters(target: Counters, values: Mapping[str, int | Decimal], sign: int) -> None:
    for name, v in values.items():
        if v:
            target[name] += v * sign


def add_event_contributions(out: Contributions, events: Iterable[EventLike], *, age_of: Mapping[int, str],
                            category_of: Mapping[int, str], tz: tzinfo, book: OrderBook = NO_CANCELS,
                            sign: int = 1, money_only: bool = False) -> None:
    """Each event's share of the event-grained counters (added once, when it is first stored);
    ``sign=-1`` takes events out again (erasure, a change of age group). Money (``insights.money``)
    follows ``book``; ``money_only`` moves only the money (a cancel takes its order's out)."""
    # One tally per (hour, store day, action, age group, category): far fewer than events.
    tallies: dict[tuple, list] = {}
    placed: dict[datetime, tuple[datetime, date]] = {}  # minute → (hour, store day)
    moneyed: list[tuple[EventLike, EventMoney, date, str]] = []
    for e in events:
        minute = e.timestamp.replace(second=0, microsecond=0)
        place = placed.get(minute)
        if place is None:
            place = placed[minute] = (minute.replace(minute=0), day_of(minute, tz))
        category = category_of.get(e.product_pk, "") if e.product_pk is not None else ""
        age = age_of.get(e.customer_pk, "unknown")
        key = (place, e.action, age, category)
        m = event_money(e, book) if e.action in MONEY_ACTIONS else NOTHING
        if m is not NOTHING:
            moneyed.append((e, m, place[1], age))
        tally = tallies.get(key)
        if tally is None:
            tallies[key] = [1, e.quantity, m.gross, m.discount, m.refund]
        else:
            tally[0] += 1
            tally[1] += e.quantity
            tally[2] += m.gross
            tally[3] += m.discount
            tally[4] += m.refund
    hourly, daily = out["events_hourly"], out["events_daily"]
    for ((hour, day), action, age, category), (n, quantity, revenue, discounts, refunds) in tallies.items():
        for counters in (hourly[(hour, action, age)], daily[(day, action, age, category)]):
            if not money_only:
                counters["events"] += n * sign
                counters["quantity"] += quantity * sign
            _add_counters(counters, {"revenue": revenue, "discounts": discounts, "refunds": refunds}, sign)
    _add_money_rows(out, moneyed, sign)


def _add_money_rows(out: Contributions, moneyed: Iterable[tuple[EventLike, EventMoney, date, str]],
                    sign: int) -> None:
    """Discounts and refunds of customers (net CLV) and refunds of products, by the event's day.
    (Gross revenue reaches those rollups through sessions, which leave cancelled orders out.)"""
    for e, m, day, age in moneyed:
        money = {"discounts": m.discount, "refunds": m.refund}
        _add_counters(out["customers_daily"][(day, e.customer_pk)], money, sign)
        _add_counters(out["customer_totals"][(e.customer_pk,)], money, sign)
        if m.refund and e.product_pk is not None:
            _add_counters(out["products_daily"][(day, e.product_pk, age)],
                          {"refunds": m.refund, "refunded_units": e.quantity}, sign)


def session_counters(s: DerivedSession) -> Counters:
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
        "dropoff_cart": s.dropoff_value if s.funnel_step == 2 else _ZERO,
        "dropoff_checkout": s.dropoff_value if s.funnel_step == 3 else _ZERO,
        "carts_open": int(state == CART_OPEN),
        "carts_converted": int(state == CART_CONVERTED),
        "carts_abandoned": int(state == CART_ABANDONED),
        "carts_emptied": int(state == CART_EMPTIED),
        "revenue_left": cart.revenue_left if cart else _ZERO,
    }


def add_session_contributions(out: Contributions, sessions: Iterable[tuple[DerivedSession, str]], *,
                              category_of: Mapping[int, str], tz: tzinfo, sign: int = 1) -> None:
    """Each (session, age group)'s share of the session-grained counters; ``sign=-1`` takes an old one out."""
    for s, age in sessions:
        day = day_of(s.started_at, tz)
        counters = session_counters(s)
        _add_session_rows(out, s, age, day, counters, sign)
        _add_customer_rows(out, s, day, counters, sign)
        _add_pair_rows(out, s, day, sign)
        _add_traffic_row(out, s, day, counters, sign)
        in_categories = _add_product_rows(out, s, age, day, category_of, sign)
        for category, share in in_categories.items():
            _add_category_rows(out, s, age, (day, category), counters, share, sign)


def _add_session_rows(out: Contributions, s: DerivedSession, age: str, day: date, counters: Counters,
                      sign: int) -> None:
    channel = s.traffic.channel
    _add_counters(out["sessions_hourly"][(hour_of(s.started_at), age, channel)], {
        "sessions": 1, "purchasing_sessions": counters["purchasing_sessions"], "orders": counters["orders"],
        "events": s.event_count, "revenue": s.revenue, "discounts": s.discounts}, sign)
    _add_counters(out["sessions_daily"][(day, age, "", channel)],
                  dict(counters, events=s.event_count, discounts=s.discounts), sign)
    if s.cart is not None:
        _add_counters(out["carts_hourly"][(hour_of(s.started_at), channel)],
                      {name: counters[name] for name in CART_OUTCOME_COUNTERS}, sign)
        _add_counters(out["cart_values_daily"][(day, age, "", cart_value_bucket(s.cart.value), channel)],
                      {"carts": 1}, sign)


def _add_traffic_row(out: Contributions, s: DerivedSession, day: date, counters: Counters, sign: int) -> None:
    t = s.traffic  # cut as the Session columns are, so the rollup's keys match the stored sessions'
    key = (day, t.channel, t.source[:200], t.medium[:100], t.campaign[:200])
    _add_counters(out["traffic_daily"][key], {
        "sessions": 1, "purchasing_sessions": counters["purchasing_sessions"], "orders": counters["orders"],
        "revenue": s.revenue, "discounts": s.discounts, "carts_converted": counters["carts_converted"],
        "carts_abandoned": counters["carts_abandoned"], "carts_emptied": counters["carts_emptied"]}, sign)


def _widen_time(target: Counters, name: str, value: datetime, pick: Callable[[datetime, datetime], datetime]) -> None:
    current = target.get(name)
    target[name] = value if current is None else pick(current, value)  # type: ignore[arg-type, assignment]


def _add_customer_rows(out: Contributions, s: DerivedSession, day: date, counters: Counters, sign: int) -> None:
    daily = out["customers_daily"][(day, s.customer_pk)]
    _add_counters(daily, {k: counters[k] for k in CUSTOMER_DAILY_COUNTERS}, sign)
    _add_counters(daily, {"events": s.event_count}, sign)
    totals = out["customer_totals"][(s.customer_pk,)]
    _add_counters(totals, {"sessions": 1, "orders": counters["orders"], "events": s.event_count,
                           "revenue": s.revenue}, sign)
    if sign > 0:  # first/last times only move outwards (erasure drops the customer's rows outright)
        first = totals.get("first_seen")
        if first is None or (s.started_at, s.key) <= (first, totals.get("first_session", "")):  # type: ignore[operator]
            # first touch (docs/metrics.md): the channel of the earliest session (of two at one instant,
            # the smaller key), kept beside its start and key (insights.rollup_store.FOLLOWS_EARLIEST)
            totals["first_channel"] = s.traffic.channel  # type: ignore[assignment]
            totals["first_session"] = s.key  # type: ignore[assignment]
        _widen_time(totals, "first_seen", s.started_at, min)
        _widen_time(totals, "last_seen", s.last_event_at, max)
        if s.last_purchase_at is not None:
            _widen_time(totals, "last_purchase_at", s.last_purchase_at, max)


def add_pair_contributions(out: Contributions, sessions: Iterable[tuple[DerivedSession, int]], *, tz: tzinfo) -> None:
    """Only the product pairs of these (session, sign): the SQL engine adds the rest
    (``insights.derive_sql_rollups``)."""
    for s, sign in sessions:
        _add_pair_rows(out, s, day_of(s.started_at, tz), sign)


def add_basket_contributions(out: Contributions, kind: str, day: date, products: Iterable[int], sign: int) -> None:
    """One basket (an order: kind "o"; a cart: "c") of these products: its pairs, its products, itself, on
    its day and all time."""
    pks = sorted(set(products))
    rows, all_time = out["product_pairs"], out["product_pairs_all"]
    rows[(kind, day, 0, 0)]["baskets"] += sign
    all_time[(kind, 0, 0)]["baskets"] += sign
    for i, a in enumerate(pks):
        for b in pks[i:]:
            rows[(kind, day, a, b)]["baskets"] += sign
            all_time[(kind, a, b)]["baskets"] += sign


def _add_pair_rows(out: Contributions, s: DerivedSession, day: date, sign: int) -> None:
    """Affinity (docs/metrics.md): every order of the session is a basket of the products it has lines for;
    the session's cart is a basket of every product added to it."""
    if s.orders:
        by_order: dict[str, list[int]] = defaultdict(list)
        for pk, p in s.products.items():
            for key in p.order_keys:
                by_order[key].append(pk)
        for key, _at in s.orders:
            add_basket_contributions(out, "o", day, by_order.get(key, ()), sign)
    if s.cart is not None:
        add_basket_contributions(out, "c", day, (pk for pk, p in s.products.items() if p.added), sign)


class _CategoryShare:
    """What one category's products contributed to a session: its lines' money and orders, and
    whether one of them went into the cart."""

    __slots__ = ("revenue", "orders", "in_cart", "revenue_left")

    def __init__(self) -> None:
        self.revenue = _ZERO
        self.orders: set[str] = set()
        self.in_cart = False
        self.revenue_left = _ZERO

    def add(self, p: ProductInSession, left: Decimal) -> None:
        self.revenue += p.revenue
        self.orders.update(p.order_keys)
        if p.added_qty:
            self.in_cart = True
            self.revenue_left += left


def _add_product_rows(out: Contributions, s: DerivedSession, age: str, day: date, category_of: Mapping[int, str],
                      sign: int) -> dict[str, _CategoryShare]:
    """One products_daily row per product of the session; returns each touched category's share."""
    abandoned = s.cart is not None and s.cart.state == CART_ABANDONED
    shares: dict[str, _CategoryShare] = {}
    for pk, p in s.products.items():
        left = p.price * p.final_qty if abandoned else _ZERO
        counters: Counters = {
            "views": p.views, "units": p.units, "revenue": p.revenue,
            "view_sessions": int(p.viewed), "cart_sessions": int(p.added), "purchase_sessions": int(p.purchased),
            "carts_abandoned": int(abandoned and p.final_qty > 0), "revenue_left": left}
        _add_counters(out["products_daily"][(day, pk, age)], counters, sign)
        _add_counters(out["product_channels"][(s.traffic.channel, day, pk, age)], counters, sign)
        category = category_of.get(pk, "")
        if category:
            share = shares.get(category)
            if share is None:
                share = shares[category] = _CategoryShare()
            share.add(p, left)
    return shares


def _add_category_rows(out: Contributions, s: DerivedSession, age: str, day_category: tuple[date, str],
                       counters: Counters, share: _CategoryShare, sign: int) -> None:
    """The session counts in every category it touched; money and orders only from that category's
    lines; a cart counts where one of its products was added."""
    day, category = day_category
    in_category = dict(counters, revenue=share.revenue, orders=len(share.orders), revenue_left=share.revenue_left)
    if not share.in_cart:
        in_category.update(dict.fromkeys(CART_OUTCOME_COUNTERS, 0))
    elif s.cart is not None:
        bucket = cart_value_bucket(s.cart.value)
        _add_counters(out["cart_values_daily"][(day, age, category, bucket, s.traffic.channel)], {"carts": 1}, sign)
    _add_counters(out["sessions_daily"][(day, age, category, s.traffic.channel)], in_category, sign)
