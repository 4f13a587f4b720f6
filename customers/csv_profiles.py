"""A store's customer export (CSV) → profile traits, row by row. PURE: no database. Used by
``manage.py import_customers``.

Columns are found by their usual names (compared without case, spaces, ``_`` or ``-``), or named
with ``--map dest=source,...``. Each row names the customer by the store's id and gives any of
the profile's traits; a value that cannot be read is that row's reason (the row is rejected whole,
so a half-read profile is never stored)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

FIELDS = ("customer_id", "name", "first_name", "last_name", "email", "age", "birthday", "gender", "city", "country")
_USUAL: dict[str, tuple[str, ...]] = {
    "customer_id": ("customerid", "id", "userid", "customer", "externalid", "customerno", "customernumber"),
    "name": ("name", "fullname", "customername"),
    "first_name": ("firstname", "givenname", "forename"),
    "last_name": ("lastname", "surname", "familyname"),
    "email": ("email", "emailaddress", "mail"),
    "age": ("age",),
    "birthday": ("birthday", "birthdate", "dateofbirth", "dob"),
    "gender": ("gender", "sex"),
    "city": ("city", "town"),
    "country": ("country", "countrycode"),
}
MAX_ID = 100


class ProfileMappingError(ValueError):
    """A --map that cannot work with this file (unknown field or column, no customer id column)."""


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


@dataclass(frozen=True)
class ProfileMapping:
    columns: dict[str, str]  # field → column

    @classmethod
    def build(cls, header: Sequence[str], *, map_spec: str | None = None) -> ProfileMapping:
        columns: dict[str, str] = {}
        by_norm = {_norm(h): h for h in header}
        for field, names in _USUAL.items():
            found = next((by_norm[n] for n in names if n in by_norm), None)
            if found is not None:
                columns[field] = found
        for part in (map_spec or "").split(","):
            if not part.strip():
                continue
            dest, _, source = (p.strip() for p in part.partition("="))
            if dest not in FIELDS:
                raise ProfileMappingError(f"--map: {dest!r} is not a profile field ({', '.join(FIELDS)})")
            if source not in header:
                raise ProfileMappingError(f"--map: no column {source!r} in the file")
            columns[dest] = source
        if "customer_id" not in columns:
            raise ProfileMappingError("no customer id column (name it customer_id, or --map customer_id=COLUMN)")
        return cls(columns)

    def to_profile(self, row: dict[str, Any]) -> tuple[str, dict[str, Any]] | dict[str, str]:
        """(store id, traits for ``customers.traits``) or ``{field: reason}``."""
        values = {f: (row.get(c) or "").strip() for f, c in self.columns.items()}
        errors: dict[str, str] = {}
        customer_id = values.pop("customer_id")
        if not customer_id:
            errors["customer_id"] = "required"
        elif len(customer_id) > MAX_ID or not customer_id.isprintable():
            errors["customer_id"] = f"at most {MAX_ID} printable characters"
        if values.get("email"):
            try:
                validate_email(values["email"])
            except ValidationError:
                errors["email"] = "not an email address"
        if values.get("age") and not (values["age"].isdigit() and int(values["age"]) <= 120):
            errors["age"] = "must be a whole number 0 … 120"
        if values.get("birthday"):
            try:
                date.fromisoformat(values["birthday"][:10])
            except ValueError:
                errors["birthday"] = "not an ISO date (YYYY-MM-DD)"
        if errors:
            return errors
        traits: dict[str, Any] = {k: v for k, v in values.items() if v}
        if "age" in traits:
            traits["age"] = int(traits["age"])
        return customer_id, traits
