"""A favicon on every page: no 404 (and no console error) for the icon a browser asks for."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.roles import Role


def _icon_href(html: str) -> str:
    found = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert found, "no <link rel=icon>"
    return found.group(1)


@pytest.mark.django_db
def test_pages_link_an_icon_that_is_served(client_for, settings):
    settings.DEMO_STORE_ENABLED = True  # its pages link the icon too (make run serves them)
    for client, path in ((Client(), "/accounts/login/"), (client_for(Role.VIEWER), "/"), (Client(), "/demo-store/")):
        href = _icon_href(client.get(path).content.decode())
        assert href == "/static/img/favicon.svg"
    assert finders.find("img/favicon.svg")
    response = Client().get("/static/img/favicon.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)


@pytest.mark.django_db
def test_favicon_ico_is_an_icon_served_signed_out_too():
    """Pages without the link (the admin's, a JSON answer opened in a tab) make browsers ask /favicon.ico."""
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert b"\x89PNG" in body  # holding one PNG image
