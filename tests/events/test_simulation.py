"""The simulator's write layer: backfill and live ticks through the real ingest service, the beat
schedule, admin controls, and the beat task run by a real Celery worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.roles import Role
from customers.models import Customer
from customers.services import customer_seed
from events.models import Event, SimulatorState
from events.simulation import (
    TICK_TASK,
    simulator_backfill,
    simulator_configure,
    simulator_reset_demo,
    simulator_schedule_ensure,
    simulator_state_get,
    simulator_tick,
)
from products.models import Product
from products.services import catalogue_read, product_load_catalogue
from tests.celery_worker import celery_worker


@pytest.fixture
def store(db):
    product_load_catalogue(items=catalogue_read())
    customer_seed(count=120, seed=1)


def test_backfill_stores_every_generated_event_none_in_the_future(store):
    result = simulator_backfill(days=4, customers=120, seed=3)
    assert result.events > 100
    assert result.rejected == 0 and result.duplicates == 0
    assert result.accepted == result.events == Event.objects.count()
    assert not Event.objects.filter(timestamp__gt=timezone.now()).exists()
    assert Event.objects.filter(timestamp__lt=result.start).count() == 0
    purchases = Event.objects.filter(action="purchase")
    assert purchases.exists() and not purchases.filter(order_id__isnull=True).exists()
    # Same seed, same window: the same events (same ids), stored once.
    again = simulator_backfill(days=4, customers=120, seed=3, end=result.end)
    assert again.accepted == 0 and again.duplicates == result.events
    assert Event.objects.count() == result.events


def test_backfill_seeds_missing_customers_and_products(db):
    assert not Product.objects.exists()
    result = simulator_backfill(days=1, customers=60, seed=2, events=300)
    assert result.customers_seeded == 60 and result.products_created == 48
    assert Customer.objects.count() == 60
    assert 250 <= result.events <= 300 and result.rejected == 0
    assert set(Event.objects.values_list("customer__external_id", flat=True)) <= {str(i) for i in range(1, 61)}


def test_live_ticks_unfold_sessions_and_never_store_the_future(store):
    simulator_configure(rate=1.0, customers=120)
    start = timezone.now() - timedelta(minutes=10)
    sent = 0
    for step in range(0, 600, 5):  # ten minutes of beat ticks, replayed up to now
        sent += simulator_tick(now=start + timedelta(seconds=step), target="").sent
    last = start + timedelta(seconds=595)
    assert 0.6 * 600 <= sent <= 1.4 * 600  # about the rate (1 event/s)
    assert Customer.objects.count() == 1000  # population raised to 1000 × rate
    assert Event.objects.count() == sent
    assert not Event.objects.filter(timestamp__gt=last).exists()
    state = simulator_state_get()
    assert state.events_sent == sent and state.last_error == ""
    assert state.state["pending"]  # later events of sessions in progress wait for their time
    assert all(ms > last.timestamp() * 1000 for ms, _event in state.state["pending"])


def test_a_live_state_saved_before_the_rename_keeps_running(store):
    """A running demo's state, stored with the old `carry`/`busy` keys, survives the upgrade."""
    simulator_configure(rate=2.0, customers=120)
    start = timezone.now() - timedelta(minutes=2)
    for step in range(0, 60, 5):
        simulator_tick(now=start + timedelta(seconds=step), target="")
    state = dict(simulator_state_get().state)
    state["carry"], state["busy"] = state.pop("session_remainder"), state.pop("busy_until")  # as stored before
    SimulatorState.objects.filter(pk=1).update(state=state)
    assert state["busy"]
    stored = Event.objects.count()
    now = start + timedelta(seconds=60)
    result = simulator_tick(now=now, target="")
    saved = simulator_state_get().state
    assert saved["tick"] == state["tick"] + 1 and "carry" not in saved and "busy" not in saved
    still_busy = {cid for cid, until in state["busy"].items() if until > now.timestamp() * 1000}
    assert still_busy and still_busy <= set(saved["busy_until"])  # mid-session shoppers stay mid-session
    assert result.rejected == 0 and Event.objects.count() == stored + result.sent


def test_paused_simulator_sends_nothing(store):
    simulator_configure(enabled=False, rate=50.0, customers=120)
    result = simulator_tick(target="")
    assert result.skipped == "paused" and result.sent == 0
    assert not Event.objects.exists()


def test_failed_send_keeps_the_events_for_the_next_tick(store):
    simulator_configure(rate=2.0, customers=120)
    now = timezone.now() - timedelta(seconds=30)
    failed = simulator_tick(now=now, target="http://127.0.0.1:9", key="nope")  # nothing listens there
    assert failed.sent == 0 and failed.skipped.startswith("send failed")
    assert simulator_state_get().last_error
    assert not Event.objects.exists()
    requeued = {event["event_id"] for ms, event in simulator_state_get().state["pending"] if ms == 0}
    assert requeued
    retried = simulator_tick(now=now + timedelta(seconds=5), target="")
    assert retried.sent >= len(requeued) and Event.objects.count() == retried.sent
    assert set(Event.objects.filter(event_id__in=requeued).values_list("event_id", flat=True)) == requeued
    assert simulator_state_get().last_error == ""


