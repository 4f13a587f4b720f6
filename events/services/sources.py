"""Sources: what sent each event, and the event-id namespace of its trust level (docs/trust.md).

Every entry point names its source when it calls the ingest service: ``source_of_key`` (a secret or
public ingest key), ``source_of_connection`` (a store connection's signed webhooks),
``source_of_import`` (one import run), ``source_simulator()``, or ``source_server()`` (store-level
code with no key: management commands, tools). The ``SourceRef`` is what ingest needs of it: the
row to record on each event and the namespace its event ids are unique in.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from events.models import IngestKey, Source, StoreConnection, Trust
from events.types import SourceRef
from events.verification import BROWSER_NAMESPACE

SERVER_NAMESPACE = "server"
IMPORT_NAMESPACE = "import"
SIMULATOR_NAMESPACE = "simulator"
_TOUCH_EVERY = timedelta(seconds=60)


def _ref(source: Source) -> SourceRef:
    return SourceRef(source.pk, source.kind, source.trust, source.namespace)


def connection_namespace(connection_pk: int) -> str:
    return f"conn:{connection_pk}"


def _get_or_create(lookup: dict, defaults: dict) -> SourceRef:
    """A read on every call after the first (keys and connections get theirs when made)."""
    source = Source.objects.filter(**lookup).first()
    if source is None:
        with transaction.atomic():
            source, _ = Source.objects.get_or_create(**lookup, defaults=defaults)
    return _ref(source)


def source_of_key(key: IngestKey) -> SourceRef:
    """The source of an ingest key: public keys speak for browsers (namespace ``browser``), secret
    keys for the store's servers (``server``)."""
    if key.is_public:
        defaults = {"kind": Source.Kind.PUBLIC_KEY, "trust": Trust.BROWSER, "namespace": BROWSER_NAMESPACE}
    else:
        defaults = {"kind": Source.Kind.SECRET_KEY, "trust": Trust.STORE, "namespace": SERVER_NAMESPACE}
    return _get_or_create({"ingest_key": key}, {**defaults, "name": key.name})


def source_of_connection(connection: StoreConnection) -> SourceRef:
    """A store connection's source: its own namespace (its ids never meet another store's)."""
    return _get_or_create({"connection": connection}, {
        "kind": Source.Kind.CONNECTION, "trust": Trust.STORE, "namespace": connection_namespace(connection.pk),
        "name": str(connection)[:200]})


def source_of_import(name: str) -> SourceRef:
    """A new source for one import run (a file, a command): removable as a unit. Imports share the
    ``import`` namespace, so the same rows imported twice are stored once."""
    source = Source.objects.create(kind=Source.Kind.IMPORT, trust=Trust.STORE, namespace=IMPORT_NAMESPACE,
                                   name=name[:200])
    return _ref(source)


def source_simulator() -> SourceRef:
    return _get_or_create({"kind": Source.Kind.SIMULATOR, "name": "simulator"}, {
        "trust": Trust.STORE, "namespace": SIMULATOR_NAMESPACE})


def source_server() -> SourceRef:
    """Store-level code that sends events without a key (commands, tools, tests)."""
    return _get_or_create({"kind": Source.Kind.SERVER, "name": "server"}, {
        "trust": Trust.STORE, "namespace": SERVER_NAMESPACE})


def source_touch(source: SourceRef) -> None:
    """Record that the source was used (at most once a minute per source, outside the ingest
    transaction, so concurrent batches of one source never queue on its row)."""
    now = timezone.now()
    Source.objects.filter(pk=source.pk).exclude(last_used_at__gt=now - _TOUCH_EVERY).update(last_used_at=now)
