"""The per-variant sums the readout reads (``VariantStats``) are kept in step incrementally: on seeded
random streams (exposures late and early, two variants, anonymous visitors who identify, orders,
refunds and cancels, in random batches), they equal both a recount of the exposure rows and a rebuild
from the exposures as sent (``rebuild_exposures``), to the cent (docs/experiments.md)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.core.management import call_command

from events.services import events_ingest_segment
from experiments.models import Experiment, Exposure, VariantStats
from experiments.selectors import experiment_readout, experiment_sums_recount
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
PEOPLE = 8


def _at(minute: int) -> str:
    return f"2026-11-01T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"


def _who(rng: random.Random, identified: set[int]) -> dict[str, str]:
    n = rng.randrange(PEOPLE)
    return {"userId": f"c-{n}"} if n in identified or rng.random() < 0.3 else {"anonymousId": f"anon-{n}"}


def _message(rng: random.Random, i: int, identified: set[int], orders: list[str]) -> dict:
    kind = rng.choices(["exposure", "order", "refund", "cancel", "identify"], [5, 4, 1, 1, 2])[0]
    base = {"messageId": f"m{i}", "timestamp": _at(rng.randrange(180)), **_who(rng, identified)}
    if kind == "identify":
        n = rng.randrange(PEOPLE)
        identified.add(n)
        return {**base, "type": "identify", "userId": f"c-{n}", "anonymousId": f"anon-{n}"}
    if kind == "exposure" or (kind in ("refund", "cancel") and not orders):
        props = {"experiment_name": rng.choice(["hero", "checkout"]), "variation_name": rng.choice("AAB")}
        return {**base, "type": "track", "event": "Experiment Viewed", "properties": props}
    if kind == "order":
        orders.append(f"o-{i}")
        price = rng.choice([10, 25.5, 40, 99.99])
        return {**base, "type": "track", "event": "Order Completed", "properties": {
            "order_id": f"o-{i}", "products": [{"product_id": "lamp", "price": price, "quantity": rng.randint(1, 2)}]}}
    order = rng.choice(orders)
    if kind == "refund":
        return {**base, "type": "track", "event": "Order Refunded",
                "properties": {"order_id": order, "total": rng.choice([5, 10])}}
    return {**base, "type": "track", "event": "Order Cancelled", "properties": {"order_id": order}}


def _stream(seed: int, n: int = 90) -> list[list[dict]]:
    rng = random.Random(seed)
    identified: set[int] = set()
    orders: list[str] = []
    messages = [_message(rng, i, identified, orders) for i in range(n)]
    batches, i = [], 0
    while i < len(messages):
        size = rng.randint(1, 12)
        batches.append(messages[i:i + size])
        i += size
    return batches


def _sums() -> dict:
    return {(s.experiment.name, s.variant, s.is_bot, s.conflicting):
            (s.visitors, s.conversions, s.sum_y, s.sum_yy, s.sum_x, s.sum_xx, s.sum_xy)
            for s in VariantStats.objects.select_related("experiment") if s.visitors}


def _recounts() -> dict:
    out = {}
    for e in Experiment.objects.all():
        for (v, b, c), (n, conv, *sums) in experiment_sums_recount(experiment=e).items():
            out[(e.name, v, b, c)] = (n, conv, *(Decimal(str(x)).quantize(Decimal("0.0001")) for x in sums))
    return out


def _rows() -> set:
    return set(Exposure.objects.values_list("experiment__name", "customer_id", "variant", "exposed_at", "is_bot",
                                            "conflicting", "converted", "orders", "revenue", "pre_revenue"))


def _quantized(sums: dict) -> dict:
    return {k: (n, c, *(Decimal(x).quantize(Decimal("0.0001")) for x in rest)) for k, (n, c, *rest) in sums.items()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_incremental_sums_equal_a_recount_and_a_rebuild_from_what_was_sent(seed):
    ProductFactory(external_id="lamp", price=40)
    for batch in _stream(seed):
        result = events_ingest_segment(messages=batch, broadcast=False)
        assert result.rejected == []
    incremental, rows = _sums(), _rows()
    assert incremental, "the stream exposed nobody"
    assert _quantized(incremental) == _recounts()
    call_command("rebuild_exposures", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = _rows()
    assert after == rows
    assert _quantized(_sums()) == _quantized(incremental)


def test_the_readout_reads_the_sums_and_they_follow_a_refund():
    ProductFactory(external_id="lamp", price=40)
    at = _at
    events_ingest_segment(messages=[
        {"type": "track", "event": "Experiment Viewed", "messageId": "m1", "userId": "c-1", "timestamp": at(1),
         "properties": {"experiment_name": "hero", "variation_name": "B"}},
        {"type": "track", "event": "Order Completed", "messageId": "m2", "userId": "c-1", "timestamp": at(2),
         "properties": {"order_id": "o-1", "products": [{"product_id": "lamp", "price": 40, "quantity": 1}]}},
    ], broadcast=False)
    stats = VariantStats.objects.get(variant="B")
    assert (stats.visitors, stats.conversions, stats.sum_y, stats.sum_yy) == (1, 1, Decimal("40.00"),
                                                                              Decimal("1600.0000"))
    events_ingest_segment(messages=[{"type": "track", "event": "Order Refunded", "messageId": "m3", "userId": "c-1",
                                     "timestamp": at(3), "properties": {"order_id": "o-1", "total": 15}}],
                          broadcast=False)
    stats.refresh_from_db()
    assert (stats.sum_y, stats.sum_yy) == (Decimal("25.00"), Decimal("625.0000"))
    assert experiment_readout(name="hero").variants[0].revenue_per_visitor == 25.0
