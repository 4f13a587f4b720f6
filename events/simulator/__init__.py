"""Pure behaviour model of a store's shoppers.

No ORM and no Django: it takes customers (``{"customer_id", "age"}`` dicts), a product catalogue
(``{"product_id", "title", "price", "category", "popularity"}`` dicts), parameters and a seed, and
returns events in the native wire format (docs/sending-events.md).

- ``params``: every behaviour knob (:class:`SimParams`) and session timing.
- ``inputs``: customers and catalogue in the model's shapes (synthetic customers, FakeStore items).
- ``shoppers``: how customers differ (segment, age group, price sensitivity, loyalty, visits,
  favourite category, order history): a minority of frequent buyers makes much of the revenue.
- ``catalogue``: the priced products and the product-choice tables shoppers draw views from.
- ``session``: one session: views, cart, remove, then checkout and purchase (one line per cart
  item, sharing an ``order_id``) or abandonment (idle, or an explicit ``abandon``) or an emptied
  cart. The abandonment rate is a parameter (docs/metrics.md: abandoned / (converted + abandoned +
  emptied)); a dearer cart and a price-sensitive shopper raise it, returning customers convert better.
- ``nonlinear``: with ``SimParams(behaviour="nonlinear")``, thresholds and interactions on top (age ×
  value, browsing × value, weekday × hour): docs/retention-and-predictions.md#simulator-ground-truth.
- ``model``: :class:`StoreModel` puts them together, calibrates abandonment, and holds the
  seasonality (hour of day with an afternoon/evening peak, weekday, month with a November–December
  peak, in the store's time zone).
- ``output``: the one event-dict builder and the deterministic ids.
- ``backfill``: :func:`backfill` spreads sessions over a past window.
- ``live``: :func:`live_step` unfolds sessions over real time between ticks, never in the future.

Sessions respect the metrics engine's session rule: one ``session_id`` per session, events of a
session under 30 minutes apart, a customer's sessions never overlap and are more than 30 minutes
apart. The same seed and inputs give the same events, event ids included.
"""

from customers.age import AGE_GROUPS
from events.simulator.backfill import Backfill, backfill
from events.simulator.inputs import catalogue_from_items, synthetic_customers
from events.simulator.live import CUSTOMERS_PER_EVENT_RATE, LiveState, live_step
from events.simulator.model import StoreModel
from events.simulator.output import id_prefix, iso_ms, wire_events
from events.simulator.params import SESSION_IDLE_MS, SimParams
from events.simulator.session import ABANDON, ACTIONS, ADD, CHECKOUT, PURCHASE, REMOVE, VIEW, cart_outcome
from events.simulator.shoppers import Profile

__all__ = [
    "ABANDON", "ACTIONS", "ADD", "AGE_GROUPS", "CHECKOUT", "CUSTOMERS_PER_EVENT_RATE", "PURCHASE", "REMOVE",
    "SESSION_IDLE_MS", "VIEW", "Backfill", "LiveState", "Profile", "SimParams", "StoreModel", "backfill",
    "cart_outcome", "catalogue_from_items", "id_prefix", "iso_ms", "live_step", "synthetic_customers", "wire_events",
]
