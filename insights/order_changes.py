"""What an order's new events change in the money counted before them (part of
``insights.services.analytics_apply_events``, inside the ingest transaction): a cancel takes its
order's money out; a verified order changes what earlier browser lines of its id count as
(docs/trust.md#browser-reported-and-verified-orders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace

from customers.selectors import customer_age_groups
from events.types import StoredEvent
from insights.contributions import Contributions, add_event_contributions
from insights.money import OrderBook
from insights.moves.counted import counted_groups
from insights.order_store import (
    book_of_orders,
    browser_order_ids,
    browser_orders,
    browser_purchase_lines,
    counts_unconfirmed,
    order_events,
    order_winners,
    orders_cancelled,
)
from insights.rollup_store import product_categories

Span = tuple[int, dt.datetime, dt.datetime]


def cancels_apply(contributions: Contributions, events: Sequence[StoredEvent], tz: dt.tzinfo
                   ) -> list[Span]:
    """Orders cancelled for the first time by these events: take out the money their earlier-stored
    lines and refunds added (events stored with the cancel were counted as cancelled already).
    Returns the spans of those lines, whose sessions must be re-derived."""
    cancels = [e for e in events if e.action == "cancel" and e.order_id is not None]
    if not cancels:
        return []
    orders = {e.order_id for e in cancels if e.order_id is not None}
    fresh = orders - orders_cancelled(orders, excluding_pks={e.pk for e in cancels})
    if not fresh:
        return []
    new_pks = {e.pk for e in events}
    before = [e for e in order_events(fresh) if e.pk not in new_pks]
    if not before:
        return []
    book = OrderBook(winners=order_winners(fresh), browser=browser_orders(fresh, excluding_pks=new_pks))
    _money_move(contributions, before, ((book, -1),), tz)
    return [(e.customer_pk, e.timestamp, e.timestamp) for e in before if e.action == "purchase"]


def _money_move(contributions: Contributions, lines: Sequence[StoredEvent],
                books: Iterable[tuple[OrderBook, int]], tz: dt.tzinfo) -> None:
    """Take these stored lines' money out (sign -1) or put it in (+1) under each book."""
    ages = customer_age_groups(customer_pks=(e.customer_pk for e in lines))
    categories = product_categories(e.product_pk for e in lines)
    for book, sign in books:
        for part, counted_in in counted_groups(lines, ages):  # an age move under way: some still in the old group
            add_event_contributions(contributions, part, age_of=counted_in, category_of=categories, tz=tz,
                                    book=book, sign=sign, money_only=True)


def confirmations_apply(contributions: Contributions, events: Sequence[StoredEvent], tz: dt.tzinfo) -> list[Span]:
    """Verified lines change what earlier browser lines of their orders count as (confirmed, or void:
    ``events.verification``); the store's first verified order turns ``auto`` to verified, which
    changes every earlier browser line. Their money moves (old out, new in); returns the spans of the
    changed lines, whose sessions must be re-derived."""
    verified = {e.order_id for e in events if e.action == "purchase" and not e.browser and e.order_id is not None}
    if not verified:
        return []
    new_pks = {e.pk for e in events}
    lines = [e for e in order_events(verified) if e.browser and e.action == "purchase" and e.pk not in new_pks]
    spans: list[Span] = []
    count_before = counts_unconfirmed(excluding_pks=new_pks)
    count_after = count_before if lines else counts_unconfirmed()
    if lines:
        orders = browser_order_ids(lines)
        after = book_of_orders(orders)
        before = OrderBook(cancelled=after.cancelled, winners=order_winners(orders, excluding_pks=new_pks),
                           browser=browser_orders(orders, excluding_pks=new_pks))
        spans = _browser_lines_recount(contributions, lines, before, after, tz)
        count_after = after.browser.count_unconfirmed
    return spans + mode_change_apply(contributions, count_before=count_before, count_after=count_after,
                                     handled={*new_pks, *(e.pk for e in lines)}, tz=tz)


def mode_change_apply(contributions: Contributions, *, count_before: bool, count_after: bool,
                      handled: Collection[int], tz: dt.tzinfo) -> list[Span]:
    """The revenue source in force changed (``auto``: the store's first verified order came, or its
    last went): every stored browser line but ``handled`` is counted again. Returns the changed
    lines' spans."""
    if count_before == count_after:
        return []
    lines = browser_purchase_lines(excluding_pks=handled)
    if not lines:
        return []
    after = book_of_orders(browser_order_ids(lines))
    before = replace(after, browser=replace(after.browser, count_unconfirmed=count_before))
    return _browser_lines_recount(contributions, lines, before, after, tz)


def browser_changed(lines: Iterable[StoredEvent], before: OrderBook, after: OrderBook) -> list[StoredEvent]:
    """The browser purchase lines that count as something else under ``after`` than under ``before``."""
    return [e for e in lines if e.browser and e.action == "purchase"
            and before.browser.verdict(e.order_id, e.timestamp) != after.browser.verdict(e.order_id, e.timestamp)]


def _browser_lines_recount(contributions: Contributions, lines: Sequence[StoredEvent], before: OrderBook,
                           after: OrderBook, tz: dt.tzinfo) -> list[Span]:
    changed = browser_changed(lines, before, after)
    if changed:
        _money_move(contributions, changed, ((before, -1), (after, 1)), tz)
    return [(e.customer_pk, e.timestamp, e.timestamp) for e in changed]
