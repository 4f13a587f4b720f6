"""Predictive audiences: members on a hand-computed fixture; analysts see lists and CSV with e-mails, viewers
counts only."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.roles import Role
from ml.audiences import members

# (customer pk, purchase probability, churn probability); tiers from predicted CLV.
SCORES = [(1, 0.81, 0.05), (2, 0.50, 0.50), (3, 0.49, 0.72), (4, None, 0.91), (5, 0.10, None), (6, 0.2, 0.499)]
TIERS = {2: "high", 3: "medium", 4: "high", 6: "high"}


def test_members_match_the_hand_computed_fixture():
    assert members(SCORES, TIERS) == {
        "likely-buyers": [1, 2],                 # 0.81 and 0.50 (at the threshold counts)
        "likely-churners": [2, 3, 4],            # 0.50, 0.72, 0.91; 6's 0.499 is below
        "high-value-slipping": [2, 4],           # churners in the high tier; 6 is high but not churning
    }


@pytest.fixture
def audience_run(db):
    from customers.models import Customer
    from ml.models import AudienceMember, CustomerPrediction, PredictionRun

    now = datetime(2025, 6, 1, tzinfo=UTC)
    run = PredictionRun.objects.create(cutoff=now, holdout_cutoff=now, targets={})
    customers = [Customer.objects.create(external_id=f"a{i}", name=f"Ann {i}", email=f"ann{i}@example.com")
                 for i in range(3)]
    for c, (p, ch) in zip(customers, [(0.9, 0.1), (0.7, 0.6), (0.1, 0.8)], strict=True):
        CustomerPrediction.objects.create(customer=c, run=run, purchase_probability=p, churn_probability=ch)
    for pk, purchase, churn in [(c.pk, p, ch) for c, (p, ch) in zip(customers, [(0.9, 0.1), (0.7, 0.6), (0.1, 0.8)],
                                                                       strict=True)]:
        for slug, pks in members([(pk, purchase, churn)], {}).items():
            AudienceMember.objects.bulk_create([AudienceMember(run=run, audience=slug, customer_id=p) for p in pks])
    return customers


def test_analyst_sees_the_list_and_csv_with_emails_viewer_counts_only(audience_run, client_for):
    analyst, viewer = client_for(Role.ANALYST), client_for(Role.VIEWER)
    index = viewer.get(reverse("ml:audiences")).content.decode()
    assert 'id="audience-likely-buyers"' in index and ">2<" in index  # two likely buyers
    page = analyst.get(reverse("ml:audience", args=["likely-buyers"])).content.decode()
    assert "ann0@example.com" in page and "ann1@example.com" in page and "ann2@example.com" not in page
    counts = viewer.get(reverse("ml:audience", args=["likely-buyers"])).content.decode()
    assert 'id="counts-only"' in counts and "@example.com" not in counts
    csv = analyst.get(reverse("ml:audience_csv", args=["likely-churners"])).content.decode().splitlines()
    assert csv[0] == "customer_id,name,email,purchase_probability,churn_probability"
    assert [line.split(",")[2] for line in csv[1:]] == ["ann1@example.com", "ann2@example.com"]
    assert viewer.get(reverse("ml:audience_csv", args=["likely-churners"])).status_code == 403
    assert analyst.get(reverse("ml:audience", args=["nope"])).status_code == 404


def test_customers_page_links_the_audiences_for_every_role(db, client_for):
    for role in (Role.VIEWER, Role.ANALYST):
        page = client_for(role).get("/customers/").content.decode()
        assert 'id="customers-audiences-link"' in page and f'href="{reverse("ml:audiences")}"' in page
