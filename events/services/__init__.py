"""Writes for events: ingest keys (``keys``), the ingest service every entry point calls
(``ingest``), and the formats that go through it (``segment``, ``csv_files``).

Callers import from here; the modules of this package import each other directly.
"""

from events.persistence import IngestUnavailable
from events.services.csv_files import CsvImportTotals, events_import_csv
from events.services.derive import events_derive_queued
from events.services.identity import IdentityResult, identities_record
from events.services.ingest import IngestResult, events_ingest, events_ingest_batches, events_ingest_parsed
from events.services.keys import (
    IngestKeyRevoked,
    KeyCredential,
    ingest_key_authenticate,
    ingest_key_check,
    ingest_key_create,
    ingest_key_revoke,
    ingest_key_rotate,
    ingest_key_set_origins,
)
from events.services.public_keys import OriginError, origin_allowed_for_any, origin_normalize, snippet_for
from events.services.segment import events_ingest_segment
from events.services.sources import (
    SourceRef,
    source_of_connection,
    source_of_import,
    source_of_key,
    source_server,
    source_simulator,
)

__all__ = [
    "CsvImportTotals", "IdentityResult", "identities_record", "IngestKeyRevoked", "IngestResult", "IngestUnavailable",
    "KeyCredential", "events_derive_queued", "events_import_csv",
    "events_ingest", "events_ingest_batches", "events_ingest_parsed", "events_ingest_segment",
    "ingest_key_authenticate", "ingest_key_check", "ingest_key_create", "ingest_key_revoke", "ingest_key_rotate",
    "ingest_key_set_origins", "OriginError", "origin_allowed_for_any", "origin_normalize", "snippet_for",
    "SourceRef", "source_of_connection", "source_of_import", "source_of_key", "source_server", "source_simulator",
]
