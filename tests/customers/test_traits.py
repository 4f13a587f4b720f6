"""customers_update_traits: profile traits from store connections (issue 13)."""

from __future__ import annotations

import pytest

from customers.models import Customer
from customers.services import customers_update_traits

pytestmark = pytest.mark.django_db


def test_traits_create_unknown_customers_and_update_known_ones():
    Customer.objects.create(external_id="1", name="Old", city="Paris", age=30)
    changed = customers_update_traits(traits={"1": {"name": "New Name", "gender": "F"},
                                              "2": {"email": "two@example.com", "country": "Canada"}})
    assert changed == 2
    one, two = Customer.objects.get(external_id="1"), Customer.objects.get(external_id="2")
    assert (one.name, one.city, one.gender, one.age, one.age_group) == ("New Name", "Paris", "female", 30, "26-35")
    assert (two.email, two.country, two.age_group) == ("two@example.com", "Canada", "unknown")


def test_unusable_values_are_left_out_and_never_blank_a_known_value():
    Customer.objects.create(external_id="1", email="kept@example.com", gender="male")
    changed = customers_update_traits(traits={"1": {"email": "not an email", "gender": "robot", "name": "  ",
                                                    "city": "x" * 300}})
    one = Customer.objects.get(external_id="1")
    assert changed == 1
    assert (one.email, one.gender, one.name, one.city) == ("kept@example.com", "male", "", "x" * 100)
    assert customers_update_traits(traits={"1": {"city": "x" * 300}}) == 0  # nothing changes: no write
