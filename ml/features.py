"""Feature builder for the purchase-likelihood model. PURE: frames in, frames out; no ORM.

One row per cart, taken at its **decision point**: its last event before the outcome is known,
i.e. before the first ``purchase`` or ``abandon`` event of its session at or after the cart opened
(or, when there is none, the session's last event: the session then ended by going idle). Every
feature is computed only from events strictly before that cut and from the customer's history
strictly before the decision moment, so the outcome event (the purchase, the explicit abandon) is
never seen. Checkout is known before the outcome, so it is a feature. The same function builds
training rows (closed carts) and scoring rows (open carts).

Cart boundaries and outcomes come from the metrics engine's derivation
(:mod:`insights.derivation`): sessions, the cart of each session, its state. This module only adds
the per-cart features, vectorised with pandas.

Input frames
- ``events``: one row per event with columns ``pk`` (int), ``customer`` (int), ``product`` (int,
  -1 when none), ``session_id`` (str, "" when none), ``action`` (str), ``quantity`` (int), ``price``
  (float), ``order_id`` (str or None), ``ts`` (datetime64, UTC), ``category`` (str, "" when none), and
  optionally ``amount`` (float, NaN when none: a purchase line's total as sent, or a refund's amount;
  revenue is ``events.types.line_total``, vectorised here as amount, else price × quantity) and
  ``discount`` (float, NaN when none: the order discount a purchase line carried).

Money (docs/money.md): the customer's past revenue is net, by ``insights.money``'s rules: cancelled orders
count nowhere, an order's discount (its first line carrying one) is taken off, and a refund is taken
off at the refund's own time (never before it: no future is seen).
- ``customers``: indexed by customer pk, columns ``age_group`` (str) and ``signed_up_at``
  (datetime64 UTC or NaT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd

from events.types import line_total
from insights.derivation import CART_ABANDONED, CART_CONVERTED, CART_OPEN, IDLE, derive_session, group_sessions

EVENT_COLUMNS = ("pk", "customer", "product", "session_id", "action", "quantity", "price", "order_id", "ts",
                 "category", "amount", "discount")

NUMERIC_FEATURES = (
    "views", "adds", "removes", "checkouts", "products_viewed", "items", "value", "cart_lines", "max_item_price",
    "mean_item_price", "categories_in_cart", "session_minutes", "cart_minutes", "events_before_cart",
    "hour", "weekday", "is_weekend", "past_orders", "past_revenue", "days_since_last_order", "has_ordered",
    "past_sessions", "tenure_days",
)
CATEGORICAL_FEATURES = ("age_group", "top_category")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
TARGET = "converted"
# Carts the model learns from: their outcome is known. Emptied carts are left out (nothing left to
# buy is not a prediction); open carts are what gets scored.
LABELLED_STATES = (CART_CONVERTED, CART_ABANDONED)
# Events that reveal (or are) the outcome: the decision point is before the first of them.
COMMIT_ACTIONS = ("purchase", "abandon")
NEVER_ORDERED_DAYS = 3650.0


class _EventRow:
    """The attributes insights.derivation reads from an event (its EventLike protocol)."""

    __slots__ = ("pk", "event_id", "customer_pk", "product_pk", "session_id", "action", "quantity", "price",
                 "order_id", "timestamp", "row", "amount")
    context = None  # traffic source and order discounts are not model features
    discount = None
    browser = False  # every purchase counts as sent (the revenue source is not applied to model features)

    def __init__(self, row, pk, customer, product, session_id, action, quantity, price, order_id, timestamp,
                 amount=None):
        self.row = row
        self.pk = pk
        self.event_id = ""
        self.customer_pk = customer
        self.product_pk = None if product < 0 else product
        self.session_id = session_id
        self.action = action
        self.quantity = quantity
        self.price = price
        self.order_id = order_id
        self.timestamp = timestamp
        self.amount = amount

    @property
    def line_total(self) -> Decimal:
        return line_total(self.price, self.quantity, self.amount)


@dataclass(frozen=True)
class Sessionized:
    events: pd.DataFrame      # the input events, sorted, with an int ``session`` column
    sessions: pd.DataFrame    # one row per session: session, customer, key, started_at, cart_opened_at,
    #                           cart_state (None without a cart), cart_closed_at


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "pk": pd.Series(dtype="int64"), "customer": pd.Series(dtype="int64"),
        "product": pd.Series(dtype="int64"), "session_id": pd.Series(dtype="object"),
        "action": pd.Series(dtype="object"), "quantity": pd.Series(dtype="int64"),
        "price": pd.Series(dtype="float64"), "order_id": pd.Series(dtype="object"),
        "ts": pd.Series(dtype="datetime64[us, UTC]"), "category": pd.Series(dtype="object"),
        "amount": pd.Series(dtype="float64"), "discount": pd.Series(dtype="float64"),
    })


def sessionize(events: pd.DataFrame, *, as_of: datetime, idle: timedelta = IDLE) -> Sessionized:
    """Sessions and carts of ``events`` by the metrics engine's derivation, plus each event's session.

    Streams customer by customer, so only one customer's event objects exist at a time."""
    ev = events.sort_values(["customer", "ts", "pk"], kind="stable").reset_index(drop=True)
    n = len(ev)
    session_of = np.full(n, -1, dtype=np.int64)
    rows: list[tuple] = []
    if n:
        cust = ev["customer"].to_numpy()
        pks = ev["pk"].to_numpy().tolist()
        custs = cust.tolist()
        prods = ev["product"].to_numpy().tolist()
        sids = ev["session_id"].tolist()
        acts = ev["action"].tolist()
        qtys = ev["quantity"].to_numpy().tolist()
        decimals: dict[float, Decimal] = {}
        prices = [decimals.get(p) or decimals.setdefault(p, Decimal(str(round(p, 2))))
                  for p in ev["price"].to_numpy().tolist()]
        orders = ev["order_id"].tolist()
        amounts: list[Decimal | None] = [None] * n
        if "amount" in ev:  # only the lines sent with a total carry one
            given = ev["amount"].to_numpy()
            for i in np.flatnonzero(~np.isnan(given)).tolist():
                amounts[i] = Decimal(str(round(float(given[i]), 2)))
        stamps = ev["ts"].dt.to_pydatetime().tolist()
        bounds = np.flatnonzero(np.diff(cust)) + 1
        starts = np.concatenate([[0], bounds]).tolist()
        ends = np.concatenate([bounds, [n]]).tolist()
        for lo, hi in zip(starts, ends, strict=True):
            block: list[Any] = [_EventRow(i, pks[i], custs[i], prods[i], sids[i] or "", acts[i], qtys[i],
                                          prices[i], orders[i] or None, stamps[i], amounts[i])
                                for i in range(lo, hi)]
            for key, sevs in group_sessions(block, idle=idle):
                s = derive_session(key, sevs, as_of=as_of, idle=idle)
                number = len(rows)
                for e in cast(list[_EventRow], sevs):
                    session_of[e.row] = number
                cart = s.cart
                rows.append((number, s.customer_pk, key, s.started_at,
                             cart.opened_at if cart else None, cart.state if cart else None,
                             cart.closed_at if cart else None))
    ev["session"] = session_of
    sessions = pd.DataFrame(rows, columns=["session", "customer", "key", "started_at", "cart_opened_at",
                                           "cart_state", "cart_closed_at"])
    for col in ("started_at", "cart_opened_at", "cart_closed_at"):
        sessions[col] = pd.to_datetime(sessions[col], utc=True)
    return Sessionized(events=ev, sessions=sessions)


