"""Webhook signatures and the stored secret.

Both platforms sign a delivery the same way: base64 of HMAC-SHA256 of the raw body, keyed by the
webhook secret (Shopify: X-Shopify-Hmac-Sha256; WooCommerce: X-WC-Webhook-Signature). The
signature is compared in constant time (``hmac.compare_digest``).

The secret has to be kept to compute that HMAC (a hash would not do, unlike ingest keys), so it is
stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from ``SECRET_KEY``
(HKDF-SHA256, its own ``info`` label): a copy of the database alone does not reveal it. After a
change of SECRET_KEY, the old key listed in ``SECRET_KEY_FALLBACKS`` still decrypts (MultiFernet:
encrypt with the first key, decrypt with any); ``secret_reencrypt`` (the
``reencrypt_connection_secrets`` command) moves a secret under the current key, after which the
old key can leave the fallbacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"analytics store connection secrets v1"


def _fernet_of(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_of(k) for k in keys])


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a SECRET_KEY that is neither the current one nor in
    SECRET_KEY_FALLBACKS."""


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable from exc


def secret_is_current(token: str) -> bool:
    """Whether the stored secret is encrypted under the current SECRET_KEY."""
    try:
        _fernet_of(settings.SECRET_KEY).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def secret_reencrypt(token: str) -> str:
    """The same secret encrypted under the current SECRET_KEY (raises ``SecretUnreadable``)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable from exc


def signature_of(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(body, secret)): what the platform sends for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_valid(body: bytes, secret: str, signature: str | None) -> bool:
    """Whether ``signature`` (the header, possibly missing) signs ``body``; constant time."""
    if not signature:
        return False
    return hmac.compare_digest(signature_of(body, secret).encode(), signature.strip().encode())
