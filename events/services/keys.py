"""Ingest keys: named, revocable credentials of machine clients (WebSocket, HTTP, Segment).

Only a SHA-256 of the secret is stored; the secret is shown once, when the key is made or rotated.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from events.models import IngestKey
from events.services.public_keys import OriginError, origins_normalize
from events.services.sources import source_of_key

KEY_PREFIX = "ak_"
PUBLIC_KEY_PREFIX = "pk_"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(public: bool = False) -> str:
    return PUBLIC_KEY_PREFIX + secrets.token_urlsafe(18) if public else KEY_PREFIX + secrets.token_urlsafe(32)


class IngestKeyRevoked(Exception):
    """The key a connection authenticated with was revoked (or rotated) since: nothing is stored."""


@dataclass(frozen=True, slots=True)
class KeyCredential:
    """What a long-lived connection re-checks before each commit: its key, as authenticated."""

    pk: int
    secret_hash: str

    @classmethod
    def of(cls, key: IngestKey) -> KeyCredential:
        return cls(key.pk, key.secret_hash)


_KEY_CHECK_SQL = f"SELECT 1 FROM {IngestKey._meta.db_table} WHERE id = %s AND secret_hash = %s AND is_active"


def ingest_key_check(*, credential: KeyCredential) -> None:
    """Raise IngestKeyRevoked unless the key is still active with the same secret. Inside the
    ingest transaction, so no event is committed under a key revoked before that commit. (Plain
    SQL: it runs once per group commit, and the ORM's query building cost ~10% of one-event
    message throughput.)"""
    with connection.cursor() as cur:
        cur.execute(_KEY_CHECK_SQL, [credential.pk, credential.secret_hash])
        if cur.fetchone() is None:
            raise IngestKeyRevoked


@transaction.atomic
def ingest_key_create(*, name: str, public: bool = False, origins: Sequence[str] = ()) -> tuple[IngestKey, str]:
    """Make a key. Returns it and its secret, which is not stored and cannot be shown again.

    A public key (``public``) needs at least one allowed origin (``OriginError`` otherwise); its
    value is kept, to show the install snippet (it sits in every page of the store anyway)."""
    allowed = origins_normalize(origins)
    if public and not allowed:
        raise OriginError("a public key needs at least one allowed origin (--origin https://shop.example)")
    if allowed and not public:
        raise OriginError("allowed origins are for public keys (--public); secret keys are refused from browsers")
    secret = _new_secret(public)
    key = IngestKey.objects.create(
        name=name, prefix=secret[:10], secret_hash=_hash_secret(secret),
        kind=IngestKey.Kind.PUBLIC if public else IngestKey.Kind.SECRET, allowed_origins=allowed,
        public_value=secret if public else "")
    source_of_key(key)  # its source exists from the start: sending with it writes nothing more
    return key, secret


@transaction.atomic
def ingest_key_rotate(*, key: IngestKey) -> tuple[IngestKey, str]:
    """Give an existing key a new secret (the old one stops working) and make it active."""
    secret = _new_secret(key.is_public)
    key.prefix = secret[:10]
    key.secret_hash = _hash_secret(secret)
    key.public_value = secret if key.is_public else ""
    key.is_active = True
    key.save(update_fields=["prefix", "secret_hash", "public_value", "is_active"])
    return key, secret


@transaction.atomic
def ingest_key_set_origins(*, key: IngestKey, origins: Sequence[str]) -> IngestKey:
    """Replace a public key's allowed origins (at once for every process: each request reads them)."""
    allowed = origins_normalize(origins)
    if key.is_public and not allowed:
        raise OriginError("a public key needs at least one allowed origin")
    key.allowed_origins = allowed
    key.save(update_fields=["allowed_origins"])
    return key


def ingest_key_authenticate(*, secret: str | None) -> IngestKey | None:
    """The active key with this secret, or None. Records when it was last used (at most once a
    minute, so a busy stream does not write on every message)."""
    if not secret or len(secret) > 200 or not secret.isascii():  # keys are short URL-safe ASCII
        return None
    key = IngestKey.objects.filter(secret_hash=_hash_secret(secret), is_active=True).first()
    if key is not None:
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
    return key


@transaction.atomic
def ingest_key_revoke(*, key: IngestKey) -> IngestKey:
    key.is_active = False
    key.save(update_fields=["is_active"])
    return key
