"""manage.py create_ingest_key and import_events."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import Event, IngestKey
from events.services import ingest_key_authenticate


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_ingest_key_prints_a_working_secret_once_and_refuses_a_taken_name():
    output = run("create_ingest_key", "shop")
    secret = output.strip().splitlines()[-1]
    assert ingest_key_authenticate(secret=secret).name == "shop"
    assert secret not in IngestKey.objects.get(name="shop").secret_hash
    with pytest.raises(CommandError, match="already exists.*--rotate"):
        run("create_ingest_key", "shop")
    rotated = run("create_ingest_key", "shop", "--rotate", "--quiet").strip()
    assert ingest_key_authenticate(secret=rotated).name == "shop"
    assert ingest_key_authenticate(secret=secret) is None
    assert IngestKey.objects.count() == 1


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.mark.django_db
def test_import_native_columns_then_reimport_counts_once(tmp_path):
    path = write_csv(tmp_path / "events.csv",
                     ["event_id", "customer_id", "action", "product_id", "quantity", "product_price", "timestamp"],
                     [[f"i-{i}", "c-1", "add_to_cart", "p-1", "2", "4.50", "2024-01-01T10:00:00Z"] for i in range(7)])
    first = run("import_events", path, "--batch-size", "3")
    assert "read 7, stored 7, duplicates 0, rejected 0" in first
    event = Event.objects.get(event_id="i-3")
    assert (event.quantity, event.price, event.customer.external_id) == (2, Decimal("4.50"), "c-1")
    second = run("import_events", path)
    assert "read 7, stored 0, duplicates 7, rejected 0" in second
    assert Event.objects.count() == 7


@pytest.mark.django_db
def test_import_with_map_action_defaults_and_rejects_file(tmp_path):
    path = write_csv(tmp_path / "views.csv", ["who", "what", "when", "qty"], [
        ["u1", "Lamp", "2024-01-02 08:00:00", "1"],
        ["u2", "Lamp", "not a date", "1"],
        ["u3", "Mug", "2024-01-02 09:00:00", "-4"],
        ["u4", "Mug", "2024-01-02 10:00:00", "3"],
    ])
    rejects = tmp_path / "rejects.csv"
    output = run("import_events", path, "--map", "customer_id=who,product_title=what,timestamp=when,quantity=qty",
                 "--action", "view", "--default", "session_id=import,category=home", "--rejects", str(rejects))
    assert "read 4, stored 2, duplicates 0, rejected 2" in output
    stored = Event.objects.select_related("product").order_by("timestamp")
    assert [(e.customer.external_id, e.product.title, e.session_id, e.action) for e in stored] == [
        ("u1", "Lamp", "import", "view"), ("u4", "Mug", "import", "view")]
    assert stored[0].product.category == "home"
    with open(rejects, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["row"] for r in rows] == ["2", "3"]
    assert json.loads(rows[0]["errors"]) == {"timestamp": "not an ISO 8601 date-time"}
    assert json.loads(rows[1]["errors"]) == {"quantity": "must be an integer"}
    # ids are derived: a second import stores nothing new
    assert "stored 0, duplicates 2, rejected 2" in run("import_events", path, "--map",
        "customer_id=who,product_title=what,timestamp=when,quantity=qty", "--action", "view",
        "--default", "session_id=import,category=home")


@pytest.mark.django_db
def test_transactions_preset_makes_one_purchase_per_order_line(tmp_path):
    path = write_csv(tmp_path / "orders.csv", ["Customer ID", "InvoiceDate", "Quantity", "Amount", "InvoiceNo"], [
        ["17850", "12/01/2010 08:26", "6", "15.30", "536365"],
        ["17850", "12/01/2010 08:28", "2", "7.00", "536366"],
        ["13047", "12/02/2010 09:00", "1", "3.99", "536367"],
    ])
    output = run("import_events", path, "--preset", "transactions", "--date-format", "%m/%d/%Y %H:%M")
    assert "read 3, stored 3" in output
    line = Event.objects.select_related("customer", "product").get(order_id="536365")
    assert (line.action, line.quantity, line.price) == ("purchase", 6, Decimal("2.55"))
    assert line.customer.external_id == "17850"
    assert line.timestamp.isoformat() == "2010-12-01T08:26:00+00:00"
    assert line.product.title == "Unspecified product"
    assert "stored 0, duplicates 3" in run("import_events", path, "--preset", "transactions",
                                          "--date-format", "%m/%d/%Y %H:%M")


@pytest.mark.django_db
def test_import_refuses_an_unusable_mapping(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["a", "b"], [["1", "2"]])
    with pytest.raises(CommandError, match="no column or constant for customer_id, action, timestamp"):
        run("import_events", path)
    with pytest.raises(CommandError, match="not a field"):
        run("import_events", path, "--map", "colour=a")
    with pytest.raises(CommandError, match="no column 'zzz'"):
        run("import_events", path, "--map", "customer_id=zzz")