def _line_totals(lines: pd.DataFrame) -> pd.Series:
    """``events.types.line_total`` over a frame: the line total sent, else price × quantity."""
    computed = lines["price"] * lines["quantity"]
    if "amount" not in lines:
        return computed
    return lines["amount"].where(lines["amount"].notna(), computed)


def _orders(events: pd.DataFrame) -> pd.DataFrame:
    """Orders by the metrics engine's rule (distinct order_id, else one per session), net of their
    discount, and refunds as negative rows at their own time: customer, ts, revenue, is_order.
    Cancelled orders (and their refunds) are left out."""
    cancelled = set(events.loc[events["action"] == "cancel", "order_id"].dropna())
    counted = ~events["order_id"].isin(cancelled) if cancelled else pd.Series(True, index=events.index)
    buys = events[(events["action"] == "purchase") & counted].sort_values("pk", kind="stable")
    refunds = events[(events["action"] == "refund") & counted]
    columns = {"customer": pd.Series(dtype="int64"), "ts": pd.Series(dtype="datetime64[us, UTC]"),
               "revenue": pd.Series(dtype="float64"), "is_order": pd.Series(dtype="int64")}
    parts = [pd.DataFrame(columns)]
    if not buys.empty:
        okey = np.where(buys["order_id"].isna() | (buys["order_id"] == ""), "s:" + buys["session"].astype(str),
                        "o:" + buys["order_id"].astype(str))
        discount = buys["discount"].to_numpy() if "discount" in buys else np.full(len(buys), np.nan)
        frame = pd.DataFrame({"customer": buys["customer"].to_numpy(), "okey": okey, "ts": buys["ts"].to_numpy(),
                              "line": _line_totals(buys).to_numpy(), "discount": discount})
        orders = (frame.groupby(["customer", "okey"], sort=False)
                  .agg(ts=("ts", "min"), gross=("line", "sum"), discount=("discount", "first")).reset_index())
        parts.append(pd.DataFrame({"customer": orders["customer"], "ts": orders["ts"],
                                   "revenue": orders["gross"] - orders["discount"].fillna(0.0), "is_order": 1}))
    if not refunds.empty:
        parts.append(pd.DataFrame({"customer": refunds["customer"].to_numpy(), "ts": refunds["ts"].to_numpy(),
                                   "revenue": -_line_totals(refunds).to_numpy(), "is_order": 0}))
    non_empty = [p for p in parts if not p.empty]
    return pd.concat(non_empty, ignore_index=True) if non_empty else parts[0]


