"""``identify`` and ``alias`` calls (DESIGN §3 round 2): recorded, and the traits they carry fill the
customer's profile.

Each call is stored once (``IdentityLink``, by message id: a resend is a duplicate) with the
anonymous id (identify) or previous id (alias) the customer was seen under. Identity merging (moving
the anonymous id's events onto the customer, one session across the login) is not done yet: those
events stay on the ``anon:<id>`` customer; the links recorded here are what it will read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from customers.services import customer_traits_update, customers_resolve
from events import wire
from events.models import IdentityLink


@dataclass
class IdentityResult:
    recorded: list[int] = field(default_factory=list)  # indexes of the calls newly recorded
    duplicates: list[str] = field(default_factory=list)  # message ids already recorded
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _when(call: wire.IdentityCall, latest: datetime) -> datetime | str:
    if call.timestamp is None:
        return datetime.now(UTC)
    value, reason = wire.parse_timestamp(call.timestamp, None, latest)
    if reason is not None or value is None:
        return reason or wire.Reason("not an ISO 8601 date-time", "invalid_timestamp")
    return value


@transaction.atomic
def identities_record(*, calls: Sequence[wire.IdentityCall]) -> IdentityResult:
    """Record identify / alias calls (each once) and apply identify traits to the customer."""
    result = IdentityResult()
    latest = wire.latest_allowed()
    valid: list[tuple[wire.IdentityCall, datetime]] = []
    for call in calls:
        when = _when(call, latest)
        if isinstance(when, str):
            result.rejected.append({"index": call.index, "event_id": call.message_id, "errors": {"timestamp": when}})
        else:
            valid.append((call, when))
    if not valid:
        return result
    customers = customers_resolve(external_ids={c.customer_id for c, _ in valid})
    known = set(IdentityLink.objects.filter(message_id__in=[c.message_id for c, _ in valid])
                .values_list("message_id", flat=True))
    for call, when in valid:
        if call.message_id in known:
            result.duplicates.append(call.message_id)
            continue
        known.add(call.message_id)
        IdentityLink.objects.create(message_id=call.message_id, kind=call.kind, customer_id=customers[call.customer_id],
                                    anonymous_id=call.anonymous_id, previous_id=call.previous_id,
                                    traits=_json_safe(call.traits), timestamp=when)
        if call.traits:
            customer_traits_update(customer_pk=customers[call.customer_id], traits=call.traits)
        result.recorded.append(call.index)
    return result


def _json_safe(traits: dict[str, Any]) -> dict[str, Any]:
    """The traits kept as sent, but only short string / number / boolean values (no nesting, no
    megabytes): what is kept is a record, the profile fields are the customers service's."""
    out: dict[str, Any] = {}
    for key, value in list(traits.items())[:50]:
        if type(key) is str and len(key) <= 100 and key.isprintable():
            if type(value) is str and len(value) <= 500 and value.isprintable():
                out[key] = value
            elif type(value) in (int, float, bool) and value == value:
                out[key] = value
    return out
