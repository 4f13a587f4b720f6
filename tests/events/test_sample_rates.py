"""The shipped sample exchange rates are marked as samples (database, admin), never mix with
published rates, and figures converted with them say so."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from accounts.roles import Role
from events.models import ExchangeRate
from events.services import events_ingest
from insights.filters import MetricFilter
from insights.selectors import kpis_stats, sample_rates_note

pytestmark = pytest.mark.django_db
MARCH_2024 = MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))


def _order_line(event_id: str, currency: str, day: str = "2024-03-04") -> dict:
    return {"event_id": event_id, "customer_id": "c1", "action": "purchase", "product_id": "p1",
            "product_price": "10.00", "quantity": 1, "order_id": event_id, "timestamp": f"{day}T12:00:00Z",
            "currency": currency}


def test_the_sample_is_marked_and_published_rates_replace_it_all(tmp_path):
    out = StringIO()
    call_command("import_rates", "--sample", stdout=out)
    assert "sample (generated, not published) rates" in out.getvalue()
    assert ExchangeRate.objects.exists() and not ExchangeRate.objects.filter(is_sample=False).exists()
    published = tmp_path / "eurofxref-hist.csv"
    published.write_text("Date,USD,CAD,\n2024-03-01,1.0826,1.4700,\n")
    call_command("import_rates", str(published), stdout=StringIO())
    assert set(ExchangeRate.objects.values_list("currency", "is_sample")) == {("USD", False), ("CAD", False)}
    # Once published rates are stored, the sample is not imported again (make run does it on every start).
    again = StringIO()
    call_command("import_rates", "--sample", stdout=again)
    assert "not imported" in again.getvalue() and ExchangeRate.objects.count() == 2


def test_admin_shows_which_rates_are_samples(client_for):
    call_command("import_rates", "--sample", stdout=StringIO())
    ExchangeRate.objects.filter(currency="GBP").update(is_sample=False)
    admin = client_for(Role.ADMIN)
    page = admin.get("/admin/events/exchangerate/?is_sample__exact=1&currency__exact=GBP")
    assert page.status_code == 200 and "0 exchange rates" in page.content.decode()
    listing = admin.get("/admin/events/exchangerate/?is_sample__exact=1&currency__exact=USD").content.decode()
    assert "is sample" in listing.lower() and 'alt="True"' in listing


def test_figures_converted_with_sample_rates_say_so():
    call_command("import_rates", "--sample", stdout=StringIO())
    assert events_ingest(raw_events=[_order_line("o-usd", "USD")]).accepted == 1
    assert sample_rates_note(MARCH_2024) is None  # nothing was converted
    assert events_ingest(raw_events=[_order_line("o-eur", "EUR")]).accepted == 1
    note = kpis_stats(MARCH_2024)["money_note"]
    assert note is not None and "sample exchange rates" in note and "import_rates" in note
    assert sample_rates_note(MetricFilter(start=dt.date(2024, 4, 1), end=dt.date(2024, 4, 30))) is None


def test_figures_converted_with_published_rates_say_nothing():
    ExchangeRate.objects.bulk_create([ExchangeRate(day=dt.date(2024, 3, 1), currency=c, per_eur=r)
                                      for c, r in (("USD", Decimal("1.08")), ("CAD", Decimal("1.47")))])
    assert events_ingest(raw_events=[_order_line("o-cad", "CAD")]).accepted == 1
    assert kpis_stats(MARCH_2024)["money_note"] is None


def test_the_overview_page_shows_the_note(client_for):
    call_command("import_rates", "--sample", stdout=StringIO())
    yesterday = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert events_ingest(raw_events=[_order_line("o-eur", "EUR", day=yesterday)]).accepted == 1
    page = client_for(Role.ADMIN).get("/").content.decode()
    assert 'id="sample-rates"' in page and "sample exchange rates" in page


def test_the_migration_marks_rates_that_are_the_shipped_samples():
    migration = importlib.import_module("events.migrations.0010_connection_id_spaces_and_kept_deliveries")
    ExchangeRate.objects.bulk_create([
        ExchangeRate(day=dt.date(2026, 11, 30), currency="USD", per_eur=Decimal("1.0065")),  # the excerpt's value
        ExchangeRate(day=dt.date(2026, 11, 27), currency="USD", per_eur=Decimal("1.1111")),  # not the excerpt's
    ])
    migration.mark_samples(apps, None)
    assert dict(ExchangeRate.objects.values_list("per_eur", "is_sample")) == {Decimal("1.0065"): True,
                                                                              Decimal("1.1111"): False}
