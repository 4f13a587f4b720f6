"""``identify`` and ``alias`` calls (docs/sending-events.md; people in docs/metrics.md): recorded, the
traits they carry fill the customer's profile, and the ids they link become one customer.

Each call is stored once (``IdentityLink``, by message id: a resend is a duplicate) with the
anonymous id (identify) or previous id (alias) the customer was seen under. Then, each in a
transaction of its own, the customer stored under that id (``anon:<anonymous id>``, or the previous
id) is linked to the identified customer through the ``identity_linked`` hook: later events under
the anonymous id are stored as the identified customer's at once (the linked row points at it:
``Customer.merged_into``, read by ingest), and the events stored before move in the background, in
bounded steps (insights keeps every rollup exact; a small history moves at once). Age changes the
traits queue are settled the same way (``customer_history_settle``).

A call from a public (browser) key (``trusted=False``, docs/trust.md) speaks for an anonymous
visitor: ``alias`` is refused; ``identify`` links the visitor's anonymous id to a user id, but an
anonymous id already linked to another customer stays with it (a browser never merges two known
customers), and its traits only fill empty profile fields and never set an age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from customers.models import Customer
from customers.selectors import customer_pks_by_external_id
from customers.services import customer_history_settle, customer_traits_update, customers_resolve
from events import wire
from events.models import IdentityLink
from events.signals import identity_linked
from events.wire.native import ANONYMOUS_PREFIX


@dataclass
class IdentityResult:
    recorded: list[int] = field(default_factory=list)  # indexes of the calls newly recorded
    duplicates: list[str] = field(default_factory=list)  # message ids already recorded
    rejected: list[dict[str, Any]] = field(default_factory=list)
    merges: list[tuple[int, int]] = field(default_factory=list)  # (source pk, target pk) to merge


def _when(call: wire.IdentityCall, latest: datetime) -> datetime | str:
    if call.timestamp is None:
        return datetime.now(UTC)
    value, reason = wire.parse_timestamp(call.timestamp, None, latest)
    if reason is not None or value is None:
        return reason or wire.Reason("not an ISO 8601 date-time", "invalid_timestamp")
    return value


def identities_record(*, calls: Sequence[wire.IdentityCall], trusted: bool = True,
                      source_pk: int | None = None) -> IdentityResult:
    """Record identify / alias calls (each once, with the source that sent them), apply identify
    traits to the customer, then link the customers they name (each link in its own transaction,
    after the records commit), and settle the history moves this queued. ``trusted=False``: the
    calls came with a public (browser) key."""
    result = _record(calls, trusted, source_pk)
    for merged_pk, target_pk in result.merges:
        identity_merge(source_pk=merged_pk, target_pk=target_pk, trusted=trusted)
    customer_history_settle()
    return result


@transaction.atomic
def identity_merge(*, source_pk: int, target_pk: int, trusted: bool = True) -> None:
    """Make customer ``source`` the customer ``target`` (the ``identity_linked`` hook does the work)."""
    if source_pk != target_pk:
        identity_linked.send(sender=IdentityLink, source_pk=source_pk, target_pk=target_pk, trusted=trusted)


def _browser_may_link(source: str, target_pk: int) -> bool:
    """A browser may link an anonymous id no one else has: not one already linked to another
    customer (that customer keeps it)."""
    owner = Customer.objects.filter(external_id=source).values_list("merged_into_id", flat=True).first()
    return owner is None or owner == target_pk


def _source_id(call: wire.IdentityCall) -> str | None:
    """The store id of the customer this call says is ``call.customer_id``, if any."""
    if call.kind == IdentityLink.Kind.IDENTIFY:
        source = ANONYMOUS_PREFIX + call.anonymous_id if call.anonymous_id else None
    elif Customer.objects.filter(external_id=call.previous_id).exists():
        source = call.previous_id
    else:
        source = ANONYMOUS_PREFIX + call.previous_id
    return source if source != call.customer_id else None


def _valid(calls: Sequence[wire.IdentityCall], trusted: bool, result: IdentityResult
           ) -> list[tuple[wire.IdentityCall, datetime]]:
    """The calls that may be recorded, with their time; the others go to ``result.rejected``."""
    latest = wire.latest_allowed()
    valid: list[tuple[wire.IdentityCall, datetime]] = []
    for call in calls:
        when = _when(call, latest)
        if not trusted and call.kind == IdentityLink.Kind.ALIAS:
            result.rejected.append({"index": call.index, "event_id": call.message_id,
                                    "errors": {"type": wire.ALIAS_REFUSED}})
        elif isinstance(when, str):
            result.rejected.append({"index": call.index, "event_id": call.message_id, "errors": {"timestamp": when}})
        else:
            valid.append((call, when))
    return valid


@transaction.atomic
def _record(calls: Sequence[wire.IdentityCall], trusted: bool, source_pk: int | None) -> IdentityResult:
    result = IdentityResult()
    valid = _valid(calls, trusted, result)
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
                                    traits=_json_safe(call.traits), timestamp=when, source_id=source_pk)
        if call.traits:
            customer_traits_update(customer_pk=customers[call.customer_id], traits=call.traits, trusted=trusted)
        result.recorded.append(call.index)
        source = _source_id(call)
        if source is not None and (trusted or _browser_may_link(source, customers[call.customer_id])):
            # Its row (made now if never seen: later events under it are linked too).
            customers_resolve(external_ids=[source])
            result.merges.append((customer_pks_by_external_id(external_ids=[source])[source],
                                  customers[call.customer_id]))
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
