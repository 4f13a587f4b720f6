"""Store connections in admin (admin role only) and `manage.py create_connection`: the secret is
typed once, stored encrypted, never shown again."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.roles import Role
from events.connections.models import StoreConnection
from events.connections.services import connection_signature_valid
from events.connections.signing import signature_of

pytestmark = pytest.mark.django_db
SECRET = "whsec-Sup3r-s3cret-value"


def signs(connection: StoreConnection, secret: str) -> bool:
    return connection_signature_valid(connection=connection, body=b"{}", signature=signature_of(b"{}", secret))


def test_create_connection_command_then_rotate(capsys):
    call_command("create_connection", "shopify", "my-shop", "--secret", SECRET)
    connection = StoreConnection.objects.get(slug="my-shop")
    assert connection.platform == "shopify" and signs(connection, SECRET)
    assert "/webhooks/shopify/my-shop/" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_connection", "shopify", "my-shop", "--secret", "other")
    call_command("create_connection", "shopify", "my-shop", "--secret", "other", "--rotate")
    connection.refresh_from_db()
    assert signs(connection, "other") and not signs(connection, SECRET)


@pytest.mark.parametrize("args, message", [
    (["woocommerce", "bad slug!", "--secret", "s"], "not a valid slug"),
    (["woocommerce", "x" * 41, "--secret", "s"], "at most 40"),
    (["woocommerce", "ok", "--secret", "  "], "must not be empty"),
])
def test_create_connection_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_connection", *args)
    assert not StoreConnection.objects.exists()


def test_admin_adds_a_connection_and_never_shows_its_secret(client_for):
    admin = client_for(Role.ADMIN)
    response = admin.post("/admin/events/storeconnection/add/",
                          {"platform": "woocommerce", "slug": "woo", "secret": SECRET, "is_active": "on"})
    assert response.status_code == 302
    connection = StoreConnection.objects.get(slug="woo")
    assert signs(connection, SECRET)
    page = admin.get(f"/admin/events/storeconnection/{connection.pk}/change/").content.decode()
    assert SECRET not in page and connection.secret_encrypted not in page
    assert "/webhooks/woocommerce/woo/" in page
    # Saving without a new secret keeps it; with one, replaces it.
    admin.post(f"/admin/events/storeconnection/{connection.pk}/change/", {"secret": "", "is_active": "on"})
    assert signs(StoreConnection.objects.get(pk=connection.pk), SECRET)
    admin.post(f"/admin/events/storeconnection/{connection.pk}/change/", {"secret": "new-one", "is_active": "on"})
    assert signs(StoreConnection.objects.get(pk=connection.pk), "new-one")


def test_admin_needs_a_secret_for_a_new_connection(client_for):
    response = client_for(Role.ADMIN).post("/admin/events/storeconnection/add/",
                                           {"platform": "shopify", "slug": "s", "secret": ""})
    assert response.status_code == 200 and not StoreConnection.objects.exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.VIEWER])
def test_other_roles_cannot_see_connections(client_for, role):
    response = client_for(role).get("/admin/events/storeconnection/")
    assert response.status_code in (302, 403)