def test_schedule_is_created_once_and_keeps_admin_edits(db):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    task = simulator_schedule_ensure()
    assert task.task == TICK_TASK and task.interval.every == 5 and task.enabled
    task.interval = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    task.save()
    again = simulator_schedule_ensure()
    assert PeriodicTask.objects.filter(task=TICK_TASK).count() == 1
    assert again.pk == task.pk and again.interval.every == 30


def test_reset_demo_deletes_events_but_keeps_customers_and_products(store):
    simulator_backfill(days=2, customers=120, seed=4)
    simulator_configure(rate=0.1, customers=120)
    simulator_tick(target="")
    assert Event.objects.exists()
    from insights.rollup_store import DERIVED_MODELS

    assert any(model.objects.exists() for model in DERIVED_MODELS)
    deleted = simulator_reset_demo()
    assert deleted > 0 and not Event.objects.exists()
    assert not any(model.objects.exists() for model in DERIVED_MODELS)  # sessions, carts, rollups too
    assert Customer.objects.count() == 120 and Product.objects.count() == 48
    assert simulator_state_get().state == {}


def test_simulate_command_backfills_with_a_summary(store, capsys):
    call_command("simulate", "--days", "2", "--customers", "120", "--seed", "5")
    out = capsys.readouterr().out
    assert "0 rejected" in out and Event.objects.exists()
    call_command("simulate", "--days", "2", "--if-empty")
    assert "no backfill" in capsys.readouterr().out
    call_command("simulate", "--schedule")
    assert "every 5 seconds" in capsys.readouterr().out


def test_extend_back_fills_the_time_before_the_first_event_once(store, capsys):
    call_command("simulate", "--days", "2", "--customers", "120", "--seed", "5")
    first = Event.objects.order_by("timestamp").values_list("timestamp", flat=True).first()
    before = Event.objects.count()
    call_command("simulate", "--extend-back", "--days", "6", "--customers", "120", "--seed", "5")
    assert "0 rejected" in capsys.readouterr().out
    earliest = Event.objects.order_by("timestamp").values_list("timestamp", flat=True).first()
    assert Event.objects.count() > before
    assert timezone.now() - timedelta(days=6) <= earliest < first - timedelta(days=3)
    assert Event.objects.filter(timestamp__gte=first).count() == before  # only the time before was filled
    call_command("simulate", "--extend-back", "--days", "6", "--customers", "120", "--seed", "5")
    assert "History covers 6 days already." in capsys.readouterr().out


def test_admin_pauses_changes_rate_and_resets(store, client_for):
    simulator_backfill(days=1, customers=120, seed=6)
    admin = client_for(Role.ADMIN)
    url = "/admin/events/simulatorstate/"
    assert admin.get(url).status_code == 200
    state = simulator_state_get()
    response = admin.post(url, {"action": "pause", "_selected_action": [state.pk]})
    assert response.status_code == 302 and not SimulatorState.objects.get().enabled
    change = admin.post(f"{url}{state.pk}/change/", {"enabled": "on", "rate": "7.5", "customers": "120", "seed": "42"})
    assert change.status_code == 302
    state.refresh_from_db()
    assert state.enabled and state.rate == 7.5
    admin.post(url, {"action": "reset_demo_data", "_selected_action": [state.pk]})
    assert not Event.objects.exists() and Customer.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_simulator_admin_is_for_admins_only(db, client_for, role):
    assert client_for(role).get("/admin/events/simulatorstate/").status_code in (302, 403)
    assert SimulatorState.objects.get_or_create(pk=1)[0].enabled


# --- the beat task in a real Celery worker ------------------------------------------------------

@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beat_task_run_by_a_real_celery_worker_stores_new_events():
    from events.tasks import simulate_tick_task

    product_load_catalogue(items=catalogue_read())
    customer_seed(count=60, seed=1)
    simulator_configure(rate=2.0, customers=60)  # live mode raises the population to 2000
    with celery_worker("sim-test", SIMULATOR_TARGET=None) as worker:
        simulate_tick_task.apply_async(queue=worker.queue)
        deadline = time.monotonic() + 90
        # The tick records what it sent after the events commit: wait for that record, not the events.
        while time.monotonic() < deadline and not SimulatorState.objects.filter(pk=1, events_sent__gt=0).exists():
            assert worker.process.poll() is None, worker.tail()
            time.sleep(0.5)
        assert Event.objects.exists(), "worker stored nothing:\n" + worker.tail()
        assert not Event.objects.filter(timestamp__gt=timezone.now()).exists()
        state = SimulatorState.objects.get(pk=1)
        assert state.events_sent == Event.objects.count() and state.last_tick_at is not None


@pytest.mark.django_db(transaction=True)
def test_tick_sends_through_the_servers_ingest_api(live_server):
    """The embedded default: the worker posts to SIMULATOR_TARGET + /api/v1/events with its key."""
    from events.services import ingest_key_create

    product_load_catalogue(items=catalogue_read())
    _key, secret = ingest_key_create(name="simulator")
    simulator_configure(rate=2.0, customers=60)
    now = timezone.now() - timedelta(seconds=20)
    refused = simulator_tick(now=now, target=live_server.url, key="ak_wrong")
    assert refused.sent == 0 and "401" in simulator_state_get().last_error
    result = simulator_tick(now=now + timedelta(seconds=5), target=live_server.url, key=secret)
    assert result.sent > 0 and result.rejected == 0 and result.accepted == result.sent
    assert Event.objects.count() == result.sent  # the refused slice was retried, once
    assert simulator_state_get().events_sent == result.sent
