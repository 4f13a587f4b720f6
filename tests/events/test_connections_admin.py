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


def test_create_connection_command_then_rotate(capsys, monkeypatch):
    monkeypatch.setenv("SHOP_SECRET", SECRET)
    call_command("create_connection", "shopify", "my-shop", "--secret-env", "SHOP_SECRET")
    connection = StoreConnection.objects.get(slug="my-shop")
    assert connection.platform == "shopify" and signs(connection, SECRET)
    assert connection.shares_store_ids  # the first connection
    assert "/webhooks/shopify/my-shop/" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_connection", "shopify", "my-shop", "--secret-env", "SHOP_SECRET")
    monkeypatch.setenv("SHOP_SECRET", "other")
    call_command("create_connection", "shopify", "my-shop", "--secret-env", "SHOP_SECRET", "--rotate")
    connection.refresh_from_db()
    assert signs(connection, "other") and not signs(connection, SECRET)


def test_create_connection_reads_the_secret_from_a_file_or_the_prompt_never_argv(tmp_path, monkeypatch, capsys):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    call_command("create_connection", "woocommerce", "woo", "--secret-file", str(secret_file))
    assert signs(StoreConnection.objects.get(slug="woo"), SECRET)
    # At a terminal, the secret is asked for (getpass: not echoed).
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed-secret")
    call_command("create_connection", "shopify", "shop", "--own-ids")
    shop = StoreConnection.objects.get(slug="shop")
    assert signs(shop, "typed-secret") and shop.id_prefix == "shop:"
    assert "ids prefixed 'shop:'" in capsys.readouterr().out
    # On the command line it is refused, before anything is made.
    with pytest.raises(CommandError, match="--secret is refused.*--secret-file.*--secret-env"):
        call_command("create_connection", "shopify", "argv-shop", "--secret", SECRET)
    assert not StoreConnection.objects.filter(slug="argv-shop").exists()


@pytest.mark.parametrize("args, message", [
    (["woocommerce", "bad slug!", "--secret-env", "S"], "not a valid slug"),
    (["woocommerce", "x" * 41, "--secret-env", "S"], "at most 40"),
    (["woocommerce", "ok", "--secret-env", "BLANK"], "must not be empty"),
    (["woocommerce", "ok", "--secret-env", "UNSET_VARIABLE"], "is not set"),
    (["woocommerce", "anon", "--secret-env", "S"], "reserved"),
    (["woocommerce", "ok", "--secret-file", "/nonexistent/secret"], "cannot read the secret file"),
])
def test_create_connection_refuses_bad_input(args, message, monkeypatch):
    monkeypatch.setenv("S", "s3cret")
    monkeypatch.setenv("BLANK", "  ")
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    with pytest.raises(CommandError, match=message):
        call_command("create_connection", *args)
    assert not StoreConnection.objects.exists()


def test_without_a_terminal_the_command_asks_for_a_file_or_a_variable(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="no terminal"):
        call_command("create_connection", "shopify", "shop")


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


def test_admin_needs_a_secret_for_a_new_connection_and_refuses_a_reserved_slug(client_for):
    admin = client_for(Role.ADMIN)
    response = admin.post("/admin/events/storeconnection/add/", {"platform": "shopify", "slug": "s", "secret": ""})
    assert response.status_code == 200 and not StoreConnection.objects.exists()
    response = admin.post("/admin/events/storeconnection/add/",
                          {"platform": "shopify", "slug": "guest", "secret": SECRET})
    assert response.status_code == 200 and "is reserved" in response.content.decode()
    assert not StoreConnection.objects.exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.VIEWER])
def test_other_roles_cannot_see_connections(client_for, role):
    response = client_for(role).get("/admin/events/storeconnection/")
    assert response.status_code in (302, 403)


def test_admin_adds_connections_with_their_id_spaces(client_for):
    admin = client_for(Role.ADMIN)
    for slug, own_ids in (("first", False), ("second", False), ("third", True)):
        data = {"platform": "woocommerce", "slug": slug, "secret": SECRET, "is_active": "on"}
        if own_ids:
            data["own_ids"] = "on"
        assert admin.post("/admin/events/storeconnection/add/", data).status_code == 302
    assert dict(StoreConnection.objects.values_list("slug", "id_prefix")) == {
        "first": "", "second": "second:", "third": "third:"}
    page = admin.get("/admin/events/storeconnection/").content.decode()
    assert "the store&#x27;s own" in page and "prefixed &#x27;second:&#x27;" in page
