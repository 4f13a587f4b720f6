"""Ingest keys in Django admin: the new secret is shown once on a no-store page and never travels in a
cookie (the messages cookie is signed, not encrypted); revoking goes through the ingest_key_revoke service."""

import pytest

from accounts.roles import Role
from events.models import IngestKey
from events.services import ingest_key_authenticate, ingest_key_create

pytestmark = pytest.mark.django_db


def test_a_new_keys_secret_is_shown_once_and_never_in_a_cookie(client_for):
    admin = client_for(Role.ADMIN)
    response = admin.post("/admin/events/ingestkey/add/", {"name": "shop", "is_active": "on"})
    assert response.status_code == 200
    text = response.content.decode()
    key = IngestKey.objects.get(name="shop")
    secret = text.split('id="ingest-key-secret" readonly size="60" value="', 1)[1].split('"', 1)[0]
    assert secret.startswith(key.prefix) and ingest_key_authenticate(secret=secret) == key
    assert "no-store" in response["Cache-Control"]
    # Not in any cookie set by this answer, nor in the messages or session stored for later pages.
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert all(secret not in morsel.value for morsel in admin.cookies.values())
    from django.contrib.sessions.models import Session

    assert all(secret not in str(s.get_decoded()) for s in Session.objects.all())
    listing = admin.get("/admin/events/ingestkey/")
    assert secret not in listing.content.decode()


def test_the_revoke_action_and_the_active_box_revoke_through_the_service(client_for):
    admin = client_for(Role.ADMIN)
    first, first_secret = ingest_key_create(name="one")
    second, second_secret = ingest_key_create(name="two")
    response = admin.post("/admin/events/ingestkey/", {"action": "revoke", "_selected_action": [first.pk]})
    assert response.status_code == 302
    assert ingest_key_authenticate(secret=first_secret) is None
    assert ingest_key_authenticate(secret=second_secret) == second
    # Unticking "active" on the change form is a revocation too.
    response = admin.post(f"/admin/events/ingestkey/{second.pk}/change/", {"name": "two renamed"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.name == "two renamed" and not second.is_active
    assert ingest_key_authenticate(secret=second_secret) is None
