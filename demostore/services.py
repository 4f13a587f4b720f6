"""Writes for the demo store: the public key it is instrumented with."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from demostore.selectors import KEY_NAME
from events.models import IngestKey
from events.services import ingest_key_create
from events.services.public_keys import origins_normalize


@transaction.atomic
def demo_store_key_ensure(*, origins: Sequence[str]) -> tuple[IngestKey, bool]:
    """The demo store's public key, allowed from ``origins`` (added to the ones it has); created when
    missing. Returns the key and whether it was created."""
    key = (IngestKey.objects.select_for_update()
           .filter(name=KEY_NAME, kind=IngestKey.Kind.PUBLIC, is_active=True).order_by("-id").first())
    if key is None:
        key, _ = ingest_key_create(name=KEY_NAME, public=True, origins=origins)
        return key, True
    wanted = list(dict.fromkeys([*key.allowed_origins, *origins_normalize(origins)]))
    if wanted != key.allowed_origins:
        key.allowed_origins = wanted
        key.save(update_fields=["allowed_origins"])
    return key, False
