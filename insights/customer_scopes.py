"""Customer scopes: how a higher app lets insights pages be cut to a set of customers it knows
(``?experiment=&variant=``: the visitors exposed to an A/B experiment's variant) without insights
importing it (docs/experiments.md#experiments-in-the-rest-of-the-product).

The experiments app registers one ``CustomerScope`` in its ``AppConfig.ready()``; the funnel, carts and
acquisition selectors ask ``scope_customer_pks`` for the filter's customers, and the filter bar lists
``scope_choices``. Without a registered scope an experiment filter matches no customer.
"""

from __future__ import annotations

from typing import Protocol

from django.db.models import QuerySet

from customers.models import Customer
from insights.filters import MetricFilter

_CHUNK = 5000


class CustomerScope(Protocol):
    def customers(self, experiment: str, variant: str | None) -> QuerySet:
        """The counted visitors (no bots, no visitor seen in two variants) of the experiment's variant
        (None: of every variant): a flat ``values_list`` of customer pks, usable as a subquery."""
        ...

    def choices(self) -> list[tuple[str, list[str]]]:
        """Every experiment's name with its variants' names, for the filter bar."""
        ...


_scopes: list[CustomerScope] = []


def register_customer_scope(scope: CustomerScope) -> None:
    _scopes[:] = [scope]


def scope_customer_pks(f: MetricFilter) -> list[int] | None:
    """The customers the filter's experiment (and variant) scope to; None without an experiment filter."""
    if f.experiment is None:
        return None
    return sorted(_scopes[0].customers(f.experiment, f.variant)) if _scopes else []


def scope_customer_query(f: MetricFilter) -> QuerySet | list[int] | None:
    """As ``scope_customer_pks``, as a subquery (a filter on it joins rather than lists thousands of pks)."""
    if f.experiment is None:
        return None
    return _scopes[0].customers(f.experiment, f.variant) if _scopes else []


def scope_choices() -> list[tuple[str, list[str]]]:
    return _scopes[0].choices() if _scopes else []


def scoped_pks(f: MetricFilter, segment_pks: list[int] | None) -> list[int] | None:
    """A segment's customers cut to the experiment's (either may be None: no such filter)."""
    scope = scope_customer_pks(f)
    if scope is None:
        return segment_pks
    if segment_pks is not None:
        return sorted(set(scope) & set(segment_pks))  # the segment's are of the age group already
    if f.age_group and scope:
        found: set[int] = set()
        for i in range(0, len(scope), _CHUNK):
            found.update(Customer.objects.filter(pk__in=scope[i:i + _CHUNK], age_group=f.age_group)
                         .values_list("pk", flat=True))
        return sorted(found)
    return scope
