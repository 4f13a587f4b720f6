"""Hooks of the customers app for higher layers (registered in their ``AppConfig.ready()``).

``customer_age_changing``: a customer's age is about to change through ``customer_traits_update``
(a server's ``identify``, a store connection, a profile import). A receiver that moves the
customer's history between age groups in the rollups (insights) takes the change over (it queues
it) and returns True; without one the age is saved plainly.

``customer_history_queued``: sent once the writes that queued such changes (and identity links) are
committed; the receiver (insights) makes the small ones at once and hands the rest to the
background, in bounded steps."""

from django.dispatch import Signal

customer_age_changing = Signal()  # kwargs: customer (Customer), age (int | None)
customer_history_queued = Signal()
