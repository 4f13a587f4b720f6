"""Hooks of the customers app for higher layers (registered in their ``AppConfig.ready()``).

``customer_age_changing``: a customer's age is about to change through ``customer_traits_update``
(a storefront ``identify``). A receiver that moves the customer's history between age groups in
the rollups (insights) makes the change itself and returns True; without one the age is saved
plainly."""

from django.dispatch import Signal

customer_age_changing = Signal()  # kwargs: customer (Customer), age (int | None)
