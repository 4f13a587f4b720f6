from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from tests.factories import CustomerFactory, EventFactory, ProductFactory


@pytest.mark.django_db
def test_second_event_with_same_event_id_is_refused_by_the_database():
    event = EventFactory(event_id="dup-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(event_id="dup-1", customer=event.customer, product=event.product)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "factory,field,value",
    [
        (EventFactory, "price", Decimal("-0.01")),
        (EventFactory, "quantity", 0),
        (ProductFactory, "price", Decimal("-1.00")),
        (CustomerFactory, "age", 121),
        (EventFactory, "action", "teleport"),
    ],
)
def test_database_refuses_invalid_values(factory, field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**{field: value})


@pytest.mark.django_db
def test_customer_age_group_is_derived_on_save():
    assert CustomerFactory(age=26).age_group == "26-35"
    assert CustomerFactory(age=None).age_group == "unknown"
    assert CustomerFactory(age=70).age_group == "66+"
