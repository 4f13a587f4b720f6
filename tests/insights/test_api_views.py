import pytest

from accounts.roles import Role
from tests.insights.store_fixture import DAY, build_store

pytestmark = pytest.mark.django_db
Q = f"?start={DAY}&end={DAY}"


@pytest.fixture
def store():
    return build_store()


def test_anonymous_gets_401(client):
    response = client.get("/api/v1/metrics/kpis")
    assert response.status_code == 401 and "error" in response.json()


def test_user_without_role_gets_403(make_user):
    from django.test import Client

    client = Client()
    client.force_login(make_user(None))
    assert client.get("/api/v1/metrics/kpis").status_code == 403


def test_kpis_shape_and_values(store, client_for):
    data = client_for(Role.VIEWER).get("/api/v1/metrics/kpis" + Q).json()
    for key in ("events", "customers", "sessions", "revenue", "orders", "aov", "cart_conversion_rate",
                "cart_abandonment_rate", "session_conversion_rate", "avg_clv"):
        assert key in data and key in data["previous"]
    assert (data["events"], data["orders"], data["aov"], data["cart_abandonment_rate"]) == (23, 3, 70.0, 0.4)


@pytest.mark.parametrize("panel", ["kpis", "funnel", "seasonality", "customers", "products", "carts", "insights",
                                   "timeseries", "choices"])
def test_every_panel_answers(store, client_for, panel):
    response = client_for(Role.VIEWER).get(f"/api/v1/metrics/{panel}{Q}&age_group=26-35")
    assert response.status_code == 200, response.content
    assert response.json() is not None


def test_bad_filter_is_400_with_reason(client_for):
    client = client_for(Role.VIEWER)
    response = client.get("/api/v1/metrics/kpis?start=yesterday")
    assert response.status_code == 400 and "start must be a date" in response.json()["error"]
    response = client.get("/api/v1/metrics/funnel?breakdown=planet")
    assert response.status_code == 400
    assert client.get("/api/v1/metrics/nothing").status_code == 404


def test_viewer_gets_masked_personal_data_analyst_does_not(store, client_for):
    viewer_client = client_for(Role.VIEWER)
    viewer = viewer_client.get("/api/v1/metrics/customers" + Q).json()["top_customers"][0]
    assert viewer["name"] == "A*** A***" and viewer["email"] == "a***@example.com"
    analyst = client_for(Role.ANALYST).get("/api/v1/metrics/customers" + Q).json()["top_customers"][0]
    assert analyst["name"] == "Alice Archer" and analyst["email"] == "alice@example.com"
    carts = viewer_client.get("/api/v1/metrics/carts" + Q).json()["recent_abandoned"][0]
    assert carts["customer_name"] == "B*** B***"
    pk = store["customers"]["A"].pk
    # DESIGN §5 round 2: a viewer sees no single customer, not even masked.
    refused = viewer_client.get(f"/api/v1/metrics/customers/{pk}")
    assert refused.status_code == 403 and "single customer" in refused.json()["error"]
    clear = client_for(Role.ADMIN).get(f"/api/v1/metrics/customers/{pk}").json()["profile"]
    assert clear["email"] == "alice@example.com" and clear["age"] == 30


def test_latest_events(store, client_for):
    rows = client_for(Role.VIEWER).get("/api/v1/metrics/latest?limit=3").json()
    assert [r["event_id"] for r in rows] == ["fx-023", "fx-022", "fx-021"]


# --- honest comparisons and freshness (issue 10) ----------------------------------------------------

def test_kpis_say_why_there_is_no_comparison(store, client_for):
    data = client_for(Role.VIEWER).get("/api/v1/metrics/kpis" + Q).json()
    assert data["previous"]["comparison"] == {"available": False, "reason": "data starts 2024-03-04",
                                              "data_starts": "2024-03-04"}


def test_api_says_nothing_when_nothing_waits(store, client_for):
    client = client_for(Role.VIEWER)
    response = client.get("/api/v1/metrics/kpis" + Q)
    assert response.json()["freshness"] == {"pending_events": 0, "pending_batches": 0, "derived_through": None,
                                            "lag_seconds": 0, "set_aside_windows": 0, "message": None}
    for path in ("/api/v1/metrics/kpis", "/api/v1/metrics/insights", "/api/v1/metrics/latest"):
        response = client.get(path + Q)
        assert "X-Pending-Events" not in response and "X-Derived-Through" not in response


def test_api_says_how_many_events_wait_to_be_derived(db, client_for):
    import datetime as dt

    from django.utils import timezone

    from insights.models import PendingWindow
    from tests.insights.store_fixture import LATE, MAIN, ingest, make_catalogue

    make_catalogue()
    ingest(MAIN)
    ingest([LATE])
    PendingWindow.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))  # behind
    oldest = PendingWindow.objects.order_by("id").first().created_at.isoformat()
    client = client_for(Role.VIEWER)
    kpis = client.get("/api/v1/metrics/kpis" + Q)
    fresh = kpis.json()["freshness"]
    assert (fresh["pending_events"], fresh["pending_batches"], fresh["derived_through"]) == (23, 2, oldest)
    assert "23 events being processed" in fresh["message"]
    assert kpis.json()["events"] == 23  # event counts are live; sessions wait for the worker
    for path in ("/api/v1/metrics/kpis", "/api/v1/metrics/funnel", "/api/v1/metrics/insights",
                 "/api/v1/metrics/latest"):
        response = client.get(path + Q)
        assert response["X-Pending-Events"] == "23" and response["X-Derived-Through"] == oldest, path
    assert isinstance(client.get("/api/v1/metrics/insights" + Q).json(), list)  # list answers keep their shape
    assert client.get("/api/v1/metrics/kpis?start=yesterday").status_code == 400
