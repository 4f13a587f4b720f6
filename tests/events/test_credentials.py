"""Where an ingest key arrives (events.credentials): pure header and query parsing."""

from __future__ import annotations

import base64

import pytest

from events.credentials import basic_user, bearer_secret, key_in_query


@pytest.mark.parametrize("header,secret", [
    ("Bearer ak_1", "ak_1"), ("bearer  ak_2 ", "ak_2"), ("Bearer ", None), ("Basic ak_3", None), ("", None),
])
def test_bearer(header, secret):
    assert bearer_secret(header) == secret


def basic(user_colon_password: bytes) -> str:
    return "Basic " + base64.b64encode(user_colon_password).decode()


@pytest.mark.parametrize("header,user", [
    (basic(b"ak_1:"), "ak_1"), (basic(b"ak_2:pw"), "ak_2"), (basic(b":pw"), None), ("Basic !!!", None),
    (basic(b"\xff:"), None), ("Bearer ak_1", None),
])
def test_basic(header, user):
    assert basic_user(header) == user


def test_keys_in_the_query_string_are_spotted_whatever_their_case():
    assert key_in_query("key=ak_1") and key_in_query("a=1&writeKey=x") and key_in_query("API_KEY")
    assert not key_in_query("") and not key_in_query("monkey=1&keys=2")
