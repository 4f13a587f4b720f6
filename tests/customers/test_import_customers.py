"""import_customers FILE.csv: a store's customer export fills profiles in bulk (column names found
or mapped, progress, a rejects file), and an age that changes the group moves the history."""

from __future__ import annotations

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer
from events.services import events_ingest
from insights.models import EventHourly

pytestmark = pytest.mark.django_db

EXPORT = """Customer ID,First Name,Last Name,E-mail,Date of Birth,Sex,Town,Country
c-1,Ada,Lovelace,ada@example.com,1990-12-10,F,London,GB
c-2,Alan,Turing,not-an-email,1912-06-23,male,Wilmslow,GB
c-3,Grace,Hopper,grace@example.com,yesterday,female,New York,US
,No,Id,x@example.com,,,,
c-4,Edsger,Dijkstra,edsger@example.com,,m,Nuenen,NL
"""


def test_a_customer_export_fills_profiles_and_rejects_bad_rows_with_reasons(tmp_path, capsys):
    Customer.objects.create(external_id="c-4", city="Rotterdam")
    path = tmp_path / "customers.csv"
    path.write_text(EXPORT)
    rejects = tmp_path / "rejects.csv"
    call_command("import_customers", str(path), "--rejects", str(rejects))
    out = capsys.readouterr().out
    assert "read 5, created 1, updated 1, unchanged 0, rejected 3" in out
    ada = Customer.objects.get(external_id="c-1")
    assert (ada.name, ada.email, ada.gender, ada.city, ada.country, ada.age_group) == (
        "Ada Lovelace", "ada@example.com", "female", "London", "GB", "26-35")
    edsger = Customer.objects.get(external_id="c-4")
    assert (edsger.name, edsger.city, edsger.gender) == ("Edsger Dijkstra", "Nuenen", "male")
    assert not Customer.objects.filter(external_id__in=["c-2", "c-3"]).exists()  # rejected whole
    rows = list(csv.reader(rejects.open()))
    assert rows[0][0] == "row" and rows[0][-1] == "errors"
    reasons = {r[0]: json.loads(r[-1]) for r in rows[1:]}
    assert reasons == {"2": {"email": "not an email address"}, "3": {"birthday": "not an ISO date (YYYY-MM-DD)"},
                       "4": {"customer_id": "required"}}
    call_command("import_customers", str(path))  # again: nothing new
    assert "created 0, updated 0, unchanged 2, rejected 3" in capsys.readouterr().out


def test_columns_can_be_mapped_and_an_unusable_header_is_refused(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("ref,years,where\nx-9,67,Paris\n")
    with pytest.raises(CommandError, match="no customer id column"):
        call_command("import_customers", str(path))
    with pytest.raises(CommandError, match="not a profile field"):
        call_command("import_customers", str(path), "--map", "shoe_size=years")
    call_command("import_customers", str(path), "--map", "customer_id=ref,age=years,city=where")
    customer = Customer.objects.get(external_id="x-9")
    assert (customer.age, customer.age_group, customer.city) == (67, "66+", "Paris")


def test_an_imported_age_moves_the_customers_history_to_the_new_group(tmp_path):
    events_ingest(raw_events=[{"event_id": "e-1", "customer_id": "c-7", "action": "view", "product_id": "p",
                               "timestamp": "2024-01-01T10:00:00Z"}])
    assert set(EventHourly.objects.filter(events__gt=0).values_list("age_group", flat=True)) == {"unknown"}
    path = tmp_path / "c.csv"
    path.write_text("customer_id,age\nc-7,40\n")
    call_command("import_customers", str(path))
    assert set(EventHourly.objects.filter(events__gt=0).values_list("age_group", flat=True)) == {"36-45"}
