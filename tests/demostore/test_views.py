"""The demo store's pages and its key (issue 12): public, from the shipped products, instrumented only
through /tracker.js with the public key ``manage.py demo_store_key`` (``make run``) creates."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.roles import Role
from demostore.selectors import demo_store_key
from events.models import IngestKey
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
PAGES = ("/demo-store/", "/demo-store/p/lamp-1/", "/demo-store/cart/", "/demo-store/checkout/", "/demo-store/login/")


@pytest.fixture
def enabled(settings):
    settings.DEMO_STORE_ENABLED = True  # make run sets it



def test_the_key_command_creates_one_public_key_and_extends_its_origins(capsys):
    call_command("demo_store_key", "--origin", "http://127.0.0.1:8000")
    call_command("demo_store_key", "--origin", "http://localhost:8000", "--origin", "http://127.0.0.1:8000")
    key = IngestKey.objects.get(name="demo-store")
    assert key.kind == IngestKey.Kind.PUBLIC and key.public_value == demo_store_key()
    assert key.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert "Created" in capsys.readouterr().out


def test_pages_are_public_and_load_only_the_tracker_with_the_public_key(client, enabled):
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    call_command("demo_store_key", "--origin", "http://testserver")
    key = demo_store_key()
    home = client.get("/demo-store/").content.decode()
    assert "Desk lamp" in home and f'<script src="/tracker.js" data-key="{key}" defer>' in home
    page = client.get("/demo-store/p/lamp-1/").content.decode()
    assert 'data-product-id="lamp-1"' in page and 'data-product-price="40.00"' in page
    for path in ("/demo-store/cart/", "/demo-store/checkout/", "/demo-store/login/"):
        assert client.get(path).status_code == 200
    assert client.get("/demo-store/p/nope/").status_code == 404


def test_without_a_key_the_store_says_how_to_make_one(client, enabled):
    assert "manage.py demo_store_key" in client.get("/demo-store/").content.decode()


def test_the_dashboard_header_links_to_the_demo_store(client_for, enabled):
    assert 'href="/demo-store/"' in client_for(Role.VIEWER).get("/").content.decode()


def test_without_the_setting_the_store_is_not_served_and_not_linked(client, client_for):
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    call_command("demo_store_key", "--origin", "http://testserver")
    assert [client.get(path).status_code for path in PAGES] == [404] * len(PAGES)
    assert "Desk lamp" not in client.get("/demo-store/").content.decode()
    assert 'href="/demo-store/"' not in client_for(Role.VIEWER).get("/").content.decode()


def test_make_run_turns_the_store_on():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "scripts" / "run.sh").read_text()
    assert 'export DEMO_STORE_ENABLED="${DEMO_STORE_ENABLED:-1}"' in script
