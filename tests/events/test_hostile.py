"""Hostile input (issue 10): a corpus of bad events, each sent beside good ones, over the three entry
points (WebSocket through the project's router and consumer, text and binary frames; native HTTP;
Segment HTTP), plus attacks on whole messages.

For every entry point: every bad event gets a per-event reason, the good events beside it are
stored, the WebSocket connection stays open (a good event sent afterwards is acknowledged) and
nothing answers 500 or closes with 1011. What only a real server sees (frames over daphne's limit,
text frames that are not UTF-8, keys in the URL) is in test_hostile_live.py.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from analytics_site.routing import websocket_application
from events import consumers, wire
from events.models import Event

TS = "2024-01-01T12:00:00Z"
DEPTH_PARSEABLE = 300  # nested arrays inside a field: parsed, then refused for that event
DEPTH_BOMB = 5000  # beyond any JSON parser's recursion limit: the whole message is refused


@dataclass(frozen=True)
class Raw:
    """JSON text (or bytes) put into a message as is: numbers Python will not serialise, NaN,
    invalid UTF-8."""

    text: bytes


HUGE_INT = Raw(b"9" * 5000)  # json.loads raises for it by default (int digit limit)
INVALID_UTF8 = Raw(b'"a\xff\xfeb"')
NAN = Raw(b"NaN")
NEG_INFINITY = Raw(b"-Infinity")


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@dataclass(frozen=True)
class Case:
    name: str
    field: str | None  # None: the whole event
    value: Any
    expect: str | None  # a reason's words; None: the event is valid and stored
    segment_expect: str | None = "same"


STRING_FIELDS = {
    "event_id": wire.MAX_EVENT_ID, "customer_id": wire.MAX_CUSTOMER_ID, "session_id": wire.MAX_SESSION_ID,
    "order_id": wire.MAX_ORDER_ID, "product_id": wire.MAX_PRODUCT_ID, "product_title": wire.MAX_PRODUCT_TITLE,
    "product_image": wire.MAX_PRODUCT_IMAGE, "category": wire.MAX_CATEGORY, "description": None,
}


def string_cases() -> list[Case]:
    cases = []
    for field, limit in STRING_FIELDS.items():
        free_text = field == "description"  # keeps tabs, line breaks and other controls; not NUL
        other_control = None if free_text else "control character"
        cases += [
            Case(f"{field}: NUL", field, "a\x00b", "control character (U+0000 at position 1)"),
            Case(f"{field}: ESC", field, "a\x1bb", other_control),
            Case(f"{field}: TAB", field, "a\tb", other_control),
            Case(f"{field}: DEL", field, "a\x7fb", other_control),
            Case(f"{field}: C1 NEL", field, "a\x85b", other_control),
            Case(f"{field}: lone surrogate", field, "a\ud800b", "invalid Unicode (U+D800"),
            Case(f"{field}: low surrogate", field, "\udfff", "invalid Unicode"),
            Case(f"{field}: non-ASCII", field, "Caf\u00e9 \u2615 \u00a0", None),
            Case(f"{field}: object", field, {"a": "b"}, "must be a string"),
            Case(f"{field}: array", field, ["a"], "must be a string"),
            Case(f"{field}: nested arrays", field, nested(DEPTH_PARSEABLE), "must be a string"),
            Case(f"{field}: boolean", field, True, "must be a string"),
            Case(f"{field}: float", field, 1.5, "must be a string"),
            Case(f"{field}: 5000-digit integer", field, HUGE_INT, "must be a string"),
        ]
        if limit is not None:
            cases.append(Case(f"{field}: too long", field, "x" * (limit + 1), f"longer than {limit} characters"))
            cases.append(Case(f"{field}: at the limit", field, "x" * limit, None))
    return cases


NUMBER_CASES = [
    Case("quantity: numeric string", "quantity", "3", None),
    Case("quantity: padded numeric string", "quantity", " 4 ", None),
    Case("quantity: word", "quantity", "three", "must be an integer"),
    Case("quantity: superscript digit", "quantity", "\u00b2", "must be an integer"),
    Case("quantity: boolean", "quantity", True, "must be an integer"),
    Case("quantity: fraction", "quantity", 1.5, "must be an integer"),
    Case("quantity: zero", "quantity", 0, "must be >= 1"),
    Case("quantity: beyond integer column", "quantity", 2**31, "must be <= 2147483647"),
    Case("quantity: 1e308", "quantity", 1e308, "must be <= 2147483647"),
    Case("quantity: 5000-digit integer", "quantity", HUGE_INT, "must be <= 2147483647"),
    Case("quantity: 5000-digit string", "quantity", "9" * 5000, "must be <= 2147483647"),
    Case("quantity: NaN", "quantity", NAN, "must be an integer"),
    Case("quantity: array", "quantity", [1], "must be an integer"),
    Case("quantity: nested arrays", "quantity", nested(DEPTH_PARSEABLE), "must be an integer"),
    Case("price: numeric string", "product_price", "1.50", None),
    Case("price: word", "product_price", "cheap", "must be a number"),
    Case("price: boolean", "product_price", False, "must be a number"),
    Case("price: negative", "product_price", -0.01, "must be >= 0"),
    Case("price: 1e308", "product_price", 1e308, "must be <= 9999999999.99"),
    Case("price: -1e308", "product_price", -1e308, "must be >= 0"),
    Case("price: huge exponent string", "product_price", "1e999999999", "must be <= 9999999999.99"),
    Case("price: exponent beyond Decimal", "product_price", "1e99999999999999999999", "must be a number"),
    Case("price: 5000-digit integer", "product_price", HUGE_INT, "must be <= 9999999999.99"),
    Case("price: 5000-digit string", "product_price", "9" * 5000, "must be <= 9999999999.99"),
    Case("price: NaN", "product_price", NAN, "must be a finite number"),
    Case("price: -Infinity", "product_price", NEG_INFINITY, "must be a finite number"),
    Case("price: object", "product_price", {"amount": 1}, "must be a number"),
    Case("price: nested arrays", "product_price", nested(DEPTH_PARSEABLE), "must be a number"),
]

OTHER_CASES = [
    Case("timestamp: year 1 with an offset", "timestamp", "0001-01-01T00:00:00+01:00", "before 1970-01-01"),
    Case("timestamp: 1969", "timestamp", "1969-12-31T23:59:59Z", "before 1970-01-01"),
    Case("timestamp: year 9999 with an offset", "timestamp", "9999-12-31T23:59:59-01:00", "in the future"),
    Case("timestamp: NUL", "timestamp", "2024-01-01T00:00:00\x00", "not an ISO 8601"),
    Case("timestamp: very long", "timestamp", "2" * 10_000, "not an ISO 8601"),
    Case("timestamp: number", "timestamp", 1_700_000_000, "must be an ISO 8601 string"),
    Case("timestamp: 5000-digit integer", "timestamp", HUGE_INT, "must be an ISO 8601 string"),
    Case("timestamp: nested arrays", "timestamp", nested(DEPTH_PARSEABLE), "must be an ISO 8601 string"),
    Case("action: NUL", "action", "vi\x00ew", "unknown action", "not a mapped Ecommerce v2 event"),
    Case("action: array", "action", ["view"], "unknown action", "not a mapped Ecommerce v2 event: an array"),
    Case("action: very long", "action", "v" * 100_000, "unknown action", "larger than 32768 bytes"),
    Case("event: a string", None, "view", "must be a JSON object"),
    Case("event: null", None, None, "must be a JSON object"),
    Case("event: a 5000-digit integer", None, HUGE_INT, "must be a JSON object"),
    Case("event: nested arrays", None, nested(DEPTH_PARSEABLE), "must be a JSON object"),
]

CORPUS = string_cases() + NUMBER_CASES + OTHER_CASES
INVALID_UTF8_CASES = [Case(f"{field}: invalid UTF-8", field, INVALID_UTF8, "invalid Unicode (U+DCFF")
                      for field in STRING_FIELDS]


def good(n: int) -> dict:
    return {"event_id": f"good-{n}", "customer_id": "c-1", "session_id": "s-1", "action": "view",
            "product_id": "p-1", "product_title": "Lamp", "quantity": 1, "product_price": 10,
            "timestamp": TS, "description": "A lamp."}


def bad(n: int, case: Case) -> Any:
    if case.field is None:
        return case.value
    event = good(n) | {"event_id": f"case-{n}"}
    event[case.field] = case.value
    return event


SEGMENT_FIELDS = {"event_id": "messageId", "customer_id": "userId", "timestamp": "timestamp", "action": "event",
                  "session_id": "properties.session_id", "order_id": "properties.order_id",
                  "product_id": "properties.product_id", "product_title": "properties.name",
                  "product_image": "properties.image_url", "category": "properties.category",
                  "quantity": "properties.quantity", "product_price": "properties.price"}


def to_segment(event: Any) -> Any:
    """A native corpus event as a Segment ``track`` call (Product Viewed)."""
    if type(event) is not dict:
        return event
    message: dict[str, Any] = {"type": "track", "properties": {}}
    for field, value in event.items():
        target = SEGMENT_FIELDS.get(field)
        if target is None:
            continue
        if field == "action":
            value = "Product Viewed" if value == "view" else value
        if target.startswith("properties."):
            message["properties"][target.split(".", 1)[1]] = value
        else:
            message[target] = value
    return message


def segment_cases(cases: list[Case]) -> list[Case]:
    """The cases Segment's mapping carries (it has no description); its own words for actions."""
    return [case if case.segment_expect == "same" else Case(case.name, case.field, case.value, case.segment_expect)
            for case in cases if case.field != "description"]


