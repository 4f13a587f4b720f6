"""Fitting on a database without orders (apart from test_services.py, whose tests share the imported
CDNOW sample)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from insights.clv.models import ClvFit
from insights.clv.services import NotEnoughData, clv_fit_create

pytestmark = pytest.mark.django_db


def test_too_few_customers_say_why_and_store_nothing():
    with pytest.raises(NotEnoughData, match="0 customers with an order"):
        clv_fit_create(until=dt.date(2024, 1, 1))
    with pytest.raises(CommandError, match="Not enough data to fit"):
        call_command("fit_clv", stdout=StringIO(), stderr=StringIO())
    assert not ClvFit.objects.exists()
