"""Messages and bodies (str or bytes) read as JSON values, whatever they hold."""

from __future__ import annotations

import json
from typing import Any

from events.wire.reasons import Reason

# Integers with more digits than Python converts by default (sys.get_int_max_str_digits) make
# json.loads raise; such a message is parsed again and the number is kept as a HugeNumber.
JSON_INT_DIGITS = 4300


class HugeNumber:
    """A JSON integer with more digits than Python converts (see ``loads``): kept as its digit
    count so validation can answer "out of range" for that one event."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<{self.digits}-digit number>"


class MessageError(ValueError):
    """A message (WebSocket) or body (HTTP) that cannot be read at all: one reason for all of it."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = Reason(reason, code)
        self.code = code


def _huge_int(digits: str) -> int | HugeNumber:
    return int(digits) if len(digits) <= JSON_INT_DIGITS else HugeNumber(len(digits.lstrip("-")))


def _decode(data: bytes) -> str:
    """Bytes as text. Invalid UTF-8 is kept as lone surrogates (``surrogateescape``), so the one
    string field holding it is refused with a reason and the events beside it are not."""
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding, "surrogateescape" if encoding.startswith("utf-8") else "surrogatepass")
    except UnicodeDecodeError as exc:  # UTF-16/32 that does not decode
        raise MessageError(f"not valid {encoding} text: {exc.reason}", "malformed_json") from None


def loads(data: str | bytes) -> Any:
    """The JSON value of a message or body, or ``MessageError``.

    Nesting deeper than the parser's recursion limit (about 900 levels) is one error for the whole
    message; shallower nesting inside a field is that event's "must be a string/number". An
    integer with more digits than Python converts is kept as a ``HugeNumber`` (its event is
    refused as out of range) instead of failing the message.
    """
    text = _decode(data) if isinstance(data, bytes | bytearray) else data
    try:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer over sys.get_int_max_str_digits() digits
            return json.loads(text, parse_int=_huge_int)
    except RecursionError:
        raise MessageError("JSON nested too deeply: arrays and objects may nest a few hundred levels at most",
                           "too_deep") from None
    except json.JSONDecodeError as exc:
        raise MessageError(f"malformed JSON: {exc}", "malformed_json") from None


def _huge_json(value: Any) -> str:
    if isinstance(value, HugeNumber):
        return "0" * value.digits  # counts as many bytes as it was sent with
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_size(value: Any) -> int:
    """The size of a parsed value as compact JSON (``RecursionError`` when nested too deeply)."""
    return len(json.dumps(value, separators=(",", ":"), default=_huge_json))
