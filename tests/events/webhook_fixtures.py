"""Load the webhook fixtures (tests/events/fixtures/webhooks, see its README) and sign them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def body(name: str) -> bytes:
    """The fixture as raw bytes, as the platform would send it."""
    return (FIXTURES / f"{name}.json").read_bytes()
