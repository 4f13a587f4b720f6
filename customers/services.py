from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from faker import Faker

from analytics_site.csv_batches import BatchStore, Rejected, csv_batches_import
from customers.csv_profiles import ProfileMapping
from customers.models import Customer, age_group_for
from customers.selectors import customer_owners_by_external_id, customer_pks_by_external_id
from customers.signals import customer_age_changing, customer_history_queued
from customers.traits import customer_fields_from_traits

_GENDERS = [Customer.Gender.FEMALE, Customer.Gender.MALE, Customer.Gender.OTHER]


def _age(rng: random.Random) -> int:
    """Adult shoppers, most of them 25–45 (a store's usual skew), a tail up to 80."""
    if rng.random() < 0.8:
        return max(18, min(80, round(rng.gauss(35, 8))))
    return rng.randint(46, 80)


def customer_profile(*, external_id: str, seed: int, now: datetime) -> dict:
    """A realistic fake profile, the same for the same (external_id, seed)."""
    key = f"{seed}:{external_id}"
    rng = random.Random(key)
    fake = Faker()
    fake.seed_instance(key)
    gender = rng.choices(_GENDERS, weights=[49, 49, 2])[0]
    if gender == Customer.Gender.FEMALE:
        first = fake.first_name_female()
    elif gender == Customer.Gender.MALE:
        first = fake.first_name_male()
    else:
        first = fake.first_name_nonbinary()
    last = fake.last_name()
    age = _age(rng)
    return {
        "external_id": external_id,
        "name": f"{first} {last}",
        "email": f"{first}.{last}{rng.randint(1, 999)}@example.com".lower().replace(" ", ""),
        "age": age,
        "age_group": age_group_for(age),
        "gender": gender,
        "city": fake.city(),
        "country": rng.choices(["United States", "United Kingdom", "Canada", "Germany", "Australia"],
                               weights=[55, 15, 12, 10, 8])[0],
        "signed_up_at": now - timedelta(days=rng.randint(1, 900), seconds=rng.randint(0, 86_399)),
    }


