"""Removing everything one source sent (a leaked key): its events and their effect on every rollup
go, the other sources' figures stay as they were, and incremental upkeep equals a rebuild of the
events left, also when the removal stops half-way and is run again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events.connections.models import DeliveryStatus
from events.connections.services import connection_create
from events.connections.signing import signature_of
from events.models import ConnectionOrder, Event, IdentityLink, IngestKey, Source, StoreConnection, WebhookDelivery
from events.services import events_ingest, ingest_key_create
from events.services.sources import source_of_import
from insights import source_removal
from insights.filters import MetricFilter
from insights.models import CustomerTotals
from insights.rebuild import analytics_rebuild
from insights.selectors import kpis_stats
from insights.services import analytics_process_pending
from insights.source_removal import source_remove
from tests.events.webhook_fixtures import body
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.test_services import BASE, batches_at, derived_and_events_clear, snapshot

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
WOO_SECRET = "woo-secret-7Yb!x"
BROWSER = {"HTTP_ORIGIN": SHOP, "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}


def native_post(secret: str, events: list[dict], **headers) -> dict:
    response = Client().post("/api/v1/events", data=json.dumps({"events": events}), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)
    return response.json()


def identify_post(secret: str, user_id: str, anonymous_id: str) -> int:
    call = {"writeKey": secret, "messageId": f"i-{anonymous_id}", "userId": user_id, "anonymousId": anonymous_id,
            "timestamp": "2024-01-01T12:20:00Z", "traits": {}}
    return Client().post("/v1/i", data=json.dumps(call).encode(), content_type="text/plain", **BROWSER).status_code


def woo_order_post() -> dict:
    raw = body("woocommerce_order_created")
    return Client().post("/webhooks/woocommerce/woo/", data=raw, content_type="application/json",
                         HTTP_X_WC_WEBHOOK_TOPIC="order.created", HTTP_X_WC_WEBHOOK_DELIVERY_ID="d-1",
                         HTTP_X_WC_WEBHOOK_SIGNATURE=signature_of(raw, WOO_SECRET)).json()


def ev(event_id: str, customer: str, hhmm: str, action: str, product: str | None = None, **more) -> dict:
    event = {"event_id": event_id, "action": action, "timestamp": f"2024-01-01T{hhmm}:00Z", **more}
    if customer.startswith("anon:"):
        event["anonymous_id"] = customer.removeprefix("anon:")
    else:
        event["customer_id"] = customer
    if product:
        event["product_id"] = product
    return event


SERVER = [
    ev("s-1", "12", "12:00", "view", "p1"), ev("s-2", "12", "12:01", "add_to_cart", "p1", price="30.00"),
    ev("s-3", "12", "12:05", "purchase", "p1", price="30.00", order_id="o-1", order={"discount": "5.00"}),
    ev("s-4", "13", "12:30", "view", "p2"), ev("s-5", "13", "12:31", "purchase", "p2", price="20.00", order_id="o-2"),
    ev("s-6", "13", "12:50", "refund", "p2", order_id="o-2", amount="5.00"),
]
PUBLIC = [
    ev("b-1", "anon:v1", "11:58", "page", context={"page_url": f"{SHOP}/?utm_source=news&utm_medium=email"}),
    ev("b-2", "anon:v1", "11:59", "view", "p1"),
    ev("b-3", "12", "12:03", "view", "p2"), ev("b-4", "12", "12:04", "add_to_cart", "p2", price="15.00"),
    ev("b-5", "13", "12:32", "view", "p1"),
    ev("b-6", "anon:v9", "14:00", "view", "p3"), ev("b-7", "anon:v9", "14:01", "purchase", "p3", price="9.00",
                                                     order_id="b-o1"),
]


@pytest.fixture
def store():
    """A secret key and a store connection have sent the store's real history; ``base`` is every
    figure then. A public key then sent browser events, some into the same customers' sessions,
    and an identify that merged a visitor into customer 12."""
    for pid, category in (("p1", "shoes"), ("p2", "hats"), ("p3", "bags")):
        ProductFactory(external_id=pid, category=category)
    CustomerFactory(external_id="12", name="Twelve", age=30)
    CustomerFactory(external_id="13", age=50)
    _, server = ingest_key_create(name="backend")
    public_key, public = ingest_key_create(name="storefront", public=True, origins=[SHOP])
    connection_create(platform="woocommerce", slug="woo", secret=WOO_SECRET)
    assert native_post(server, SERVER)["accepted"] == len(SERVER)
    assert woo_order_post()["accepted"] >= 1
    analytics_process_pending()
    base, base_kpis = snapshot(), kpis_stats(MetricFilter())
    assert native_post(public, PUBLIC, **BROWSER)["accepted"] == len(PUBLIC)
    assert identify_post(public, "12", "v1") == 200
    analytics_process_pending()
    assert kpis_stats(MetricFilter())["events"] == base_kpis["events"] + len(PUBLIC)
    return {"base": base, "kpis": base_kpis, "server": server, "public": public,
            "source": Source.objects.get(ingest_key=public_key)}


def assert_equals_rebuild() -> dict:
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    return incremental


def test_removing_a_public_key_takes_its_events_out_of_every_figure_and_leaves_the_others(store, monkeypatch,
                                                                                          capsys):
    monkeypatch.setattr(source_removal, "STEP_EVENTS", 3)  # several steps
    source = store["source"]
    others = set(Event.objects.exclude(source=source).values_list("pk", flat=True))
    assert IdentityLink.objects.filter(source=source).count() == 1
    assert Customer.objects.get(external_id="anon:v1").merged_into.external_id == "12"

    call_command("remove_source", str(source.pk), "--no-progress")

    assert "Removed 7 events in 3 steps" in capsys.readouterr().out
    assert set(Event.objects.values_list("pk", flat=True)) == others  # only the source's events went
    assert not IngestKey.objects.get(pk=source.ingest_key_id).is_active
    source.refresh_from_db()
    assert source.removed_at is not None
    assert not IdentityLink.objects.exists()
    # The visitors it alone made are gone; the store's customers stay, profile and all.
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"12", "13"} | set(
        Customer.objects.filter(events__source__connection__isnull=False).values_list("external_id", flat=True))
    assert Customer.objects.get(external_id="12").name == "Twelve"
    analytics_process_pending()
    assert kpis_stats(MetricFilter()) == store["kpis"]
    assert snapshot() == store["base"]  # as if the public key had never sent anything
    assert_equals_rebuild()
    # The key no longer sends.
    assert native_post(store["public"], [ev("b-9", "anon:v2", "15:00", "page")], **BROWSER).get("accepted", 0) == 0


def test_removing_a_leaked_secret_key_revives_the_order_it_cancelled_and_drops_its_refund(store):
    leaked_key, leaked = ingest_key_create(name="leaked")
    before, before_kpis = snapshot(), kpis_stats(MetricFilter())
    woo_order = Event.objects.filter(source__connection__isnull=False, action="purchase").first()
    forged = [ev("x-1", woo_order.customer.external_id, "13:00", "cancel", order_id=woo_order.order_id),
              ev("x-2", "13", "13:01", "refund", "p2", order_id="o-2", amount="15.00"),
              ev("x-3", "12", "12:06", "purchase", "p1", price="9999.00", quantity=3, order_id="o-1"),
              ev("x-4", "12", "12:02", "purchase", "p3", price="1.00", order_id="o-9", order={"discount": "1.00"})]
    assert native_post(leaked, forged)["accepted"] == 4
    analytics_process_pending()
    forged_kpis = kpis_stats(MetricFilter())
    assert forged_kpis["gross_revenue"] != before_kpis["gross_revenue"]
    assert forged_kpis["refunds"] != before_kpis["refunds"]

    result = source_remove(source_pk=Source.objects.get(ingest_key=leaked_key).pk)

    assert (result.events, result.customers_deleted) == (4, 0)
    analytics_process_pending()
    assert kpis_stats(MetricFilter()) == before_kpis
    assert snapshot() == before
    assert_equals_rebuild()


def test_removing_a_connection_deactivates_it_and_forgets_its_orders(store):
    connection = StoreConnection.objects.get(slug="woo")
    assert ConnectionOrder.objects.filter(connection=connection).exists()
    waiting = WebhookDelivery.objects.create(connection=connection, delivery_id="d-9", topic="order.created",
                                             status=DeliveryStatus.WAITING_RATE, currency="JPY", payload="{}")
    source_remove(source_pk=connection.source.pk)
    connection.refresh_from_db()
    assert not connection.is_active and not ConnectionOrder.objects.exists()
    waiting.refresh_from_db()  # never stored when the rate comes
    assert (waiting.status, waiting.payload) == (DeliveryStatus.REFUSED, "")
    assert not Event.objects.filter(source__connection=connection).exists()
    assert Event.objects.filter(source__ingest_key__name="backend").count() == len(SERVER)
    assert_equals_rebuild()


def test_a_removal_stopped_half_way_leaves_consistent_figures_and_finishes_when_run_again(store, monkeypatch):
    monkeypatch.setattr(source_removal, "STEP_EVENTS", 2)
    source = store["source"]

    class Stop(Exception):
        pass

    def stop_after_first(step):
        raise Stop

    with pytest.raises(Stop):
        source_remove(source_pk=source.pk, progress=stop_after_first)
    assert Event.objects.filter(source=source).count() == len(PUBLIC) - 2
    source.refresh_from_db()
    assert source.removed_at is None
    analytics_process_pending()
    assert_equals_rebuild()  # every step leaves the figures whole
    assert source_remove(source_pk=source.pk).events == len(PUBLIC) - 2
    analytics_process_pending()
    assert snapshot() == store["base"]


def test_a_customer_with_a_profile_stays_but_loses_the_per_customer_rows_of_events_it_no_longer_has():
    ProductFactory(external_id="p1", category="shoes")
    kept = CustomerFactory(external_id="77", email="seventy@example.com")
    wrong = source_of_import("wrong.csv")
    result = events_ingest(raw_events=[ev("w-1", "77", "10:00", "view", "p1"), ev("w-2", "78", "10:05", "view", "p1")],
                           source=wrong, broadcast=False)
    assert result.accepted == 2
    analytics_process_pending()
    assert CustomerTotals.objects.filter(customer_id=kept.pk).exists()
    removed = source_remove(source_pk=wrong.pk)
    assert (removed.events, removed.customers_deleted) == (2, 1)  # "78" had nothing but these events
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["77"]
    assert not CustomerTotals.objects.exists()
    assert assert_equals_rebuild()["customers_daily"] == {}


def test_removing_the_simulators_source_pauses_it():
    from events.services.sources import source_simulator
    from events.simulation import simulator_state_get

    ProductFactory(external_id="p1", category="shoes")
    assert simulator_state_get().enabled
    simulated = source_simulator()
    events_ingest(raw_events=[ev("m-1", "anon:z", "10:00", "view", "p1")], source=simulated, broadcast=False)
    result = source_remove(source_pk=simulated.pk)
    assert (result.events, result.customers_deleted) == (1, 1)  # the visitor had nothing else
    assert not simulator_state_get().enabled
    assert not Customer.objects.exists()


# --- property: a random stream from two sources, one removed at a random point ----------------------

ACTIONS = ["view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "purchase", "refund", "cancel"]
stream_event = st.fixed_dictionaries({
    "source": st.sampled_from(["a", "b"]),
    "customer": st.sampled_from(["q1", "q2", "q3"]),
    "minute": st.integers(min_value=0, max_value=180),
    "action": st.sampled_from(ACTIONS),
    "product": st.sampled_from(["qp1", "qp2"]),
    "order": st.sampled_from(["qo1", "qo2", None]),
    "discount": st.sampled_from([None, "2.00"]),
    "session": st.sampled_from(["", "", "qs"]),
})


def _wire(n: int, e: dict) -> dict:
    ts = (BASE + dt.timedelta(minutes=e["minute"])).isoformat()
    event = {"event_id": f"q-{n}", "customer_id": e["customer"], "action": e["action"], "timestamp": ts,
             "product_id": e["product"], "product_price": "10.00"}
    if e["session"]:
        event["session_id"] = e["session"]
    if e["action"] in ("refund", "cancel"):
        event["order_id"] = e["order"] or "qo1"
        if e["action"] == "cancel":
            del event["product_id"], event["product_price"]
    elif e["action"] == "purchase" and e["order"]:
        event["order_id"] = e["order"]
        if e["discount"]:
            event["order"] = {"discount": e["discount"]}
    return event


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(stream_event, min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=4),
       remove_after=st.integers(min_value=0, max_value=5), step=st.integers(min_value=1, max_value=7),
       process_after=st.lists(st.booleans(), min_size=6, max_size=6))
def test_random_removals_keep_incremental_equal_to_rebuild(stream, cuts, remove_after, step, process_after):
    derived_and_events_clear()
    Customer.objects.all().delete()
    Source.objects.all().delete()
    source_removal.STEP_EVENTS = step
    try:
        if not ProductFactory._meta.model.objects.filter(external_id="qp1").exists():
            ProductFactory(external_id="qp1", category="a")
            ProductFactory(external_id="qp2", category="b")
        for ext, age in (("q1", 20), ("q2", None), ("q3", 60)):
            CustomerFactory(external_id=ext, age=age)
        sources = {"a": source_of_import("a"), "b": source_of_import("b")}
        raw = [(e["source"], _wire(n, e)) for n, e in enumerate(stream)]
        batches = batches_at(raw, cuts)
        for n, batch in enumerate(batches):
            if n == remove_after:
                source_remove(source_pk=sources["a"].pk)
            for name in ("a", "b"):
                events = [w for s, w in batch if s == name]
                if events and not (name == "a" and n >= remove_after):
                    events_ingest(raw_events=events, source=sources[name], broadcast=False)
            if process_after[n % len(process_after)]:
                analytics_process_pending()
        if remove_after >= len(batches):
            source_remove(source_pk=sources["a"].pk)
        analytics_process_pending()
        assert not Event.objects.filter(source_id=sources["a"].pk).exists()
        incremental = snapshot()
        analytics_rebuild()
        assert snapshot() == incremental
    finally:
        source_removal.STEP_EVENTS = 1_000


# --- admin --------------------------------------------------------------------------------------------


def test_admin_lists_sources_with_counts_and_removes_one_after_confirmation(store, client_for,
                                                                             django_capture_on_commit_callbacks):
    from django.contrib.admin.models import LogEntry

    from accounts.roles import Role
    from insights.tasks import remove_source_task

    admin = client_for(Role.ADMIN)
    source = store["source"]
    listing = admin.get("/admin/events/source/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "storefront" in text and "backend" in text and "Store connection" in text
    assert f'<td class="field-event_count">{len(PUBLIC)}</td>' in text
    assert f'<td class="field-event_count">{len(SERVER)}</td>' in text
    assert 'value="remove_sources"' in text and "/admin/events/source/add/" not in text

    confirm = admin.post("/admin/events/source/", {"action": "remove_sources", "_selected_action": [source.pk]})
    assert confirm.status_code == 200
    assert f"Remove everything 1 source sent: {len(PUBLIC)} events?" in confirm.content.decode()
    assert IngestKey.objects.get(pk=source.ingest_key_id).is_active  # nothing happens before "yes"
    assert Event.objects.filter(source=source).count() == len(PUBLIC)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        done = admin.post("/admin/events/source/", {"action": "remove_sources", "post": "yes",
                                                    "_selected_action": [source.pk]}, follow=True)
    assert "in the background" in done.content.decode()
    assert len(queued) == 1  # the removal task, sent once the request's transaction commits
    assert not IngestKey.objects.get(pk=source.ingest_key_id).is_active  # stopped at once
    assert "removal asked for" in admin.get("/admin/events/source/").content.decode()
    assert LogEntry.objects.get(object_id=str(source.pk)).change_message.startswith("Removal")

    assert remove_source_task(source.pk) == len(PUBLIC)
    assert not Event.objects.filter(source=source).exists()
    assert "removed 20" in admin.get("/admin/events/source/").content.decode()
    analytics_process_pending()
    assert snapshot() == store["base"]


# --- PostgreSQL: a cancel in flight for an order whose line is removed ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_step_with_orders_waits_for_an_ingest_transaction_in_flight():
    """The ingest transaction of a cancel takes its order's stored lines out (one of them the line
    being removed) before it commits; the removal must see that cancel, or the line's money would be
    taken out twice."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises write transactions already (IMMEDIATE)")
    ProductFactory(external_id="p1", category="shoes")
    CustomerFactory(external_id="12", age=30)
    server = source_of_import("server")
    leaked = source_of_import("leaked")
    events_ingest(raw_events=[ev("s-1", "12", "12:00", "purchase", "p1", price="30.00", order_id="o-1",
                                 order={"discount": "5.00"})], source=server, broadcast=False)
    events_ingest(raw_events=[ev("x-1", "12", "12:01", "purchase", "p1", price="900.00", order_id="o-1")],
                  source=leaked, broadcast=False)
    analytics_process_pending()
    inserted, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def cancel_then_wait() -> None:
        try:
            with transaction.atomic():
                events_ingest(raw_events=[ev("s-2", "12", "12:30", "cancel", order_id="o-1")], source=server,
                              broadcast=False)
                inserted.set()
                with connection.cursor() as cur:  # commit once the removal waits for this transaction
                    for _ in range(600):
                        cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'relation'")
                        if cur.fetchone()[0]:
                            break
                        done.wait(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=cancel_then_wait)
    thread.start()
    try:
        assert inserted.wait(30)
        assert source_remove(source_pk=leaked.pk).events == 1
    finally:
        done.set()
        thread.join(30)
    assert not errors
    analytics_process_pending()
    after = assert_equals_rebuild()
    assert sum(v[2] for v in after["events_hourly"].values()) == 0  # the order is cancelled: no revenue at all
