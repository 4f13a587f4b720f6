"""A product's category changed: its history moves to the new category (docs/metrics.md).

Three rollups are keyed by category: ``events_daily`` (each event under its product's category) and
the category rows of ``sessions_daily`` and ``cart_values_daily`` (a session counts in each
category it touched). Every other rollup is keyed by product or not by product at all, so a change
of category moves the product's events' share and the share of every session that holds the
product from the old category to the new one, and nothing else changes: what a rebuild with the
new category computes.

The move runs in one transaction holding the derivation lock (``insights.rollup_store``: sessions
are neither re-derived nor closed meanwhile; derivation catches up when it ends) but not ingest:
events keep arriving and count under the old category until the end, when ingest is held back for
the short catch-up (events stored meanwhile, and orders cancelled meanwhile, move too) and the
product takes its new category. ``Product.category`` must change only through here on a product
with events (admin and ``manage.py recategorise_product`` do; the catalogue loader asks through
``products.signals.product_category_changing``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from customers.selectors import customer_age_groups
from events.models import Event
from events.types import StoredEvent
from insights.contributions import Contributions, add_event_contributions, add_session_contributions, new_contributions
from insights.derivation import DerivedSession
from insights.filters import store_tz
from insights.models import Session
from insights.money import OrderBook
from insights.order_store import browser_order_ids, browser_orders, order_book, order_winners, orders_cancelled
from insights.rollup_store import derivation_lock, ingest_hold, product_categories, rollups_add
from insights.session_store import EVENT_CHUNK, EVENT_FIELDS, stored_event
from products.models import Product

logger = logging.getLogger(__name__)

RECATEGORISE_TASK = "insights.tasks.recategorise_product_task"
_CUSTOMERS_PER_QUERY = 500
_MONEY_ACTIONS = ("purchase", "refund")


@dataclass
class CategoryMove:
    product_pk: int
    old: str
    new: str
    events: int = 0
    sessions: int = 0
    # the product's order lines moved while their order was not cancelled (a cancel stored during the
    # move takes their money out of the old category: the catch-up moves that to the new one)
    live_lines: dict[int, str] = field(default_factory=dict)


def _product_events(product_pk: int, *, after_pk: int = 0, upto_pk: int | None = None) -> Iterator[list[StoredEvent]]:
    """The product's counted events (ids in (after_pk, upto_pk]) in id order, in chunks."""
    qs = Event.objects.filter(product_id=product_pk, pk__gt=after_pk)
    if upto_pk is not None:
        qs = qs.filter(pk__lte=upto_pk)
    if not settings.METRICS_INCLUDE_BOTS:
        qs = qs.filter(is_bot=False)
    last = after_pk
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk").values_list(*EVENT_FIELDS)[:EVENT_CHUNK])
        if not rows:
            return
        yield [stored_event(r) for r in rows]
        last = rows[-1][0]


def _events_move(move: CategoryMove, events: Sequence[StoredEvent], book: OrderBook | None = None) -> None:
    """Move these events of the product from the old category to the new one (only ``events_daily``
    changes: every other rollup gets the same share out and in)."""
    book = book if book is not None else order_book(events)
    ages = customer_age_groups(customer_pks={e.customer_pk for e in events})
    contributions = new_contributions()
    tz = store_tz()
    for category, sign in ((move.old, -1), (move.new, 1)):
        add_event_contributions(contributions, events, age_of=ages, category_of={move.product_pk: category}, tz=tz,
                                book=book, sign=sign)
    _rollups_add_category_rows(contributions)
    for e in events:
        if e.action in _MONEY_ACTIONS and e.order_id is not None and e.order_id not in book.cancelled:
            move.live_lines[e.pk] = e.order_id
    move.events += len(events)


def _rollups_add_category_rows(contributions: Contributions) -> None:
    """Only the rollups keyed by category can differ; the rest sum to zero and are left out."""
    rollups_add({name: rows for name, rows in contributions.items()
                 if name in ("events_daily", "sessions_daily", "cart_values_daily")})


