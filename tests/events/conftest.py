import pytest

from events.services import ingest_key_create, ingest_key_revoke


@pytest.fixture
def ingest_secret(db):
    """The secret of a fresh active ingest key."""
    _key, secret = ingest_key_create(name="test-client")
    return secret


@pytest.fixture
def revoked_secret(db):
    key, secret = ingest_key_create(name="revoked-client")
    ingest_key_revoke(key=key)
    return secret