def _visible_events(ev: pd.DataFrame, carts: pd.DataFrame) -> pd.DataFrame:
    """The carts' events before each one's decision point: its first outcome event at or after it opened."""
    in_cart = ev[ev["session"].isin(carts.index)]
    opened = in_cart["session"].map(carts["cart_opened_at"])
    commit = in_cart[in_cart["action"].isin(COMMIT_ACTIONS) & (in_cart["ts"] >= opened)]
    cutoff = commit.groupby("session")["ts"].min()
    cut = (in_cart["session"].map(cutoff) if len(cutoff)
           else pd.Series(pd.NaT, index=in_cart.index, dtype=in_cart["ts"].dtype))
    return in_cart[cut.isna() | (in_cart["ts"] < cut)]


def _cart_activity(visible: pd.DataFrame, carts: pd.DataFrame) -> pd.DataFrame:
    """Per cart: its decision moment and what the customer did in the session until then."""
    out = pd.DataFrame(index=carts.index)
    out["decided_at"] = visible.groupby("session")["ts"].max()
    acts = visible.groupby(["session", "action"]).size().unstack(fill_value=0)
    for name, action in (("views", "view"), ("adds", "add_to_cart"), ("removes", "remove_from_cart"),
                         ("checkouts", "checkout")):
        out[name] = acts[action] if action in acts else 0
    views = visible[(visible["action"] == "view") & (visible["product"] >= 0)]
    out["products_viewed"] = views.groupby("session")["product"].nunique()
    out["events_before_cart"] = visible[visible["ts"] < visible["session"].map(carts["cart_opened_at"])
                                        ].groupby("session").size()
    return out


def _cart_contents(visible: pd.DataFrame) -> dict[str, pd.Series]:
    """What is in each cart at the decision point: adds minus removes per product, at the last add price."""
    moves = visible[visible["action"].isin(("add_to_cart", "remove_from_cart")) & (visible["product"] >= 0)]
    signed = np.where(moves["action"] == "add_to_cart", moves["quantity"], -moves["quantity"])
    lines = pd.DataFrame({"session": moves["session"].to_numpy(), "product": moves["product"].to_numpy(),
                          "qty": signed, "category": moves["category"].to_numpy(),
                          "price": np.where(moves["action"] == "add_to_cart", moves["price"], np.nan)})
    per = lines.groupby(["session", "product"], sort=False).agg(
        qty=("qty", "sum"), price=("price", "last"), category=("category", "first"))
    per = per[per["qty"] > 0].reset_index()
    per["price"] = per["price"].fillna(0.0)
    per["line_value"] = per["qty"] * per["price"]
    pg = per.groupby("session")
    top = per.sort_values(["session", "line_value", "product"], ascending=[True, False, True]).drop_duplicates(
        "session")
    return {"items": pg["qty"].sum(), "value": pg["line_value"].sum(), "cart_lines": pg.size(),
            "max_item_price": pg["price"].max(), "mean_item_price": pg["line_value"].sum() / pg["qty"].sum(),
            "categories_in_cart": pg["category"].nunique(),
            "top_category": top.set_index("session")["category"].replace("", "none")}


def _decided_carts(out: pd.DataFrame, carts: pd.DataFrame, time_zone: str) -> pd.DataFrame:
    """The carts with a decision point and an add, with their identity, zero counts filled in and timing."""
    out["customer"] = carts["customer"]
    out["key"] = carts["key"]
    out["state"] = carts["cart_state"]
    out["opened_at"] = carts["cart_opened_at"]
    out = out[out["decided_at"].notna() & (out["adds"] > 0)].copy()
    count_cols = ["views", "adds", "removes", "checkouts", "products_viewed", "events_before_cart", "items", "value",
                  "cart_lines", "max_item_price", "mean_item_price", "categories_in_cart"]
    out[count_cols] = out[count_cols].fillna(0)
    out["top_category"] = out["top_category"].fillna("none")
    started = carts["started_at"].reindex(out.index)
    out["session_minutes"] = (out["decided_at"] - started).dt.total_seconds() / 60.0
    out["cart_minutes"] = (out["decided_at"] - out["opened_at"]).dt.total_seconds() / 60.0
    local = out["decided_at"].dt.tz_convert(time_zone)
    out["hour"] = local.dt.hour
    out["weekday"] = local.dt.day_of_week
    out["is_weekend"] = (out["weekday"] >= 5).astype(int)
    return out.reset_index().rename(columns={"index": "session"})


