"""Pure behaviour model of a store's shoppers (issue 4).

No ORM and no Django: it takes customers (``{"customer_id", "age"}`` dicts), a product catalogue
(``{"product_id", "title", "price", "category", "popularity"}`` dicts), parameters and a seed, and
returns events in the native wire format (DESIGN §3).

The model:
- customers differ by segment (frequent / regular / occasional buyers: a minority of frequent
  buyers makes much of the revenue), age group, price sensitivity, loyalty, visit frequency,
  favourite category and order history;
- a session is a sequence: views (product chosen by popularity, category affinity and price
  sensitivity), add_to_cart, sometimes remove_from_cart, then checkout and purchase (one line per
  cart item, sharing an ``order_id``), or abandonment (the session goes idle, or sends an explicit
  ``abandon``), or an emptied cart;
- the cart abandonment rate is a parameter (DESIGN §4 definition: abandoned / (converted +
  abandoned + emptied)); a dearer cart and a more price-sensitive shopper raise it, returning
  customers (with earlier orders) convert better;
- seasonality: hour-of-day curve with an afternoon/evening peak, weekday and monthly effects with a
  November–December peak, all parameters, in the store's time zone;
- sessions respect the metrics engine's session rule: one ``session_id`` per session, events of a
  session under 30 minutes apart, a customer's sessions never overlap and are more than 30
  minutes apart.

Backfill (:func:`backfill`) spreads sessions over a past window; live mode (:func:`live_step`)
unfolds sessions over real time between ticks and never emits an event in the future. The same
seed and inputs give the same events, event ids included (ids are derived from the seed and the
run, not from ``uuid4``).
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

ACTIONS = ("view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "abandon")
VIEW, ADD, REMOVE, CHECKOUT, PURCHASE, ABANDON = range(6)

AGE_GROUPS = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+", "unknown")

SESSION_IDLE_MS = 30 * 60 * 1000
_MAX_GAP_MS = 25 * 60 * 1000  # within a session: always below the 30-minute idle rule
_MIN_SESSION_GAP_MS = SESSION_IDLE_MS + 60_000  # between a customer's sessions


def _default_hours(peak_start: int, peak_end: int) -> tuple[float, ...]:
    """A diurnal curve: night trough, morning rise, lunch bump, afternoon/evening high, boosted
    inside the peak window [peak_start, peak_end)."""
    base = [0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.45, 0.60, 0.70, 0.78, 0.85,
            0.95, 0.90, 0.85, 0.88, 0.95, 1.00, 1.00, 1.00, 0.95, 0.80, 0.60, 0.40]
    return tuple(w * (1.55 if _in_window(h, peak_start, peak_end) else 1.0) for h, w in enumerate(base))


def _in_window(hour: int, start: int, end: int) -> bool:
    return start <= hour < end if start <= end else (hour >= start or hour < end)


@dataclass(frozen=True)
class SimParams:
    """Every behaviour knob, with store-like defaults."""

    abandonment_rate: float = 0.70       # carts abandoned / carts closed (DESIGN §4)
    emptied_rate: float = 0.05           # carts whose every item is removed
    explicit_abandon_share: float = 0.35  # abandoned sessions that send an explicit `abandon`
    checkout_abandon_share: float = 0.35  # abandoned carts that reach checkout first
    cart_session_share: float = 0.32     # base share of sessions that add to a cart
    peak_start: int = 17                 # busiest hours, store time, [start, end)
    peak_end: int = 22
    hour_weights: tuple[float, ...] | None = None   # 24 weights; default from the peak window
    weekday_weights: tuple[float, ...] = (1.06, 1.0, 0.98, 1.0, 0.94, 0.9, 1.12)  # Mon..Sun
    month_weights: tuple[float, ...] = (0.9, 0.84, 0.92, 0.92, 0.95, 0.93, 0.9, 0.94, 0.95, 1.0, 1.38, 1.55)
    holiday_months: tuple[int, ...] = (11, 12)     # shoppers also buy more readily then
    time_zone: str = "UTC"
    # How strongly cart value, price sensitivity and a purchase history move abandonment (log-odds).
    value_effect: float = 0.55
    sensitivity_effect: float = 1.6
    returning_effect: float = 1.2

    def hours(self) -> tuple[float, ...]:
        weights = self.hour_weights or _default_hours(self.peak_start, self.peak_end)
        if len(weights) != 24:
            raise ValueError("hour_weights needs 24 values")
        return tuple(weights)


@dataclass(frozen=True, slots=True)
class Profile:
    customer_id: str
    age_group: str
    segment: str          # frequent | regular | occasional
    visit_rate: float     # sessions a day
    price_sensitivity: float
    loyalty: float
    favourite: str        # favourite category
    prior_orders: int     # orders before the simulated period
    cart_propensity: float
    basket_more: float    # chance of one more item in the cart
    table: int            # index of the product-choice table


# Segment: (share, sessions a day, loyalty mean, cart propensity factor, basket_more)
_SEGMENTS = {
    "frequent": (0.12, 0.35, 0.78, 1.45, 0.50),
    "regular": (0.33, 0.10, 0.45, 1.0, 0.35),
    "occasional": (0.55, 0.03, 0.20, 0.75, 0.25),
}
_AGE_VISITS = {"18-25": 1.15, "26-35": 1.2, "36-45": 1.0, "46-55": 0.85, "56-65": 0.7, "66+": 0.55,
               "unknown": 1.0}
_AGE_SENSITIVITY = {"18-25": 0.66, "26-35": 0.55, "36-45": 0.48, "46-55": 0.44, "56-65": 0.42,
                    "66+": 0.45, "unknown": 0.5}
# Category affinity by age group (unlisted categories weigh 1).
_AGE_AFFINITY = {
    "18-25": {"electronics": 1.8, "men's clothing": 1.5, "women's clothing": 1.5, "beauty": 1.4,
              "books": 0.7, "home & kitchen": 0.5, "jewelery": 0.8},
    "26-35": {"electronics": 1.5, "women's clothing": 1.3, "men's clothing": 1.3, "sports & outdoors": 1.3,
              "home & kitchen": 0.9},
    "36-45": {"home & kitchen": 1.5, "sports & outdoors": 1.2, "electronics": 1.1},
    "46-55": {"home & kitchen": 1.5, "books": 1.3, "jewelery": 1.2, "beauty": 0.9},
    "56-65": {"books": 1.6, "home & kitchen": 1.5, "jewelery": 1.3, "electronics": 0.7},
    "66+": {"books": 1.8, "home & kitchen": 1.4, "jewelery": 1.2, "electronics": 0.5, "men's clothing": 0.8},
}
_SENS_BUCKETS = 5


def age_group_of(age: int | None) -> str:
    """DESIGN §4 age groups (same rule as customers.models.age_group_for)."""
    if age is None or age < 18:
        return "unknown"
    for upper, group in ((25, "18-25"), (35, "26-35"), (45, "36-45"), (55, "46-55"), (65, "56-65")):
        if age <= upper:
            return group
    return "66+"


def synthetic_customers(count: int, *, seed: int = 42) -> list[dict]:
    """Customers "1".."count" with plausible ages, for runs without a database."""
    rng = random.Random(f"customers:{seed}")
    out = []
    for i in range(1, count + 1):
        age = max(18, min(80, round(rng.gauss(35, 8)))) if rng.random() < 0.8 else rng.randint(46, 80)
        out.append({"customer_id": str(i), "age": age})
    return out


def catalogue_from_items(items: Sequence[Mapping]) -> list[dict]:
    """FakeStore-shaped items (id, title, price, category, rating) → catalogue dicts."""
    out = []
    for item in items:
        rating = item.get("rating") or {}
        count = float(rating.get("count", 100) or 100)
        rate = float(rating.get("rate", 4.0) or 4.0)
        out.append({
            "product_id": str(item["id"]),
            "title": str(item.get("title", "")),
            "price": round(float(item["price"]), 2),
            "category": str(item.get("category", "")),
            "popularity": count * (rate / 5.0) ** 2,
        })
    return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("aware datetimes only")
    return int(moment.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch → ISO 8601 UTC with a Z."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def id_prefix(*parts: object) -> str:
    """A UUID-shaped 24-character prefix ("xxxxxxxx-xxxx-4xxx-8xxx-") derived from ``parts``;
    an event id is the prefix plus a 12-hex-digit counter, so ids are deterministic and cheap."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-8{digest[15:18]}-"


