"""The one age-group rule (customers.age), shared by the Customer model and the simulator."""

import pytest

from customers import models
from customers.age import AGE_GROUPS, UNKNOWN, age_group_for
from customers.models import AgeGroup


@pytest.mark.parametrize(("age", "group"), [
    (None, "unknown"), (0, "unknown"), (17, "unknown"), (18, "18-25"), (25, "18-25"), (26, "26-35"),
    (35, "26-35"), (36, "36-45"), (45, "36-45"), (46, "46-55"), (55, "46-55"), (56, "56-65"), (65, "56-65"),
    (66, "66+"), (120, "66+"),
])
def test_age_groups_follow_design_section_4(age, group):
    assert age_group_for(age) == group


def test_the_model_choices_are_the_rules_groups():
    assert tuple(AgeGroup.values) == AGE_GROUPS and AgeGroup.UNKNOWN == UNKNOWN
    assert models.age_group_for is age_group_for  # still importable from customers.models


@pytest.mark.django_db
def test_a_saved_customer_gets_the_rules_group():
    customer = models.Customer.objects.create(external_id="c-1", age=40)
    assert customer.age_group == "36-45"
    assert models.Customer.objects.get(pk=customer.pk).age_group == "36-45"
