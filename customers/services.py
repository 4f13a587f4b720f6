from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from faker import Faker

from customers.models import Customer, age_group_for
from customers.selectors import customer_pks_by_external_id

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
    """The store's customer id → our pk, creating the unknown customers (age unknown) in bulk, in
    id order (so concurrent writers lock rows alike). Used by ingest."""
    ids = set(external_ids)
    found = customer_pks_by_external_id(external_ids=ids)
    missing = sorted(ids - found.keys())
    if missing:
        now = timezone.now()
        Customer.objects.bulk_create([Customer(external_id=i, created_at=now) for i in missing],
                                     ignore_conflicts=True, batch_size=1000)
        found.update(customer_pks_by_external_id(external_ids=missing))
    return found


# --- Profile traits from store connections and identify calls (issue 13) -----------------------
_TRAIT_LIMITS = {"name": 200, "email": 254, "city": 100, "country": 100}
_GENDERS_BY_WORD = {"female": Customer.Gender.FEMALE, "f": Customer.Gender.FEMALE, "woman": Customer.Gender.FEMALE,
                    "male": Customer.Gender.MALE, "m": Customer.Gender.MALE, "man": Customer.Gender.MALE,
                    "other": Customer.Gender.OTHER, "non-binary": Customer.Gender.OTHER}


def _clean_traits(traits: Mapping[str, Any]) -> dict[str, str]:
    """The traits this service sets, cleaned: strings cut to their column, a valid e-mail only, a
    gender among the model's choices. Empty or unusable values are left out (they never blank a
    value already known)."""
    out: dict[str, str] = {}
    for key, limit in _TRAIT_LIMITS.items():
        value = traits.get(key)
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()[:limit]
    if "email" in out:
        try:
            validate_email(out["email"])
        except ValidationError:
            del out["email"]
    gender = traits.get("gender")
    if isinstance(gender, str) and gender.strip().lower() in _GENDERS_BY_WORD:
        out["gender"] = _GENDERS_BY_WORD[gender.strip().lower()]
    return out


@transaction.atomic
def customers_update_traits(*, traits: Mapping[str, Mapping[str, Any]]) -> int:
    """Set profile traits (name, email, gender, city, country) of customers named by the store's
    id, creating the unknown ones. Returns how many rows changed.

    Age is not set here: a change of age group moves the customer's history in the rollups, which
    is ``insights.upkeep.customer_age_group_change``'s work."""
    cleaned = {external_id: _clean_traits(t) for external_id, t in traits.items()}
    pks = customers_resolve(external_ids=cleaned)
    changed = 0
    rows = Customer.objects.filter(pk__in=[pks[i] for i, t in cleaned.items() if t]).only(*_TRAIT_FIELDS, "external_id")
    for row in rows:
        wanted = {k: v for k, v in cleaned[row.external_id].items() if getattr(row, k) != v}
        if wanted:
            Customer.objects.filter(pk=row.pk).update(**wanted)
            changed += 1
    return changed


_TRAIT_FIELDS = (*_TRAIT_LIMITS, "gender")