@transaction.atomic
def customer_seed(*, count: int, seed: int = 42, batch_size: int = 1000,
                  progress: Callable[[int], None] | None = None) -> int:
    """Ensure customers "1".."count" exist. Existing rows are left as they are. Returns how many
    were created."""
    now = timezone.now()
    wanted = [str(i) for i in range(1, count + 1)]
    existing = set(Customer.objects.filter(external_id__in=wanted).values_list("external_id", flat=True))
    created = 0
    batch: list[Customer] = []
    for external_id in wanted:
        if external_id not in existing:
            batch.append(Customer(**customer_profile(external_id=external_id, seed=seed, now=now)))
        if len(batch) >= batch_size:
            Customer.objects.bulk_create(batch, ignore_conflicts=True)
            created += len(batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        Customer.objects.bulk_create(batch, ignore_conflicts=True)
        created += len(batch)
        if progress:
            progress(len(batch))
    return created


def customers_resolve(*, external_ids: Iterable[str]) -> dict[str, int]:
    """The store's customer id → the pk its events belong to (its own, or the customer it was merged
    into by an identify or alias), creating the unknown customers (age unknown) in bulk, in id order
    (so concurrent writers lock rows alike). Used by ingest."""
    ids = set(external_ids)
    found = customer_owners_by_external_id(external_ids=ids)
    missing = sorted(ids - found.keys())
    if missing:
        now = timezone.now()
        Customer.objects.bulk_create([Customer(external_id=i, created_at=now) for i in missing],
                                     ignore_conflicts=True, batch_size=1000)
        found.update(customer_owners_by_external_id(external_ids=missing))
    return found


def customers_update_traits(*, traits: Mapping[str, Mapping[str, Any]]) -> int:
    """Set profile traits of customers named by the store's id (store connections: webhooks),
    creating the unknown ones; the same rules as a server's ``identify`` (``customer_traits_update``).
    Returns how many customers changed. A new age is settled here (``customer_history_settle``), so
    a caller inside a transaction of its own should not send ages (store connections send none)."""
    changed = _traits_update(traits)
    if any("age" in fields for fields in changed):
        customer_history_settle()
    return len(changed)


@transaction.atomic
def _traits_update(traits: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """The fields changed, one list a customer that changed."""
    wanted = {external_id: dict(t) for external_id, t in traits.items()}
    pks = customers_resolve(external_ids=wanted)
    changed = [customer_traits_update(customer_pk=pks[external_id], traits=t) for external_id, t in wanted.items() if t]
    return [fields for fields in changed if fields]


def customer_history_settle() -> None:
    """After a transaction that queued history moves (an age change, an identity link) commits: the
    ``customer_history_queued`` hook makes the small ones at once and hands the rest to the
    background. Entry points call it once their writes are committed."""
    customer_history_queued.send(sender=Customer)


def _browser_fields(customer: Customer, fields: dict[str, Any]) -> dict[str, Any]:
    """What a browser's traits may set: empty fields only, never the age (docs/trust.md)."""
    return {name: value for name, value in fields.items() if name != "age" and not getattr(customer, name)}


@transaction.atomic
def customer_traits_update(*, customer_pk: int, traits: dict[str, Any], trusted: bool = True) -> list[str]:
    """Fill a customer's profile from traits (``customers.traits``): name, email, gender, city,
    country at once; a new age through the ``customer_age_changing`` hook (insights queues the move of
    the customer's history to the new age group, see ``customer_history_settle``). Returns the
    fields changed. ``trusted=False`` (a browser's traits): only empty fields are filled and the age
    is left as it is."""
    fields = customer_fields_from_traits(traits, today=timezone.localdate())
    if not fields:
        return []
    customer = Customer.objects.select_for_update().get(pk=customer_pk)
    if not trusted:
        fields = _browser_fields(customer, fields)
    age = fields.pop("age", customer.age)
    changed = [name for name, value in fields.items() if getattr(customer, name) != value]
    if changed:
        Customer.objects.filter(pk=customer_pk).update(**{name: fields[name] for name in changed})
    if age != customer.age:
        changed.append("age")
        handled = any(result for _, result in customer_age_changing.send(sender=Customer, customer=customer, age=age))
        if not handled:
            Customer.objects.filter(pk=customer_pk).update(age=age, age_group=age_group_for(age))
    return changed


@dataclass
class ProfileImportTotals:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


def customers_import_csv(*, lines: Iterable[str], map_spec: str | None = None, rejects_path: str | None = None,
                         batch_size: int = 1000,
                         progress: Callable[[ProfileImportTotals], None] | None = None) -> ProfileImportTotals:
    """Import a store's customer export: each row's customer found or created by the store's id and
    their profile filled as an ``identify`` would (``customer_traits_update``; a new age moves their
    history to the new age group). ``batch_size`` rows a transaction; rejected rows (with their
    reasons as JSON) go to ``rejects_path``. Raises ``ProfileMappingError`` for an unusable header."""
    totals = ProfileImportTotals()

    def start(header: list[str]) -> BatchStore:
        mapping = ProfileMapping.build(header, map_spec=map_spec)
        return lambda rows, done: _import_settled(mapping, rows, done, totals)

    csv_batches_import(lines=lines, batch_size=batch_size, rejects_path=rejects_path, start=start,
                       after_batch=(lambda: progress(totals)) if progress is not None else None)
    return totals


def _import_settled(mapping: ProfileMapping, rows: list[dict[str, Any]], done: int,
                    totals: ProfileImportTotals) -> list[Rejected]:
    rejected = _import_profiles(mapping, rows, done, totals)
    customer_history_settle()  # the batch's age changes
    return rejected


@transaction.atomic
def _import_profiles(mapping: ProfileMapping, rows: list[dict[str, Any]], done: int,
                     totals: ProfileImportTotals) -> list[Rejected]:
    profiles: list[tuple[str, dict[str, Any]]] = []
    rejected: list[Rejected] = []
    for number, row in enumerate(rows, start=done + 1):
        profile = mapping.to_profile(row)
        if isinstance(profile, dict):
            rejected.append((number, row, profile))
        else:
            profiles.append(profile)
    ids = {customer_id for customer_id, _ in profiles}
    known = set(customer_pks_by_external_id(external_ids=ids))
    pks = customers_resolve(external_ids=ids)
    for customer_id, traits in profiles:
        changed = customer_traits_update(customer_pk=pks[customer_id], traits=traits)
        if customer_id not in known:
            totals.created += 1
            known.add(customer_id)
        elif changed:
            totals.updated += 1
        else:
            totals.unchanged += 1
    totals.read += len(rows)
    totals.rejected += len(rejected)
    return rejected
