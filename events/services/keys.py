"""Ingest keys: named, revocable credentials of machine clients (WebSocket, HTTP, Segment).

Only a SHA-256 of the secret is stored; the secret is shown once, when the key is made or rotated.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from events.models import IngestKey

KEY_PREFIX = "ak_"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


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
def ingest_key_create(*, name: str) -> tuple[IngestKey, str]:
    """Make a key. Returns it and its secret, which is not stored and cannot be shown again."""
    secret = _new_secret()
    key = IngestKey.objects.create(name=name, prefix=secret[:10], secret_hash=_hash_secret(secret))
    return key, secret


@transaction.atomic
def ingest_key_rotate(*, key: IngestKey) -> tuple[IngestKey, str]:
    """Give an existing key a new secret (the old one stops working) and make it active."""
    secret = _new_secret()
    key.prefix = secret[:10]
    key.secret_hash = _hash_secret(secret)
    key.is_active = True
    key.save(update_fields=["prefix", "secret_hash", "is_active"])
    return key, secret


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