def encode(value: Any) -> bytes:
    """JSON bytes with each Raw value spliced in as is."""
    raws: list[bytes] = []

    def default(obj: Any) -> str:
        if isinstance(obj, Raw):
            raws.append(obj.text)
            return f"@@raw{len(raws) - 1}@@"
        raise TypeError(type(obj))

    text = json.dumps(value, default=default).encode("utf-8", "surrogatepass")
    for n, raw in enumerate(raws):
        text = text.replace(f'"@@raw{n}@@"'.encode(), raw)
    return text


@dataclass
class Batch:
    """Good events with the cases' events between them: [good, case, good, case, …, good]."""

    cases: list[Case]
    events: list[Any]
    bad_index: dict[int, Case]
    valid_index: dict[int, Case]
    good_ids: list[str]

    @classmethod
    def of(cls, cases: list[Case], *, segment: bool = False) -> Batch:
        events: list[Any] = []
        bad_index: dict[int, Case] = {}
        valid_index: dict[int, Case] = {}
        good_ids: list[str] = []
        for n, case in enumerate(cases):
            events.append(good(n))
            good_ids.append(f"good-{n}")
            (bad_index if case.expect is not None else valid_index)[len(events)] = case
            events.append(bad(n, case))
        events.append(good(len(cases)))
        good_ids.append(f"good-{len(cases)}")
        if segment:
            events = [to_segment(e) for e in events]
        return cls(cases, events, bad_index, valid_index, good_ids)

    def check(self, ack: dict) -> None:
        assert ack["type"] == "ack", ack
        rejected = {r["index"]: r for r in ack["rejected"]}
        missing = {i: c.name for i, c in self.bad_index.items() if i not in rejected}
        assert not missing, f"accepted, should be rejected: {missing}"
        unexpected = {i: (self.valid_index[i].name if i in self.valid_index else "good", rejected[i]["errors"])
                      for i in rejected if i not in self.bad_index}
        assert not unexpected, f"rejected, should be stored: {unexpected}"
        wrong_reason = {}
        for index, case in self.bad_index.items():
            reasons = " | ".join(rejected[index]["errors"].values())
            if case.expect not in reasons:
                wrong_reason[case.name] = reasons
        assert not wrong_reason, f"reasons that do not say what was expected: {wrong_reason}"
        for case, entry in ((self.bad_index[i], rejected[i]) for i in self.bad_index):
            # The echoed event_id is the sent one when it was valid, else null (never hostile).
            if case.field is not None and case.field != "event_id":
                assert entry["event_id"] in (f"case-{self.cases.index(case)}", None)
            elif case.field == "event_id":
                assert entry["event_id"] is None
        assert ack["accepted"] == len(self.good_ids) + len(self.valid_index)
        stored = set(Event.objects.values_list("event_id", flat=True))
        assert set(self.good_ids) <= stored
        assert len(stored) == len(self.good_ids) + len(self.valid_index)


