"""Dashboard pages and CSV exports: the role matrix, filters in the URL, masking, empty states."""

import csv
import io

import pytest
from django.test import Client

from accounts.roles import Role
from tests.insights.pages_data import store_history

PAGES = ["/", "/funnel/", "/funnel/?breakdown=age_group", "/seasonality/?metric=revenue", "/customers/",
         "/products/", "/carts/", "/insights/", "/explorer/", "/cohorts/"]
ROLES = [Role.VIEWER, Role.ANALYST, Role.ADMIN]


@pytest.fixture
def history(db):
    return store_history()


def _text(response) -> str:
    return response.content.decode()


# --- role matrix: pages -------------------------------------------------------------------------

@pytest.mark.parametrize("path", [*PAGES, "/customers/{buyer}/"])
def test_anonymous_is_sent_to_login(client_for, history, path):
    response = client_for(None).get(path.format(**history))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", [*PAGES, "/customers/{buyer}/"])
def test_signed_in_user_without_role_is_refused(make_user, history, path):
    client = Client()
    client.force_login(make_user(None))
    assert client.get(path.format(**history)).status_code == 403


@pytest.mark.parametrize("role,path", [(role, path) for role in ROLES for path in PAGES]
                         + [(role, "/customers/{buyer}/") for role in (Role.ANALYST, Role.ADMIN)])
def test_every_role_sees_every_page(client_for, history, role, path):
    response = client_for(role).get(path.format(**history))
    assert response.status_code == 200
    text = _text(response)
    assert f'<span class="role role-{role.value}">' in text
    assert "Log out" in text
    if path != "/explorer/":
        assert 'class="chart"' in text or "insight" in text


def test_viewer_sees_masked_personal_data_and_no_exports(client_for, history):
    client = client_for(Role.VIEWER)
    for path in ("/customers/", "/carts/"):
        text = _text(client.get(path))
        assert "Alice Smith" not in text and "alice@example.com" not in text
        assert "Bob Jones" not in text and "bob@example.com" not in text
        assert "Export CSV" not in text
        assert "masked for your role" in text
    assert "A*** S***" in _text(client.get("/customers/")) or "a***@example.com" in _text(client.get("/customers/"))
    assert 'href="/admin/"' not in _text(client.get("/"))


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMIN])
def test_analyst_and_admin_see_personal_data_and_export_links(client_for, history, role):
    client = client_for(role)
    customers = _text(client.get("/customers/"))
    assert "Alice Smith" in customers and "alice@example.com" in customers
    assert 'href="/export/top_customers.csv?' in customers
    assert "Bob Jones" in _text(client.get("/carts/"))
    detail = _text(client.get(f"/customers/{history['buyer']}/"))
    assert "Alice Smith" in detail and "Canvas backpack" in detail


def test_admin_gets_admin_and_simulator_links_analyst_does_not(client_for, history):
    admin = _text(client_for(Role.ADMIN).get("/"))
    assert 'href="/admin/"' in admin and 'href="/admin/events/simulatorstate/"' in admin
    analyst = _text(client_for(Role.ANALYST).get("/"))
    assert 'href="/admin/"' not in analyst and "simulatorstate" not in analyst


def test_viewer_sees_no_single_customer(client_for, history):
    """DESIGN §5 round 2: no drill-down page, no link to one, no per-customer API for viewers."""
    import re

    viewer = client_for(Role.VIEWER)
    assert viewer.get(f"/customers/{history['buyer']}/").status_code == 403
    assert viewer.get(f"/api/v1/metrics/customers/{history['buyer']}").status_code == 403
    for path in ("/customers/", "/carts/", "/"):
        text = _text(viewer.get(path))
        assert not re.search(r'href="/customers/\d+/', text), path
    # Masked aggregates stay: the top customers and recovery lists, without links.
    assert "#1" in _text(viewer.get("/customers/")) and "#2" in _text(viewer.get("/carts/"))
    analyst = client_for(Role.ANALYST)
    assert f'href="/customers/{history["buyer"]}/' in _text(analyst.get("/customers/"))
    assert f'href="/customers/{history["abandoner"]}/' in _text(analyst.get("/carts/"))
    assert analyst.get(f"/api/v1/metrics/customers/{history['buyer']}").status_code == 200


def test_unknown_customer_is_404(client_for, history):
    assert client_for(Role.ANALYST).get("/customers/999999/").status_code == 404


# --- filters ------------------------------------------------------------------------------------

def test_filters_are_kept_in_the_url_and_links(client_for, history):
    text = _text(client_for(Role.VIEWER).get("/products/?start=2024-01-01&end=2024-01-31&category=bags&action=view"))
    assert 'value="2024-01-01"' in text and 'value="2024-01-31"' in text
    assert '<option value="bags" selected>' in text
    assert 'name="action" value="view" checked' in text
    # Navigation keeps the filter so a view can be shared and reloaded.
    assert 'href="/funnel/?start=2024-01-01&amp;end=2024-01-31&amp;action=view&amp;category=bags"' in text


