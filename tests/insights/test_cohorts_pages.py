"""The cohorts page, a product's own page and their API answers (issue 14): open to viewers, aggregates only."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from tests.insights.retention_fixture import build_retention_store

pytestmark = pytest.mark.django_db

YEAR = "start=2024-01-01&end=2024-12-31"


@pytest.fixture
def store(db):
    return build_retention_store()


def test_viewer_sees_the_cohorts_page_with_aggregates_only(client_for, store):
    response = client_for(Role.VIEWER).get(f"/cohorts/?{YEAR}")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="chart-retention"' in text and "2024-01" in text and "2024-02" in text
    assert "75.0%" in text  # repeat purchase rate, 3 of 4 buyers
    assert "30 days" in text  # median time between orders
    for person in ("r1@example.com", "R1", "/customers/"):
        assert person not in text.split("<main", 1)[1]  # no single customer on the page


def test_nav_links_to_cohorts(client_for, store):
    text = client_for(Role.VIEWER).get("/").content.decode()
    assert 'href="/cohorts/' in text


def test_cohorts_api(client_for, store):
    answer = client_for(Role.VIEWER).get(f"/api/v1/metrics/cohorts?{YEAR}").json()
    assert [c["cohort"] for c in answer["cohorts"]] == ["2024-01", "2024-02"]
    assert answer["repeat_purchase_rate"]["rate"] == 0.75
    assert answer["time_between_orders"]["median_days"] == 30.0
    assert "freshness" in answer


def test_affinity_api_and_parameters(client_for, store):
    client = client_for(Role.VIEWER)
    answer = client.get(f"/api/v1/metrics/affinity?{YEAR}&min_orders=2").json()
    assert answer["orders"]["baskets"] == 9
    assert [(p["product_a"]["external_id"], p["product_b"]["external_id"]) for p in answer["orders"]["pairs"]] == [
        ("p1", "p3"), ("p1", "p2")]
    p2 = store["products"]["p2"].pk
    mine = client.get(f"/api/v1/metrics/affinity?{YEAR}&min_orders=1&product={p2}").json()
    assert {p["product_a"]["external_id"] for p in mine["orders"]["pairs"]} == {"p2"}
    assert client.get("/api/v1/metrics/affinity?min_orders=lots").status_code == 400


def test_products_page_and_a_products_own_page_show_pairs(client_for, store):
    client = client_for(Role.VIEWER)
    products = client.get(f"/products/?{YEAR}").content.decode()
    assert "<title>Products · Customer analytics</title>" in products
    assert products.count("<h2>Frequently bought together</h2>") == 1
    assert "{#" not in products  # no template comment shown as text
    p1 = store["products"]["p1"].pk
    own = client.get(f"/products/{p1}/?{YEAR}&min_orders=1")
    assert own.status_code == 200
    text = own.content.decode()
    assert "Frequently bought together" in text and "Charger" in text and "Case" in text
    assert 'id="product-figures"' in text and "$500.00" in text  # p1 in o1, o2, o3, o4, o7: 5 × $100
    assert client.get("/products/999999/").status_code == 404


def test_cohort_and_pair_exports_for_analysts_only(client_for, store):
    import csv
    import io

    assert client_for(Role.VIEWER).get(f"/export/cohort_retention.csv?{YEAR}").status_code == 403
    analyst = client_for(Role.ANALYST)
    page = analyst.get(f"/cohorts/?{YEAR}").content.decode()
    assert "/export/cohort_retention.csv?" in page
    body = b"".join(analyst.get(f"/export/cohort_retention.csv?{YEAR}").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["cohort"], r["n"], r["retention"]) for r in rows[:4]] == [
        ("2024-01", "0", "1.0"), ("2024-01", "1", "0.5"), ("2024-01", "2", "0.5"), ("2024-01", "3", "0.0")]
    pairs = b"".join(analyst.get(f"/export/product_pairs.csv?{YEAR}").streaming_content).decode()
    assert pairs.startswith("no rows") or "basket" in pairs.splitlines()[0]