class StoreModel:
    """Customers, catalogue and parameters, precomputed for fast session generation."""

    def __init__(self, customers: Sequence[Mapping], catalogue: Sequence[Mapping],
                 params: SimParams | None = None, *, seed: int = 42) -> None:
        if not customers:
            raise ValueError("the simulator needs at least one customer")
        products = [p for p in catalogue if float(p.get("price") or 0) > 0]
        if not products:
            raise ValueError("the simulator needs a catalogue with priced products")
        self.params = params or SimParams()
        if not 0 < self.params.abandonment_rate < 1:
            raise ValueError("abandonment_rate must be between 0 and 1")
        self.seed = seed
        self.products = [dict(p) for p in products]
        self.product_ids = [str(p["product_id"]) for p in products]
        self.prices = [round(float(p["price"]), 2) for p in products]
        self.titles = [str(p.get("title") or "") for p in products]
        self.categories_of = [str(p.get("category") or "") for p in products]
        self.categories = sorted(set(self.categories_of))
        popularity = [float(p.get("popularity") or 100.0) for p in products]
        median_price = sorted(self.prices)[len(self.prices) // 2]
        self._tables: list[tuple[list[float], float]] = []
        self._table_index: dict[tuple[str, int, str], int] = {}
        self._popularity = popularity
        self._median_price = median_price
        self.profiles = [self._profile(c) for c in customers]
        self.visit_rates = np.array([p.visit_rate for p in self.profiles])
        prm = self.params
        # Cart outcome: P(abandon | cart not emptied), so that the closed-cart rate hits the target.
        self._base_logit = _logit(prm.abandonment_rate / (1 - prm.emptied_rate))
        self._ref_value = median_price * 1.5
        self._hours = prm.hours()
        self._tz = ZoneInfo(prm.time_zone)
        self._calibrate()
        self.mean_events_per_session = self._estimate_session_length()

    # --- customers ------------------------------------------------------------------------
    def _profile(self, customer: Mapping) -> Profile:
        cid = str(customer["customer_id"])
        group = customer.get("age_group") or age_group_of(customer.get("age"))
        if group not in AGE_GROUPS:
            group = "unknown"
        rng = random.Random(f"profile:{self.seed}:{cid}")
        roll = rng.random()
        segment = "frequent" if roll < 0.12 else ("regular" if roll < 0.45 else "occasional")
        _share, visits, loyalty_mean, cart_factor, basket_more = _SEGMENTS[segment]
        visit_rate = visits * _AGE_VISITS[group] * math.exp(rng.gauss(0, 0.35))
        sens_mean = _AGE_SENSITIVITY[group] - (0.12 if segment == "frequent" else 0.0)
        sensitivity = min(0.98, max(0.02, rng.betavariate(sens_mean * 6, (1 - sens_mean) * 6)))
        loyalty = min(0.98, max(0.02, rng.betavariate(loyalty_mean * 5, (1 - loyalty_mean) * 5)))
        if segment == "frequent":
            prior = rng.randint(2, 25)
        elif segment == "regular":
            prior = rng.choice((0, 0, 1, 2, 3))
        else:
            prior = 1 if rng.random() < 0.15 else 0
        affinity = _AGE_AFFINITY.get(group, {})
        weights = [affinity.get(c, 1.0) * rng.gammavariate(2.0, 1.0) for c in self.categories]
        favourite = self.categories[max(range(len(weights)), key=weights.__getitem__)]
        bucket = min(_SENS_BUCKETS - 1, int(sensitivity * _SENS_BUCKETS))
        table = self._table(group, bucket, favourite)
        return Profile(cid, group, segment, visit_rate, sensitivity, loyalty, favourite, prior,
                       min(0.9, cart_factor * (0.75 + 0.5 * loyalty)), basket_more, table)

    def _table(self, group: str, bucket: int, favourite: str) -> int:
        key = (group, bucket, favourite)
        index = self._table_index.get(key)
        if index is None:
            affinity = _AGE_AFFINITY.get(group, {})
            sens = (bucket + 0.5) / _SENS_BUCKETS
            cum, total = [], 0.0
            for pop, price, cat in zip(self._popularity, self.prices, self.categories_of, strict=True):
                weight = pop * affinity.get(cat, 1.0) * (2.5 if cat == favourite else 1.0)
                weight *= (price / self._median_price) ** (0.4 - 1.6 * sens)
                total += weight
                cum.append(total)
            index = len(self._tables)
            self._tables.append((cum, total))
            self._table_index[key] = index
        return index

    # --- one session ------------------------------------------------------------------------
    def session(self, rng: random.Random, profile: Profile, *, returning: bool, holiday: bool,
                ) -> list[tuple[int, int, int, int, bool]]:
        """One session as (offset_ms, action, product index or -1, quantity, is_purchase_line)."""
        r = rng.random
        prm = self.params
        cum, total = self._tables[profile.table]
        prices = self.prices
        out: list[tuple[int, int, int, int, bool]] = []
        t = 0

        def gap(median_s: float) -> int:
            return min(_MAX_GAP_MS, int(median_s * 1000 * math.exp(rng.gauss(0, 0.7))) + 1000)

        n_views = 1
        while n_views < 12 and r() < 0.6:
            n_views += 1
        p_cart = profile.cart_propensity * prm.cart_session_share
        if holiday:
            p_cart *= 1.25
        if returning:
            p_cart *= 1.3
        if r() >= p_cart:
            for i in range(n_views):
                if i:
                    t += gap(40)
                out.append((t, VIEW, bisect_right(cum, r() * total), 1, False))
            return out

        n_items = 1
        while n_items < 4 and r() < profile.basket_more:
            n_items += 1
        n_views = max(n_views, n_items)
        cart: dict[int, int] = {}
        for i in range(n_views):
            if i:
                t += gap(40)
            product = bisect_right(cum, r() * total)
            out.append((t, VIEW, product, 1, False))
            still = n_items - len(cart)
            if still > 0 and product not in cart and (r() < 0.55 or n_views - i <= still):
                t += gap(20)
                qty = 1
                if prices[product] < 40 and r() < 0.25:
                    qty = 2 if r() < 0.75 else 3
                cart[product] = qty
                out.append((t, ADD, product, qty, False))
        if not cart:  # every chosen view was a repeat: put the last viewed product in the cart
            product = out[-1][2]
            t += gap(20)
            cart[product] = 1
            out.append((t, ADD, product, 1, False))

        if r() < prm.emptied_rate:
            for product, qty in list(cart.items()):
                t += gap(15)
                out.append((t, REMOVE, product, qty, False))
            if r() < 0.3:
                t += gap(40)
                out.append((t, VIEW, bisect_right(cum, r() * total), 1, False))
            return out

        value = sum(prices[p] * q for p, q in cart.items())
        x = (self._base_logit
             + prm.value_effect * math.log(value / self._ref_value)
             + prm.sensitivity_effect * (profile.price_sensitivity - 0.5)
             + (-prm.returning_effect * 0.65 if returning else prm.returning_effect * 0.35))
        abandoned = r() < _sigmoid(x)
        if len(cart) > 1 and r() < (0.2 if abandoned else 0.12):
            product = next(iter(cart))
            t += gap(20)
            out.append((t, REMOVE, product, cart.pop(product), False))
        units = sum(cart.values())
        if abandoned:
            if r() < prm.checkout_abandon_share:
                t += gap(30)
                out.append((t, CHECKOUT, -1, units, False))
            if r() < prm.explicit_abandon_share:
                t += gap(120)
                out.append((t, ABANDON, -1, 1, False))
            return out
        t += gap(30)
        out.append((t, CHECKOUT, -1, units, False))
        t += gap(60)
        for product, qty in cart.items():
            out.append((t, PURCHASE, product, qty, True))
        return out

    def _calibrate(self, sessions: int = 8000, rounds: int = 4) -> None:
        """Shift the abandonment log-odds so that, over this store's mix of shoppers (weighted by
        how often they visit), the closed-cart abandonment rate lands on the parameter: the
        value, sensitivity and returning effects are not centred, and frequent visitors (who
        are mostly returning) fill more carts."""
        target = self.params.abandonment_rate
        weights = (self.visit_rates / self.visit_rates.sum()).tolist()
        cum = np.cumsum(weights).tolist()
        pick = random.Random(f"calibrate-pick:{self.seed}")
        sample = [self.profiles[min(len(cum) - 1, bisect_right(cum, pick.random()))] for _ in range(sessions)]
        returning = [p.prior_orders > 0 or pick.random() < 0.3 for p in sample]
        for _ in range(rounds):
            rng = random.Random(f"calibrate:{self.seed}")  # common random numbers across rounds
            closed = abandoned = 0
            for profile, ret in zip(sample, returning, strict=True):
                outcome = cart_outcome(self.session(rng, profile, returning=ret, holiday=False))
                if outcome is not None:
                    closed += 1
                    abandoned += outcome == "abandoned"
            if not closed or abandoned in (0, closed):
                return
            self._base_logit += _logit(target) - _logit(abandoned / closed)

    def _estimate_session_length(self) -> float:
        rng = random.Random(f"estimate:{self.seed}")
        n, events = 3000, 0
        for i in range(n):
            profile = self.profiles[i % len(self.profiles)]
            events += len(self.session(rng, profile, returning=profile.prior_orders > 0, holiday=False))
        return events / n

    # --- seasonality ------------------------------------------------------------------------
    def hourly_intensity(self, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Hour bins covering [start, end): (bin start ms, relative session intensity)."""
        hour_ms = 3_600_000
        first = start_ms - start_ms % hour_ms
        starts = np.arange(first, end_ms, hour_ms, dtype=np.int64)
        prm = self.params
        weights = np.empty(len(starts))
        for i, ms in enumerate(starts.tolist()):
            local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(self._tz)
            weights[i] = (self._hours[local.hour] * prm.weekday_weights[local.weekday()]
                          * prm.month_weights[local.month - 1])
        # Partial first and last hours.
        weights[0] *= (min(end_ms, first + hour_ms) - start_ms) / hour_ms
        if len(starts) > 1:
            weights[-1] *= (end_ms - int(starts[-1])) / hour_ms
        return starts, weights

    def is_holiday(self, ms: int) -> bool:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(self._tz).month in self.params.holiday_months


def cart_outcome(steps: Sequence[tuple]) -> str | None:
    """DESIGN §4 outcome of one session's cart: converted, abandoned, emptied, or None (no cart)."""
    items: dict[int, int] = {}
    opened = purchased = False
    for _offset, action, product, quantity, _line in steps:
        if action == ADD:
            opened = True
            items[product] = quantity
        elif action == REMOVE:
            items.pop(product, None)
        elif action == PURCHASE:
            purchased = True
    if not opened:
        return None
    if purchased:
        return "converted"
    return "abandoned" if items else "emptied"


@dataclass
class Backfill:
    """Generated history, sorted by time, held in compact arrays; materialised in chunks."""

    model: StoreModel
    prefix: str
    ts: np.ndarray        # ms since epoch
    customer: np.ndarray  # profile index
    session: np.ndarray   # session number
    action: np.ndarray
    product: np.ndarray   # product index or -1
    quantity: np.ndarray
    order: np.ndarray     # order number or -1
    sessions: int

    def __len__(self) -> int:
        return len(self.ts)

    def chunks(self, size: int = 5000) -> Iterator[list[dict]]:
        for lo in range(0, len(self), size):
            yield self.events(lo, min(len(self), lo + size))

    def events(self, lo: int = 0, hi: int | None = None) -> list[dict]:
        hi = len(self) if hi is None else hi
        model = self.model
        prefix = self.prefix
        short = prefix[:8]
        cids = [p.customer_id for p in model.profiles]
        pids, prices, titles, cats = model.product_ids, model.prices, model.titles, model.categories_of
        stamps = np.datetime_as_string(self.ts[lo:hi].astype("datetime64[ms]"), unit="s").tolist()
        out = []
        for k, (stamp, c, s, a, p, q, o) in enumerate(zip(
                stamps, self.customer[lo:hi].tolist(), self.session[lo:hi].tolist(), self.action[lo:hi].tolist(),
                self.product[lo:hi].tolist(), self.quantity[lo:hi].tolist(), self.order[lo:hi].tolist(),
                strict=True), start=lo):
            out.append({
                "event_id": f"{prefix}{k:012x}",
                "customer_id": cids[c],
                "session_id": f"s-{short}-{s:x}",
                "action": ACTIONS[a],
                "product_id": pids[p] if p >= 0 else None,
                "quantity": q,
                "product_price": prices[p] if p >= 0 else 0.0,
                "order_id": f"o-{short}-{o:x}" if o >= 0 else None,
                "timestamp": stamp + "Z",
                "product_title": titles[p] if p >= 0 else None,
                "category": cats[p] if p >= 0 else None,
            })
        return out


def backfill(model: StoreModel, *, start: datetime, end: datetime, seed: int = 42,
             target_events: int | None = None) -> Backfill:
    """History over [start, end): sessions spread by the seasonal intensity, per customer in
    order and never overlapping; events at or after ``end`` are cut (sessions still in progress).

    Without ``target_events`` the number of sessions follows the customers' visit rates; with it,
    sessions are added or dropped whole so the count comes to at most ``target_events`` (within
    one session of it)."""
    start_ms, end_ms = _to_ms(start), _to_ms(end)
    start_ms = -(-start_ms // 1000) * 1000  # timestamps are written in whole seconds
    if end_ms <= start_ms:
        raise ValueError("end must be after start")
    days = (end_ms - start_ms) / 86_400_000
    prefix = id_prefix("backfill", seed, start_ms, end_ms, target_events, len(model.profiles),
                       len(model.products), model.params)
    gen = np.random.default_rng([seed, start_ms % 2**32, end_ms % 2**32])
    rng = random.Random(f"backfill:{seed}:{start_ms}:{end_ms}")
    if target_events:
        n_sessions = math.ceil(target_events / model.mean_events_per_session * 1.06) + 10
    else:
        n_sessions = int(gen.poisson(float(model.visit_rates.sum()) * days))
    bins, weights = model.hourly_intensity(start_ms, end_ms)
    chosen = gen.choice(len(bins), size=n_sessions, p=weights / weights.sum())
    starts = bins[chosen] + gen.integers(0, 3_600_000, size=n_sessions)
    starts = np.clip(starts, start_ms, end_ms - 1)
    who = gen.choice(len(model.profiles), size=n_sessions, p=model.visit_rates / model.visit_rates.sum())
    order = np.lexsort((starts, who))
    starts_l, who_l = starts[order].tolist(), who[order].tolist()

    ts: list[int] = []
    cust: list[int] = []
    sess: list[int] = []
    act: list[int] = []
    prod: list[int] = []
    qty: list[int] = []
    ordr: list[int] = []
    session_bounds: list[tuple[int, int]] = []  # (first event index, count) per session kept
    profiles = model.profiles
    session_no = order_no = 0
    prev_customer, prev_end, purchases = -1, 0, 0
    holiday_cache: dict[int, bool] = {}
    for begin, c in zip(starts_l, who_l, strict=True):
        profile = profiles[c]
        if c != prev_customer:
            prev_customer, prev_end, purchases = c, -(10**15), profile.prior_orders
        if begin < prev_end + _MIN_SESSION_GAP_MS:
            begin = prev_end + _MIN_SESSION_GAP_MS + rng.randrange(600_000)
        if begin >= end_ms:
            continue
        day = begin // 86_400_000
        holiday = holiday_cache.get(day)
        if holiday is None:
            holiday = holiday_cache[day] = model.is_holiday(begin)
        steps = model.session(rng, profile, returning=purchases > 0, holiday=holiday)
        first = len(ts)
        this_order = -1
        for offset, a, p, q, line in steps:
            moment = begin + offset
            if moment >= end_ms:
                break
            if line and this_order < 0:
                this_order = order_no
                order_no += 1
            ts.append(moment)
            cust.append(c)
            sess.append(session_no)
            act.append(a)
            prod.append(p)
            qty.append(q)
            ordr.append(this_order if line else -1)
            prev_end = moment
        if this_order >= 0:
            purchases += 1
        if len(ts) > first:
            session_bounds.append((first, len(ts) - first))
            session_no += 1

    arrays = [np.array(col, dtype=np.int64) for col in (ts, cust, sess, act, prod, qty, ordr)]
    if target_events and len(ts) > target_events:
        # Drop whole sessions, chosen at random, until the count fits.
        excess = len(ts) - target_events
        perm = gen.permutation(len(session_bounds))
        lengths = np.array([session_bounds[i][1] for i in perm])
        n_drop = int(np.searchsorted(np.cumsum(lengths), excess) + 1)
        keep = np.ones(len(ts), dtype=bool)
        for i in perm[:n_drop].tolist():
            first, count = session_bounds[i]
            keep[first:first + count] = False
        arrays = [col[keep] for col in arrays]
    by_time = np.argsort(arrays[0], kind="stable")
    arrays = [col[by_time] for col in arrays]
    ts_a, cust_a, sess_a, act_a, prod_a, qty_a, order_a = arrays
    return Backfill(model, prefix, ts_a, cust_a, sess_a, act_a, prod_a, qty_a, order_a,
                    sessions=len(np.unique(sess_a)))


# --- live mode -------------------------------------------------------------------------------

@dataclass
class LiveState:
    """What live mode keeps between ticks (JSON-serialisable through to_json/from_json)."""

    prefix: str
    next_event: int = 0
    next_session: int = 0
    next_order: int = 0
    tick: int = 0
    last_tick_ms: int | None = None
    carry: float = 0.0
    pending: list[list] = field(default_factory=list)   # [ts_ms, event dict], events not yet due
    busy: dict[str, int] = field(default_factory=dict)  # customer_id -> ms before which no new session
    orders: dict[str, int] = field(default_factory=dict)  # purchases made in live mode

    @classmethod
    def new(cls, *, seed: int, started: datetime) -> LiveState:
        return cls(prefix=id_prefix("live", seed, _to_ms(started)))

    def to_json(self) -> dict:
        return {"prefix": self.prefix, "next_event": self.next_event, "next_session": self.next_session,
                "next_order": self.next_order, "tick": self.tick, "last_tick_ms": self.last_tick_ms,
                "carry": self.carry, "pending": self.pending, "busy": self.busy, "orders": self.orders}

    @classmethod
    def from_json(cls, data: Mapping) -> LiveState:
        return cls(prefix=data["prefix"], next_event=data.get("next_event", 0),
                   next_session=data.get("next_session", 0), next_order=data.get("next_order", 0),
                   tick=data.get("tick", 0), last_tick_ms=data.get("last_tick_ms"),
                   carry=data.get("carry", 0.0), pending=list(data.get("pending", [])),
                   busy=dict(data.get("busy", {})), orders=dict(data.get("orders", {})))


CUSTOMERS_PER_EVENT_RATE = 1000
"""Live mode needs about this many shoppers per event a second: a shopper's sessions are kept
more than 30 minutes apart (DESIGN §4's idle rule), so each can start only a few sessions an hour."""


def live_step(model: StoreModel, state: LiveState, *, now: datetime, rate: float, seed: int = 42,
              first_tick_seconds: float = 5.0, max_catchup_seconds: float = 60.0) -> list[dict]:
    """Advance live mode to ``now``: start the sessions due since the last tick (about ``rate``
    events a second on average) and return, in time order, every event whose time has come.
    Events later in those sessions wait in ``state.pending`` for later ticks, so sessions unfold
    over real time. No returned event is later than ``now``. Mutates ``state``."""
    now_ms = _to_ms(now)
    last = state.last_tick_ms
    elapsed = first_tick_seconds * 1000 if last is None else now_ms - last
    elapsed = max(0.0, min(elapsed, max_catchup_seconds * 1000))
    window_start = now_ms - elapsed
    state.tick += 1
    rng = random.Random(f"live:{seed}:{state.prefix}:{state.tick}")
    state.busy = {cid: until for cid, until in state.busy.items() if until > now_ms}
    expected = state.carry + max(rate, 0.0) * elapsed / 1000 / model.mean_events_per_session
    n_new = int(expected)
    state.carry = expected - n_new
    profiles = model.profiles
    cum_visits = np.cumsum(model.visit_rates).tolist()
    total_visits = cum_visits[-1]
    short = state.prefix[:8]
    due: list[list] = []
    for _ in range(n_new):
        begin = int(window_start + rng.random() * elapsed)
        for attempt in range(24):
            if attempt < 12:  # by visit frequency; frequent shoppers are often mid-session, so then any
                profile = profiles[min(len(profiles) - 1, bisect_right(cum_visits, rng.random() * total_visits))]
            else:
                profile = profiles[rng.randrange(len(profiles))]
            if state.busy.get(profile.customer_id, 0) <= begin:
                break
        else:
            continue  # every customer tried is mid-session (population too small for the rate): skip
        returning = profile.prior_orders + state.orders.get(profile.customer_id, 0) > 0
        steps = model.session(rng, profile, returning=returning, holiday=model.is_holiday(begin))
        session_id = f"s-{short}-{state.next_session:x}"
        state.next_session += 1
        order_id = None
        for offset, a, p, q, line in steps:
            if line and order_id is None:
                order_id = f"o-{short}-{state.next_order:x}"
                state.next_order += 1
                state.orders[profile.customer_id] = state.orders.get(profile.customer_id, 0) + 1
            moment = begin + offset
            due.append([moment, {
                "event_id": f"{state.prefix}{state.next_event:012x}",
                "customer_id": profile.customer_id,
                "session_id": session_id,
                "action": ACTIONS[a],
                "product_id": model.product_ids[p] if p >= 0 else None,
                "quantity": q,
                "product_price": model.prices[p] if p >= 0 else 0.0,
                "order_id": order_id if line else None,
                "timestamp": iso_ms(moment),
                "product_title": model.titles[p] if p >= 0 else None,
                "category": model.categories_of[p] if p >= 0 else None,
            }])
            state.next_event += 1
        state.busy[profile.customer_id] = begin + steps[-1][0] + _MIN_SESSION_GAP_MS
    waiting = state.pending + due
    waiting.sort(key=lambda item: item[0])
    cut = bisect_right([item[0] for item in waiting], now_ms)
    state.pending = waiting[cut:]
    state.last_tick_ms = now_ms
    return [event for _ms, event in waiting[:cut]]
