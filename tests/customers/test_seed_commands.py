from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from customers.models import Customer
from products.models import Product


def _snapshot(model, *fields):
    return sorted(model.objects.values_list(*fields))


@pytest.mark.django_db
def test_seed_customers_twice_leaves_the_same_rows():
    call_command("seed_customers", count=60, seed=7, stdout=StringIO())
    first = _snapshot(Customer, "external_id", "name", "email", "age", "city", "signed_up_at")
    call_command("seed_customers", count=60, seed=7, stdout=StringIO())
    assert _snapshot(Customer, "external_id", "name", "email", "age", "city", "signed_up_at") == first
    assert len(first) == 60


@pytest.mark.django_db
def test_seeded_customers_are_realistic():
    call_command("seed_customers", count=400, seed=1, stdout=StringIO())
    ages = list(Customer.objects.values_list("age", flat=True))
    assert min(ages) >= 18 and max(ages) <= 80
    core = sum(25 <= a <= 45 for a in ages) / len(ages)
    assert core > 0.5, f"only {core:.0%} aged 25–45"
    assert Customer.objects.exclude(email="").count() == 400
    assert Customer.objects.values("city").distinct().count() > 100


@pytest.mark.django_db
def test_seed_products_twice_leaves_the_same_rows():
    call_command("seed_products", stdout=StringIO())
    first = _snapshot(Product, "external_id", "title", "price", "category")
    out = StringIO()
    call_command("seed_products", stdout=out)
    assert _snapshot(Product, "external_id", "title", "price", "category") == first
    assert len(first) >= 40
    assert len({row[3] for row in first}) >= 6
    assert "0 products created" in out.getvalue()


@pytest.mark.django_db
def test_seed_products_fetch_falls_back_to_shipped_catalogue_when_offline():
    err = StringIO()
    call_command("seed_products", fetch="http://127.0.0.1:9/products", stdout=StringIO(), stderr=err)
    assert "using the shipped catalogue" in err.getvalue()
    assert Product.objects.count() >= 40


@pytest.mark.django_db
def test_create_demo_users_twice_keeps_users_and_passwords():
    out = StringIO()
    call_command("create_demo_users", stdout=out)
    assert out.getvalue().count("password=") == 3
    hashes = dict(User.objects.values_list("username", "password"))
    out2 = StringIO()
    call_command("create_demo_users", stdout=out2)
    assert "password=" not in out2.getvalue()
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert {u.username: u.role for u in User.objects.all()} == {"viewer": "viewer", "analyst": "analyst",
                                                                "admin": "admin"}