# --- entry points ----------------------------------------------------------------------------

@pytest.fixture
def one_group_at_a_time(monkeypatch):
    monkeypatch.setattr(consumers, "PARALLEL_GROUPS", 1)  # see test_consumers.py


def _ws_exchange(secret: str, frames: list[tuple[str, bytes]]) -> list[dict]:
    """Send frames (kind "text" or "binary") on one connection, then one good event; every reply,
    then the last one proves the connection is still open."""

    async def scenario():
        communicator = WebsocketCommunicator(websocket_application, "/ws/events/",
                                             headers=[(b"authorization", f"Bearer {secret}".encode())])
        connected, _ = await communicator.connect()
        assert connected
        for kind, data in frames:  # send_input: send_to refuses empty frames
            if kind == "text":
                await communicator.send_input({"type": "websocket.receive", "text": data.decode("utf-8")})
            else:
                await communicator.send_input({"type": "websocket.receive", "bytes": data})
        await communicator.send_to(text_data=json.dumps(good(10_000) | {"event_id": "still-open"}))
        replies = [json.loads(await communicator.receive_from(timeout=30)) for _ in range(len(frames) + 1)]
        assert await communicator.receive_nothing(timeout=0.1)  # no close frame either
        await communicator.disconnect()
        return replies

    replies = async_to_sync(scenario)()
    assert replies[-1] == {"type": "ack", "accepted": 1, "duplicates": [], "rejected": []}
    Event.objects.filter(event_id="still-open").delete()
    return replies[:-1]