def _sessions_move(move: CategoryMove, customers: Sequence[int]) -> None:
    """Move the share of these customers' stored sessions that hold the product."""
    found = [(DerivedSession.from_json(summary), age) for summary, age in
             Session.objects.filter(customer_id__in=customers, summary__pr__has_key=str(move.product_pk))
             .values_list("summary", "age_group")]
    if not found:
        return
    others = product_categories(pk for d, _ in found for pk in d.products if pk != move.product_pk)
    contributions = new_contributions()
    tz = store_tz()
    for category, sign in ((move.old, -1), (move.new, 1)):
        add_session_contributions(contributions, found, category_of={**others, move.product_pk: category}, tz=tz,
                                  sign=sign)
    _rollups_add_category_rows(contributions)
    move.sessions += len(found)


def _cancelled_meanwhile(move: CategoryMove) -> None:
    """Orders of the product's moved lines cancelled during the move: ingest took those lines' money
    out of the old category (it still read the old one); it belongs out of the new one."""
    orders = set(move.live_lines.values())
    cancelled = orders_cancelled(orders) if orders else frozenset()
    pks = sorted(pk for pk, order in move.live_lines.items() if order in cancelled)
    if not pks:
        return
    lines: list[StoredEvent] = []
    for i in range(0, len(pks), _CUSTOMERS_PER_QUERY):
        lines.extend(stored_event(r) for r in Event.objects.filter(pk__in=pks[i:i + _CUSTOMERS_PER_QUERY])
                     .order_by("pk").values_list(*EVENT_FIELDS))
    live = OrderBook(winners=order_winners({e.order_id for e in lines if e.order_id is not None}),
                     browser=browser_orders(browser_order_ids(lines)))
    now = OrderBook(cancelled=cancelled, winners=live.winners, browser=live.browser)
    contributions = new_contributions()
    ages = customer_age_groups(customer_pks={e.customer_pk for e in lines})
    tz = store_tz()
    for category, book, sign in ((move.old, live, 1), (move.old, now, -1), (move.new, live, -1), (move.new, now, 1)):
        add_event_contributions(contributions, lines, age_of=ages, category_of={move.product_pk: category}, tz=tz,
                                book=book, sign=sign, money_only=True)
    _rollups_add_category_rows(contributions)


@transaction.atomic
def product_category_change(*, product_pk: int, category: str,
                            progress: Callable[[int], None] | None = None) -> CategoryMove:
    """Give the product ``category`` and move its history there (see the module's docstring).
    ``progress`` hears how many events were moved after each chunk."""
    derivation_lock()
    product = Product.objects.select_for_update().get(pk=product_pk)
    move = CategoryMove(product_pk, product.category, category[:100])
    if move.old == move.new:
        return move
    upto = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    customers: set[int] = set()
    for chunk in _product_events(product_pk, upto_pk=upto):
        _events_move(move, chunk)
        customers.update(e.customer_pk for e in chunk)
        if progress is not None:
            progress(len(chunk))
    ordered = sorted(customers)
    for i in range(0, len(ordered), _CUSTOMERS_PER_QUERY):
        _sessions_move(move, ordered[i:i + _CUSTOMERS_PER_QUERY])
    ingest_hold()  # the catch-up: nothing new arrives until the product has its new category
    _cancelled_meanwhile(move)
    for chunk in _product_events(product_pk, after_pk=upto):
        _events_move(move, chunk)
    Product.objects.filter(pk=product_pk).update(category=move.new)
    return move


def product_category_request(*, product_pk: int, category: str) -> bool:
    """Change the category now when the product has no events (nothing counted to move), else queue
    the move on the worker once the surrounding transaction commits. True when queued."""
    if not Event.objects.filter(product_id=product_pk).exists():
        product_category_change(product_pk=product_pk, category=category)
        return False

    def enqueue() -> None:
        from celery import signature

        try:  # by name: insights.tasks imports this module
            signature(RECATEGORISE_TASK, kwargs={"product_pk": product_pk, "category": category}).delay()
        except Exception:  # the broker is away: the product keeps its category; the command does it
            logger.exception("queueing the category change of product %s failed", product_pk)

    transaction.on_commit(enqueue)
    return True