def test_filters_change_what_the_page_shows(client_for, history):
    client = client_for(Role.ANALYST)
    everything = _text(client.get("/products/"))
    assert "Canvas backpack" in everything and "Cotton shirt" in everything
    bags = _text(client.get("/products/?category=bags"))
    assert "Canvas backpack" in bags and "Cotton shirt" not in bags
    old = _text(client.get("/products/?start=2020-01-01&end=2020-01-31"))
    assert "Canvas backpack" not in old


@pytest.mark.parametrize("query", ["start=yesterday", "start=2024-02-01&end=2024-01-01", "action=dance",
                                   "age_group=toddler", "segment=Whales"])
def test_bad_filters_give_a_friendly_message_not_an_error(client_for, history, query):
    response = client_for(Role.VIEWER).get(f"/?{query}")
    assert response.status_code == 200
    assert 'class="notice warning" role="alert"' in _text(response)
    assert "Showing the last 30 days instead." in _text(response)


def test_seasonality_metric_picker_and_funnel_breakdown(client_for, history):
    client = client_for(Role.VIEWER)
    text = _text(client.get("/seasonality/?metric=conversion"))
    assert '<option value="conversion" selected>' in text
    assert '"tickformat":".0%"' in text.replace(" ", "")
    assert client.get("/seasonality/?metric=nonsense").status_code == 200
    funnel = _text(client.get("/funnel/?breakdown=category"))
    assert 'id="chart-breakdown"' in funnel
    assert 'id="chart-breakdown"' not in _text(client.get("/funnel/"))


# --- exports ------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_export_role_matrix(client_for, history):
    from insights.views import EXPORTS

    assert client_for(None).get("/export/top_customers.csv").status_code == 302
    viewer = client_for(Role.VIEWER)
    for table in EXPORTS:
        assert viewer.get(f"/export/{table}.csv").status_code == 403, table
    for role in (Role.ANALYST, Role.ADMIN):
        client = client_for(role)
        for table in EXPORTS:
            response = client.get(f"/export/{table}.csv")
            assert response.status_code == 200, table
            assert response["Content-Type"].startswith("text/csv")
            assert response.streaming
            assert len(_csv(response)) >= 1


def test_export_applies_filters_and_shows_personal_data(client_for, history):
    client = client_for(Role.ANALYST)
    rows = _csv(client.get("/export/top_customers.csv"))
    assert rows[0][:3] == ["pk", "customer_id", "name"]
    assert any("Alice Smith" in r for r in rows[1:])
    viewed = _csv(client.get("/export/products_most_viewed.csv"))
    title = viewed[0].index("title")
    assert {r[title] for r in viewed[1:]} == {"Canvas backpack", "Cotton shirt"}
    bags = _csv(client.get("/export/products_most_viewed.csv?category=bags"))
    assert {r[title] for r in bags[1:]} == {"Canvas backpack"}
    assert client.get("/export/funnel.csv?start=nonsense").status_code == 400
    assert client.get("/export/no_such_table.csv").status_code == 404


# --- empty install ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_fresh_install_shows_helpful_empty_pages(client_for, db, path):
    response = client_for(Role.ADMIN).get(path)
    assert response.status_code == 200
    text = _text(response)
    if path == "/":
        assert "No events yet" in text
    elif path != "/explorer/":
        assert "No " in text


# --- freshness banner (issue 10) ----------------------------------------------------------------

FRESH_PAGES = ["/", "/funnel/", "/seasonality/", "/customers/", "/products/", "/carts/", "/insights/", "/explorer/",
               "/customers/{buyer}/"]


def test_pages_say_nothing_when_nothing_waits(client_for, history):
    client = client_for(Role.ANALYST)  # the drill-down is analysts' (viewers: 403)
    for path in FRESH_PAGES:
        text = _text(client.get(path.format(**history)))
        assert 'id="freshness"' in text and " hidden>" in text, path  # there for the socket to fill
        assert "being processed" not in text


def test_every_page_says_when_events_wait_to_be_derived(client_for, history):
    import datetime as dt

    from events.services import events_ingest
    from insights.models import PendingWindow

    events = [{"event_id": f"wait-{i}", "customer_id": "1", "action": "view", "product_id": "p1",
               "timestamp": "2026-01-05T10:00:00Z"} for i in range(3)]
    assert events_ingest(raw_events=events, broadcast=False).accepted == 3
    PendingWindow.objects.update(created_at=dt.datetime(2026, 1, 5, 14, 2, tzinfo=dt.UTC))
    client = client_for(Role.ANALYST)  # the drill-down is analysts' (viewers: 403)
    for path in FRESH_PAGES:
        text = _text(client.get(path.format(**history)))
        assert ("Sessions, carts and orders include events received up to 5 Jan 14:02 UTC; "
                "3 events being processed.") in text, path
        assert 'data-pending-events="3">' in text


def test_overview_cards_give_no_delta_the_history_cannot_support(client_for, history):
    import datetime as dt

    from django.utils import timezone

    text = _text(client_for(Role.VIEWER).get("/"))  # the last 30 days; the history is 3 hours old
    first = (timezone.now() - dt.timedelta(hours=3)).date()
    assert f'<span class="note">no comparison: data starts {first.day} {first:%b %Y}</span>' in text
    assert "vs prev. period" not in text and "▲" not in text and "▼" not in text