def via_ws_text(secret: str, body: bytes) -> dict:
    return _ws_exchange(secret, [("text", body)])[0]


def via_ws_binary(secret: str, body: bytes) -> dict:
    return _ws_exchange(secret, [("binary", body)])[0]


def _post(path: str, body: bytes, auth: str):
    response = Client().post(path, data=body, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code != 500
    return response


def via_http(secret: str, body: bytes) -> dict:
    response = _post("/api/v1/events", body, f"Bearer {secret}")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def via_segment(secret: str, body: bytes) -> dict:
    auth = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
    response = _post("/v1/batch", body, auth)
    assert response.status_code == 200, response.content[:500]
    return response.json()


NATIVE_ENTRY_POINTS = {"websocket-text": via_ws_text, "websocket-binary": via_ws_binary, "http": via_http}


def send_cases(entry: str, cases: list[Case], secret: str) -> tuple[Batch, dict]:
    """The cases as one batch through an entry point (native, or Segment messages): the batch and its ack."""
    if entry == "segment":
        batch = Batch.of(segment_cases(cases), segment=True)
        return batch, via_segment(secret, encode({"batch": batch.events}))
    batch = Batch.of(cases)
    return batch, NATIVE_ENTRY_POINTS[entry](secret, encode({"events": batch.events}))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entry", [*NATIVE_ENTRY_POINTS, "segment"])
def test_every_bad_event_gets_its_reason_and_its_neighbours_are_stored(entry, ingest_secret, one_group_at_a_time):
    batch, ack = send_cases(entry, CORPUS, ingest_secret)
    batch.check(ack)
    assert len(batch.bad_index) > 150  # the corpus is what it says


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entry", ["websocket-binary", "http", "segment"])
def test_invalid_utf8_in_every_string_field_is_that_events_reason(entry, ingest_secret, one_group_at_a_time):
    # Text frames cannot carry invalid UTF-8: the protocol fails the connection (test_hostile_live.py).
    batch, ack = send_cases(entry, INVALID_UTF8_CASES, ingest_secret)
    batch.check(ack)


def test_corpus_values_need_nothing_but_the_parser():
    # The corpus's bytes really hold what the cases say (the encoder splices raw values in).
    body = encode({"events": [bad(0, Case("x", "quantity", HUGE_INT, "")),
                              bad(1, Case("y", "description", INVALID_UTF8, ""))]})
    assert b"9" * 5000 in body and b"\xff\xfe" in body
    with pytest.raises(ValueError):
        json.loads(body)  # the standard parser alone refuses the whole message
    events = wire.loads(body)["events"]
    assert isinstance(events[0]["quantity"], wire.HugeNumber) and events[1]["description"] == "a\udcff\udcfeb"


# --- whole messages ----------------------------------------------------------------------------

def small(n: int) -> dict:
    """A short valid event (5,000 of them fit in a message)."""
    return {"event_id": f"s-{n}", "customer_id": "c", "action": "checkout", "timestamp": TS}


def big_event(n: int, size: int) -> dict:
    return good(n) | {"event_id": f"big-{n}", "description": "x" * size}


MESSAGE_ATTACKS = {
    # name: (body, websocket error code, HTTP status, Segment status)
    "depth bomb": (b"[" * DEPTH_BOMB, "too_deep", 400, 400),
    "depth bomb inside an event": (
        b'{"events": [' + json.dumps(good(1))[:-1].encode() + b', "description": ' + b"[" * DEPTH_BOMB
        + b"]" * DEPTH_BOMB + b"}]}", "too_deep", 400, 400),
    "closed depth bomb": (b"[" * DEPTH_BOMB + b"]" * DEPTH_BOMB, "too_deep", 400, 400),
    "malformed JSON": (b'{"events": [', "malformed_json", 400, 400),
    "invalid UTF-8 outside strings": (b'{"events": \xff}', "malformed_json", 400, 400),
    "not an object": (b"[1, 2]", "bad_envelope", 400, 400),
    "events not a list": (b'{"events": {"a": 1}}', "bad_envelope", 400, 400),
    "empty message": (b"", "malformed_json", 400, 400),
}


@pytest.mark.django_db(transaction=True)
def test_websocket_answers_every_attack_on_a_whole_message_and_stays_open(ingest_secret, one_group_at_a_time,
                                                                            settings):
    settings.INGEST_MAX_BATCH_EVENTS = 5000
    attacks = list(MESSAGE_ATTACKS.items())
    text_attacks = [(name, attack) for name, attack in attacks if name != "invalid UTF-8 outside strings"]
    frames = [("text", body) for _name, (body, *_rest) in text_attacks]  # a text frame is UTF-8
    frames += [("binary", body) for _name, (body, *_rest) in attacks]
    oversized = json.dumps({"events": [big_event(1, settings.INGEST_MAX_MESSAGE_BYTES)]}).encode()
    too_many = json.dumps({"events": [{"event_id": i} for i in range(5001)]}).encode()
    frames += [("text", oversized), ("binary", oversized), ("text", too_many), ("text", b'{"events": []}')]
    replies = _ws_exchange(ingest_secret, frames)
    codes = [r.get("code") for r in replies]
    expected = [code for _name, (_body, code, *_rest) in text_attacks + attacks]
    assert codes == [*expected, "too_large", "too_large", "too_many_events", None]
    assert all(r["type"] == "error" and r["error"] for r in replies[:-1])
    assert "larger than 1000000 bytes" in replies[-4]["error"]
    assert "at most 5000" in replies[-2]["error"]
    assert replies[-1] == {"type": "ack", "accepted": 0, "duplicates": [], "rejected": []}
    assert Event.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(MESSAGE_ATTACKS))
