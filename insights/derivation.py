"""Sessions and carts from events (docs/metrics.md). PURE: data in, data out; nothing here touches the ORM.

- A **session** is the client's ``session_id`` when given; events without one are grouped per
  customer into sessions split wherever two consecutive events are ``idle`` (30 min) or more apart.
- A session is **closed** when its last event is at least ``idle`` before ``as_of`` (the reference
  time: the processing time for live data). An open session may still continue.
- A **cart** is opened by the first ``add_to_cart`` of a session (one cart per session). Its state:
  ``converted`` when a purchase follows its opening in that session; else, once the session ended
  (closed, or an ``abandon`` event after the cart opened), ``abandoned`` if items are left in it and
  ``emptied`` if every item was removed; otherwise ``open`` (counted in neither rate).
- **Funnel step** reached in order within the session: 1 view, 2 add_to_cart, 3 checkout, 4 purchase.
- **Revenue** of a purchase line: ``events.types.line_total`` (the line total sent, else price × quantity).
- **Orders**: distinct ``order_id`` of the session's purchase lines; purchase lines without one form
  one order for the session.
- **Traffic source** (``insights.channels``): from the context of the session's first event that
  has one (a server-sent line without context does not make a visit Direct). ``discounts``: the
  order discounts carried by the session's own purchase lines (first carrying line per order), so
  acquisition reports can show revenue net of discounts by channel.
- **Money** (docs/money.md): ``refund`` and ``cancel`` events are about an order, not a visit: they make
  no session. Purchase lines of a cancelled order (``cancelled``: order ids with a cancel event,
  whenever it came) count as no purchase at all: no revenue, order, purchased product or converted
  cart. Discounts and refunds are event-grained (``insights.money``), not in sessions.
- **Browser-reported purchases** (``events.verification``, ``browser``): a *void* browser line counts as
  no purchase at all (as a cancelled order's); a *confirmed* one reaches the funnel's purchase step,
  converts the cart, marks the product purchased and makes the session a purchasing one, but adds no
  revenue, order or units (the verified order has those).

``DerivedSession.to_json`` / ``from_json`` round-trip exactly, so a stored session's contribution to
rollups can be recomputed and taken out again when a late event re-derives it.

The stored summary (``Session.summary``, one a session: ~1M rows) keeps short keys. Only this module
writes and reads them (``DerivedSession.from_json``; ``Session.derived()`` for everyone else):

=======  ====================  ==========================================================================
key      field                 form
=======  ====================  ==========================================================================
``c``    customer_pk           int
``k``    key                   "s:<session id>" or "g:<start ISO>"
``sid``  session_id            str ("" when none was sent)
``s``    started_at            ISO time
``l``    last_event_at         ISO time
``cl``   closed                bool
``n``    event_count           int
``f``    funnel_step           int 0..4
``p``    purchased             bool
``r``    revenue               decimal string
``o``    orders                [[order key, ISO time of its first line], …]
``a``    abandon_at            ISO time or null
``co``   checkout              bool (absent in the oldest rows: false)
``lp``   last_purchase_at      ISO time or null (absent in the oldest rows)
``pr``   products              {"<product pk>": [flags, units, revenue, order keys, added qty, final qty,
                               price, views]} (``ProductInSession.to_json``)
``cart`` cart                  null or [opened_at, state, closed_at or null, items, value, revenue_left]
``t``    traffic               [channel, source, medium, campaign, landing page, discounts] (absent in
                               the oldest rows: Direct)
=======  ====================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from events.types import StoredEvent
from events.verification import CONFIRMED, COUNT_ALL, VOID, BrowserOrders
from insights.channels import Traffic, session_traffic

IDLE = timedelta(minutes=30)
GAP_KEY = "g:"  # the key of an idle-gap session begins so ("s:" a client session's)
CLIENT_KEY = "s:"


def client_key(session_id: str) -> str:
    """The session key of a client session id."""
    return CLIENT_KEY + session_id

NOT_VISITS = frozenset({"refund", "cancel"})  # order events: in no session

# Flags of a product within a session.
VIEWED, ADDED, PURCHASED = 1, 2, 4

CART_OPEN, CART_CONVERTED, CART_ABANDONED, CART_EMPTIED = "open", "converted", "abandoned", "emptied"

FUNNEL_STEPS = ("view", "add_to_cart", "checkout", "purchase")  # the action that reaches step 1, 2, 3, 4


EventLike = StoredEvent  # what derivation reads from an event (plain data, no ORM)
DIRECT_TRAFFIC = session_traffic(None)


@dataclass
class ProductInSession:
    flags: int = 0
    units: int = 0  # purchased units
    revenue: Decimal = Decimal("0")  # purchase lines
    order_keys: list[str] = field(default_factory=list)
    added_qty: int = 0
    final_qty: int = 0  # still in the cart at the end
    price: Decimal = Decimal("0")  # last add_to_cart (or purchase) unit price
    views: int = 0  # view events

    @property
    def viewed(self) -> bool:
        return bool(self.flags & VIEWED)

    @property
    def added(self) -> bool:
        return bool(self.flags & ADDED)

    @property
    def purchased(self) -> bool:
        return bool(self.flags & PURCHASED)

    def to_json(self) -> list:
        return [self.flags, self.units, str(self.revenue), self.order_keys, self.added_qty, self.final_qty,
                str(self.price), self.views]

    @classmethod
    def from_json(cls, data: list) -> ProductInSession:
        return cls(data[0], data[1], Decimal(data[2]), list(data[3]), data[4], data[5], Decimal(data[6]), data[7])


@dataclass
class DerivedCart:
    opened_at: datetime
    state: str
    closed_at: datetime | None
    items: int  # units left in the cart
    value: Decimal  # Σ price × quantity of the items left in the cart
    revenue_left: Decimal  # value when abandoned, else 0


@dataclass
class DerivedSession:
    customer_pk: int
    key: str  # "s:<session_id>" or "g:<start ISO>": unique per customer, deterministic from events
    session_id: str
    started_at: datetime
    last_event_at: datetime
    closed: bool
    event_count: int
    funnel_step: int  # 0..4
    purchased: bool
    revenue: Decimal
    orders: list[tuple[str, datetime]]  # (order key, first line time)
    abandon_at: datetime | None
    products: dict[int, ProductInSession]
    cart: DerivedCart | None
    checkout: bool = False
    last_purchase_at: datetime | None = None
    traffic: Traffic = DIRECT_TRAFFIC
    discounts: Decimal = Decimal("0")

    @property
    def order_count(self) -> int:
        return len(self.orders)

    @property
    def dropoff_value(self) -> Decimal:
        """Value left in an unconverted cart (counted as the funnel's drop-off at the last step reached)."""
        if self.cart is None or self.cart.state == CART_CONVERTED:
            return Decimal("0")
        return self.cart.value

    def to_json(self) -> dict:
        cart = self.cart
        return {
            "c": self.customer_pk, "k": self.key, "sid": self.session_id,
            "s": self.started_at.isoformat(), "l": self.last_event_at.isoformat(), "cl": self.closed,
            "n": self.event_count, "f": self.funnel_step, "p": self.purchased, "r": str(self.revenue),
            "o": [[k, t.isoformat()] for k, t in self.orders],
            "a": self.abandon_at.isoformat() if self.abandon_at else None,
            "co": self.checkout, "lp": self.last_purchase_at.isoformat() if self.last_purchase_at else None,
            "pr": {str(pk): p.to_json() for pk, p in self.products.items()},
            "t": [self.traffic.channel, self.traffic.source, self.traffic.medium, self.traffic.campaign,
                  self.traffic.landing_page, str(self.discounts)],
            "cart": None if cart is None else [
                cart.opened_at.isoformat(), cart.state, cart.closed_at.isoformat() if cart.closed_at else None,
                cart.items, str(cart.value), str(cart.revenue_left)],
        }

    @classmethod
    def from_json(cls, d: dict) -> DerivedSession:
        c = d["cart"]
        cart = None if c is None else DerivedCart(
            datetime.fromisoformat(c[0]), c[1], datetime.fromisoformat(c[2]) if c[2] else None, c[3],
            Decimal(c[4]), Decimal(c[5]))
        return cls(
            customer_pk=d["c"], key=d["k"], session_id=d["sid"], started_at=datetime.fromisoformat(d["s"]),
            last_event_at=datetime.fromisoformat(d["l"]), closed=d["cl"], event_count=d["n"], funnel_step=d["f"],
            purchased=d["p"], revenue=Decimal(d["r"]),
            orders=[(k, datetime.fromisoformat(t)) for k, t in d["o"]],
            abandon_at=datetime.fromisoformat(d["a"]) if d["a"] else None,
            products={int(pk): ProductInSession.from_json(p) for pk, p in d["pr"].items()},
            cart=cart, checkout=d.get("co", False),
            last_purchase_at=datetime.fromisoformat(d["lp"]) if d.get("lp") else None,
            traffic=Traffic(*d["t"][:5]) if "t" in d else DIRECT_TRAFFIC,
            discounts=Decimal(d["t"][5]) if "t" in d else Decimal("0"),
        )


def _time_order(e: EventLike) -> tuple:
    return (e.timestamp, e.pk)


def group_sessions(events: Iterable[EventLike], *, idle: timedelta = IDLE) -> list[tuple[str, list[EventLike]]]:
    """Split events (any customers) into (customer-scoped key, events in time order) groups."""
    by_customer: dict[int, list[EventLike]] = {}
    for e in events:
        if e.action not in NOT_VISITS:
            by_customer.setdefault(e.customer_pk, []).append(e)
    groups: list[tuple[str, list[EventLike]]] = []
    for customer in sorted(by_customer):
        by_client_session: dict[str, list[EventLike]] = {}
        current: list[EventLike] = []  # the idle-gap session being built
        for e in sorted(by_customer[customer], key=_time_order):
            if e.session_id:
                by_client_session.setdefault(e.session_id, []).append(e)
                continue
            if current and e.timestamp - current[-1].timestamp >= idle:
                groups.append((f"{GAP_KEY}{current[0].timestamp.isoformat()}", current))
                current = []
            current.append(e)
        if current:
            groups.append((f"{GAP_KEY}{current[0].timestamp.isoformat()}", current))
        for session_id, session_events in by_client_session.items():
            groups.append((client_key(session_id), session_events))
    return groups


class _SessionTally:
    """What a session's events add up to, one event at a time (time order)."""

    __slots__ = ("key", "step", "checkout", "revenue", "orders", "products", "cart_opened", "purchase_after_cart",
                 "abandon_at", "last_purchase_at", "cancelled", "browser", "confirmed",
                 "discounts", "discounted")

    def __init__(self, key: str, cancelled: frozenset[str] = frozenset(), browser: BrowserOrders = COUNT_ALL) -> None:
        self.key = key
        self.cancelled = cancelled
        self.browser = browser
        self.confirmed = False  # a confirmed browser purchase: a purchasing session without an order here
        self.step = 0  # funnel step reached in order
        self.checkout = False
        self.revenue = Decimal("0")
        self.orders: dict[str, datetime] = {}  # order key → first line time
        self.products: dict[int, ProductInSession] = {}
        self.cart_opened: datetime | None = None
        self.purchase_after_cart: datetime | None = None
        self.abandon_at: datetime | None = None
        self.last_purchase_at: datetime | None = None
        self.discounts = Decimal("0")
        self.discounted: set[str] = set()  # orders whose discount is counted

    def add(self, e: EventLike) -> None:
        action = e.action
        if action == "purchase" and e.order_id is not None and e.order_id in self.cancelled:
            # A cancelled order's line: no purchase at all. Only the time the customer last placed an
            # order keeps it (customer_totals.last_purchase_at only moves outwards, incrementally).
            self.last_purchase_at = e.timestamp
            return
        verdict = self.browser.verdict(e.order_id, e.timestamp) if action == "purchase" and e.browser else None
        if verdict == VOID:  # as a cancelled order's line
            self.last_purchase_at = e.timestamp
            return
        if self.step < 4 and action == FUNNEL_STEPS[self.step]:
            self.step += 1
        p = None
        if e.product_pk is not None:
            p = self.products.get(e.product_pk)
            if p is None:
                p = self.products[e.product_pk] = ProductInSession()
        if action == "view":
            if p is not None:
                p.flags |= VIEWED
                p.views += 1
        elif action == "add_to_cart":
            self._add_to_cart(e, p)
        elif action == "remove_from_cart":
            if p is not None:
                p.final_qty = max(0, p.final_qty - e.quantity)
        elif action == "checkout":
            self.checkout = True
        elif verdict == CONFIRMED:
            self._confirmed(e, p)
        elif action == "purchase":
            self._purchase(e, p)
        elif action == "abandon" and self.cart_opened is not None and self.abandon_at is None:
            self.abandon_at = e.timestamp

    def _add_to_cart(self, e: EventLike, p: ProductInSession | None) -> None:
        if self.cart_opened is None:
            self.cart_opened = e.timestamp
        if p is not None:
            p.flags |= ADDED
            p.added_qty += e.quantity
            p.final_qty += e.quantity
            p.price = e.price

    def _purchase(self, e: EventLike, p: ProductInSession | None) -> None:
        self.last_purchase_at = e.timestamp
        line = e.line_total  # the sender's line total when given, else price × quantity
        self.revenue += line
        order_key = f"o:{e.order_id}" if e.order_id else f"s:{self.key}"
        self.orders.setdefault(order_key, e.timestamp)
        if e.discount and order_key not in self.discounted:
            self.discounted.add(order_key)
            self.discounts += e.discount
        if self.cart_opened is not None and self.purchase_after_cart is None:
            self.purchase_after_cart = e.timestamp
        if p is not None:
            p.flags |= PURCHASED
            p.units += e.quantity
            p.revenue += line
            if order_key not in p.order_keys:
                p.order_keys.append(order_key)
            if not p.price:
                p.price = e.price

    def _confirmed(self, e: EventLike, p: ProductInSession | None) -> None:
        """A browser line a verified order confirmed: the purchase without its money or order."""
        self.confirmed = True
        self.last_purchase_at = e.timestamp
        if self.cart_opened is not None and self.purchase_after_cart is None:
            self.purchase_after_cart = e.timestamp
        if p is not None:
            p.flags |= PURCHASED
            if not p.price:
                p.price = e.price

    def cart(self, *, closed: bool, last_event_at: datetime) -> DerivedCart | None:
        """The session's cart (if one was opened) and its state (module docstring)."""
        if self.cart_opened is None:
            return None
        items = sum(p.final_qty for p in self.products.values())
        value = sum((p.price * p.final_qty for p in self.products.values()), Decimal("0"))
        closed_at: datetime | None
        if self.purchase_after_cart is not None:
            state, closed_at = CART_CONVERTED, self.purchase_after_cart
        elif closed or self.abandon_at is not None:
            state = CART_ABANDONED if items > 0 else CART_EMPTIED
            closed_at = self.abandon_at if self.abandon_at is not None else last_event_at
        else:
            state, closed_at = CART_OPEN, None
        return DerivedCart(opened_at=self.cart_opened, state=state, closed_at=closed_at, items=items, value=value,
                           revenue_left=value if state == CART_ABANDONED else Decimal("0"))


def derive_session(key: str, events: Sequence[EventLike], *, as_of: datetime, idle: timedelta = IDLE,
                   cancelled: frozenset[str] = frozenset(), browser: BrowserOrders = COUNT_ALL) -> DerivedSession:
    """One session's facts from its events (time order); ``cancelled``: order ids that count nowhere;
    ``browser``: what browser purchase lines count as."""
    first, last = events[0], events[-1]
    context = next((e.context for e in events if e.context), None)
    closed = as_of - last.timestamp >= idle
    tally = _SessionTally(key, cancelled, browser)
    for e in events:
        tally.add(e)
    return DerivedSession(
        customer_pk=first.customer_pk, key=key, session_id=first.session_id, started_at=first.timestamp,
        last_event_at=last.timestamp, closed=closed, event_count=len(events), funnel_step=tally.step,
        purchased=bool(tally.orders) or tally.confirmed, revenue=tally.revenue,
        orders=sorted(tally.orders.items(), key=lambda kv: (kv[1], kv[0])), abandon_at=tally.abandon_at,
        products=tally.products, cart=tally.cart(closed=closed, last_event_at=last.timestamp),
        checkout=tally.checkout, last_purchase_at=tally.last_purchase_at,
        traffic=session_traffic(context), discounts=tally.discounts,
    )


def derive_sessions(events: Iterable[EventLike], *, as_of: datetime, idle: timedelta = IDLE,
                    cancelled: frozenset[str] = frozenset(),
                    browser: BrowserOrders = COUNT_ALL) -> list[DerivedSession]:
    """All sessions (with their carts) of the given events, in (customer, start) order."""
    out = [derive_session(key, evs, as_of=as_of, idle=idle, cancelled=cancelled, browser=browser)
           for key, evs in group_sessions(events, idle=idle)]
    out.sort(key=lambda s: (s.customer_pk, s.started_at, s.key))
    return out