def _with_order_history(out: pd.DataFrame, ev: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """The customer's sessions and orders strictly before each cart's decision moment."""
    sess_sorted = sessions.sort_values(["customer", "started_at", "session"])
    past_sessions = sess_sorted.groupby("customer").cumcount()
    out["past_sessions"] = out["session"].map(pd.Series(past_sessions.to_numpy(), index=sess_sorted["session"]))
    orders = _orders(ev).sort_values(["ts", "is_order"], kind="stable")
    orders["past_orders"] = orders.groupby("customer")["is_order"].cumsum()
    orders["past_revenue"] = orders.groupby("customer")["revenue"].cumsum()
    orders["last_order_at"] = orders["ts"].where(orders["is_order"] == 1)
    orders["last_order_at"] = orders.groupby("customer")["last_order_at"].ffill()
    out = out.sort_values("decided_at")
    orders["ts"] = orders["ts"].astype(out["decided_at"].dtype)
    out = pd.merge_asof(out, orders[["customer", "ts", "past_orders", "past_revenue", "last_order_at"]],
                        left_on="decided_at", right_on="ts", by="customer", allow_exact_matches=False,
                        direction="backward").drop(columns=["ts"])
    out["past_orders"] = out["past_orders"].fillna(0).astype(int)
    out["past_revenue"] = out["past_revenue"].fillna(0.0)
    out["has_ordered"] = (out["past_orders"] > 0).astype(int)
    out["days_since_last_order"] = ((out["decided_at"] - out["last_order_at"]).dt.total_seconds() / 86400.0
                                    ).fillna(NEVER_ORDERED_DAYS)
    return out


def _with_customer(out: pd.DataFrame, ev: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Tenure (from sign-up, or the first event if earlier or unknown) and age group."""
    first_seen = ev.groupby("customer")["ts"].min()
    since = out["customer"].map(first_seen)
    signed_up = out["customer"].map(customers["signed_up_at"]) if "signed_up_at" in customers else None
    if signed_up is not None:
        signed_up = pd.to_datetime(signed_up, utc=True).astype(since.dtype)
        since = since.where(signed_up.isna() | (signed_up > since), signed_up)
    out["tenure_days"] = ((out["decided_at"] - since).dt.total_seconds() / 86400.0).clip(lower=0)
    age = out["customer"].map(customers["age_group"]) if "age_group" in customers else None
    out["age_group"] = "unknown" if age is None else age.fillna("unknown").astype(str)
    return out


def cart_features(data: Sessionized, customers: pd.DataFrame, *, states: Sequence[str] = LABELLED_STATES,
                  time_zone: str = "UTC") -> pd.DataFrame:
    """One row per cart in ``states`` with its features at the decision point and the target."""
    ev, sessions = data.events, data.sessions
    carts = sessions[sessions["cart_state"].isin(states)].set_index("session")
    columns = ["session", "customer", "key", "state", "opened_at", "decided_at", TARGET, *FEATURES]
    if carts.empty:
        return pd.DataFrame(columns=columns)
    visible = _visible_events(ev, carts)
    out = _cart_activity(visible, carts).assign(**_cart_contents(visible))
    out = _decided_carts(out, carts, time_zone)
    out = _with_customer(_with_order_history(out, ev, sessions), ev, customers)
    out[TARGET] = (out["state"] == CART_CONVERTED).astype(int)
    out = out.sort_values(["decided_at", "customer", "session"], kind="stable").reset_index(drop=True)
    return out[columns]


def build_features(events: pd.DataFrame, customers: pd.DataFrame, *, as_of: datetime,
                   states: Sequence[str] = LABELLED_STATES, time_zone: str = "UTC",
                   idle: timedelta = IDLE) -> pd.DataFrame:
    """Events (and customer attributes) in, one feature row per cart out."""
    return cart_features(sessionize(events, as_of=as_of, idle=idle), customers, states=states,
                         time_zone=time_zone)


def open_cart_features(events: pd.DataFrame, customers: pd.DataFrame, *, as_of: datetime,
                       time_zone: str = "UTC", idle: timedelta = IDLE) -> pd.DataFrame:
    """Feature rows for the carts still open at ``as_of`` (what scoring uses)."""
    return build_features(events, customers, as_of=as_of, states=(CART_OPEN,), time_zone=time_zone, idle=idle)