def test_http_answers_an_attack_on_a_whole_body_with_its_reason(name, ingest_secret):
    body, code, native_status, segment_status = MESSAGE_ATTACKS[name]
    native = _post("/api/v1/events", body, f"Bearer {ingest_secret}")
    assert (native.status_code, native.json()["code"]) == (native_status, code)
    segment_body = body.replace(b'{"events":', b'{"batch":')
    segment = _post("/v1/batch", segment_body, "Basic " + base64.b64encode(f"{ingest_secret}:".encode()).decode())
    assert segment.status_code == segment_status and segment.json()["error"]
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_http_limits_and_empty_and_full_batches(ingest_secret, settings):
    auth = f"Bearer {ingest_secret}"
    too_large = _post("/api/v1/events", json.dumps({"events": [big_event(1, 1_000_001)]}).encode(), auth)
    assert too_large.status_code == 413 and "larger than 1000000 bytes" in too_large.json()["error"]
    too_many = _post("/api/v1/events", json.dumps({"events": [{"event_id": i} for i in range(5001)]}).encode(), auth)
    assert too_many.status_code == 413 and too_many.json()["code"] == "too_many_events"
    empty = _post("/api/v1/events", b'{"events": []}', auth)
    assert empty.json() == {"type": "ack", "accepted": 0, "duplicates": [], "rejected": []}
    full = _post("/api/v1/events", json.dumps({"events": [small(i) for i in range(5000)]}).encode(), auth)
    assert full.json()["accepted"] == 5000 and Event.objects.count() == 5000
    segment_auth = "Basic " + base64.b64encode(f"{ingest_secret}:".encode()).decode()
    messages = [to_segment(good(i) | {"event_id": f"seg-{i}"}) for i in range(2000)]  # ~460 KB
    body = json.dumps({"batch": messages}).encode()
    assert len(body) < settings.SEGMENT_MAX_BATCH_BYTES
    assert _post("/v1/batch", body, segment_auth).json()["accepted"] == 2000
    tiny = _post("/v1/batch", b'{"batch": [' + b",".join([b"1"] * 5001) + b"]}", segment_auth)
    assert tiny.status_code == 413 and tiny.json()["code"] == "too_many_events"
    assert len(_post("/v1/batch", b'{"batch": [' + b",".join([b"1"] * 5000) + b"]}", segment_auth).json()[
        "rejected"]) == 5000


@pytest.mark.django_db(transaction=True)
def test_websocket_full_batch_of_the_largest_size_is_stored(ingest_secret, one_group_at_a_time):
    body = json.dumps({"events": [small(i) for i in range(5000)]}).encode()
    assert via_ws_text(ingest_secret, body)["accepted"] == 5000
    assert Event.objects.count() == 5000
