"""Traits a storefront sends about a person (Segment ``identify``, the tracker's ``identify``), read
into Customer fields. PURE: data in, data out.

name (or firstName/first_name + lastName/last_name), email (a valid address, else left out), age
(0–120) or birthday (ISO date → age today), gender (female/male/other, common spellings),
city and country (top level or under ``address``). Anything else is ignored; a value of the wrong
type is left out (the trait, not the call, fails)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

_GENDERS = {"female": "female", "f": "female", "woman": "female", "w": "female",
            "male": "male", "m": "male", "man": "male"}
_LIMITS = {"name": 200, "email": 254, "city": 100, "country": 100}


def _text(value: Any, limit: int) -> str | None:
    if type(value) is not str:
        return None
    value = " ".join(value.split())
    return value[:limit] if value and value.isprintable() else None


def _age(traits: dict[str, Any], today: date) -> int | None:
    age = traits.get("age")
    if type(age) is str and age.isdigit():
        age = int(age)
    if type(age) is int and 0 <= age <= 120:
        return age
    birthday = traits.get("birthday")
    if type(birthday) is str:
        try:
            born = date.fromisoformat(birthday[:10])
        except ValueError:
            return None
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return years if 0 <= years <= 120 else None
    return None


def _name(traits: dict[str, Any]) -> str | None:
    name = _text(traits.get("name"), _LIMITS["name"])
    if name:
        return name
    first = traits.get("firstName", traits.get("first_name"))
    last = traits.get("lastName", traits.get("last_name"))
    return _text(" ".join(p for p in (first, last) if type(p) is str), _LIMITS["name"])


def customer_fields_from_traits(traits: dict[str, Any], *, today: date) -> dict[str, Any]:
    """The Customer fields these traits set (only those given and valid)."""
    out: dict[str, Any] = {}
    name = _name(traits)
    if name:
        out["name"] = name
    email = _text(traits.get("email"), _LIMITS["email"])
    if email:
        try:
            validate_email(email)
            out["email"] = email
        except ValidationError:
            pass
    gender = traits.get("gender")
    if type(gender) is str and gender.strip():
        out["gender"] = _GENDERS.get(gender.strip().lower(), "other")
    address: dict[str, Any] = traits["address"] if type(traits.get("address")) is dict else {}
    for key in ("city", "country"):
        value = _text(traits.get(key, address.get(key)), _LIMITS[key])
        if value:
            out[key] = value
    if "age" in traits or "birthday" in traits:
        age = _age(traits, today)
        if age is not None:
            out["age"] = age
    return out
