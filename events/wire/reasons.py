"""Why a value, an event or a message is refused: text for the client with a stable ``code``."""

from __future__ import annotations


class Reason(str):
    """A reason for the client (the text) with a stable machine-readable ``code``.

    It is a ``str``, so error dicts serialise and compare as plain text.
    """

    code: str

    def __new__(cls, text: str, code: str) -> Reason:
        reason = super().__new__(cls, text)
        reason.code = code
        return reason


def code_of(reason: str) -> str:
    return getattr(reason, "code", "invalid")


def too_long(limit: int) -> Reason:
    return Reason(f"longer than {limit} characters", "too_long")


REQUIRED = Reason("required", "required")
EMPTY = Reason("must not be empty", "empty")
NOT_STRING = Reason("must be a string", "wrong_type")
NOT_NUMBER = Reason("must be a number", "wrong_type")
NOT_INTEGER = Reason("must be an integer", "wrong_type")
NOT_FINITE = Reason("must be a finite number", "out_of_range")
NOT_OBJECT = Reason("must be a JSON object", "wrong_type")
