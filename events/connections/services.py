"""Writes for store connections: making one (and its id space), its secret (set, re-encrypted
after a SECRET_KEY change, checked against a delivery's signature), and forgetting an erased
customer. Receiving deliveries: ``events.connections.deliveries``.
"""

from __future__ import annotations

import enum

from django.db import transaction

from events.connections.deliveries import (
    DeliveryOutcome,
    DeliveryRefused,
    deliveries_forget_customer,
    webhook_receive,
    webhooks_replay_on_rates,
    webhooks_replay_waiting,
)
from events.connections.models import ConnectionCustomer, ConnectionOrder, Platform, StoreConnection
from events.connections.signing import (
    SecretUnreadable,
    secret_decrypt,
    secret_encrypt,
    secret_is_current,
    secret_reencrypt,
    signature_valid,
)
from events.connections.translation import MAX_SLUG, RESERVED_SLUGS
from events.services.sources import source_of_connection

__all__ = ["DeliveryOutcome", "DeliveryRefused", "SignatureCheck", "connection_create", "connection_customer_forget",
           "connection_secrets_reencrypt", "connection_set_secret", "connection_signature_check",
           "connection_signature_valid", "webhook_receive", "webhooks_replay_on_rates", "webhooks_replay_waiting"]


@transaction.atomic
def connection_create(*, platform: str, slug: str, secret: str, shares_store_ids: bool | None = None
                      ) -> StoreConnection:
    """A new connection; the secret is kept encrypted (``events.connections.signing``).

    ``shares_store_ids``: whether its customer, order and product ids are the store's own (the
    primary connection, at most one) or prefixed ``<slug>:``; None: the first connection shares
    them, later ones are prefixed. Raises ValueError for a bad platform, slug or secret, or a second
    primary connection."""
    if platform not in Platform.values:
        raise ValueError(f"platform must be one of {', '.join(Platform.values)}")
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    if slug in RESERVED_SLUGS or len(slug) > MAX_SLUG:
        raise ValueError(f"the slug must be at most {MAX_SLUG} characters and not one of "
                         f"{', '.join(sorted(RESERVED_SLUGS))}")
    primary = StoreConnection.objects.select_for_update().filter(id_prefix="").first()
    if shares_store_ids is None:
        shares_store_ids = primary is None
    if shares_store_ids and primary is not None:
        raise ValueError(f"{primary} already shares the store's ids; a second connection's ids are prefixed")
    connection = StoreConnection.objects.create(platform=platform, slug=slug, secret_encrypted=secret_encrypt(secret),
                                                id_prefix="" if shares_store_ids else f"{slug}:")
    source_of_connection(connection)
    return connection


@transaction.atomic
def connection_set_secret(*, connection: StoreConnection, secret: str) -> None:
    """Replace the secret (the store's webhook secret changed, or SECRET_KEY did)."""
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    connection.secret_encrypted = secret_encrypt(secret)
    StoreConnection.objects.filter(pk=connection.pk).update(secret_encrypted=connection.secret_encrypted)


def connection_secrets_reencrypt() -> tuple[list[str], list[str]]:
    """Encrypt every stored secret under the current SECRET_KEY (those readable through
    SECRET_KEY_FALLBACKS). Returns (slugs re-encrypted, slugs unreadable: give them their secret
    again)."""
    done: list[str] = []
    unreadable: list[str] = []
    for connection in StoreConnection.objects.order_by("slug"):
        if secret_is_current(connection.secret_encrypted):
            continue
        try:
            token = secret_reencrypt(connection.secret_encrypted)
        except SecretUnreadable:
            unreadable.append(connection.slug)
            continue
        StoreConnection.objects.filter(pk=connection.pk, secret_encrypted=connection.secret_encrypted).update(
            secret_encrypted=token)
        done.append(connection.slug)
    return done, unreadable


class SignatureCheck(enum.Enum):
    """Why a delivery's signature was accepted or not (what the log says to check)."""

    VALID = "valid"
    MISSING = "no signature header: is the request from the store?"
    MISMATCH = ("the signature does not match: check that the store's webhook secret is the one given to this "
                "connection (create_connection … --rotate to replace it)")
    UNREADABLE = ("the stored secret cannot be decrypted: SECRET_KEY changed; put the previous key in "
                  "SECRET_KEY_FALLBACKS (then run reencrypt_connection_secrets), or give the secret again")


def connection_signature_check(*, connection: StoreConnection, body: bytes, signature: str | None) -> SignatureCheck:
    """Whether ``signature`` signs ``body`` with the connection's secret (constant time), and if
    not, why."""
    if not signature:
        return SignatureCheck.MISSING
    try:
        secret = secret_decrypt(connection.secret_encrypted)
    except SecretUnreadable:
        return SignatureCheck.UNREADABLE
    return SignatureCheck.VALID if signature_valid(body, secret, signature) else SignatureCheck.MISMATCH


def connection_signature_valid(*, connection: StoreConnection, body: bytes, signature: str | None) -> bool:
    return connection_signature_check(connection=connection, body=body, signature=signature) is SignatureCheck.VALID


def connection_customer_forget(*, external_id: str) -> int:
    """Erasure: every connection's record of this customer (their orders' customer, their last
    profile time, deliveries kept for a rate that name them). Returns how many rows went."""
    kept = deliveries_forget_customer(external_id=external_id)
    orders, _ = ConnectionOrder.objects.filter(customer_id=external_id).delete()
    profiles, _ = ConnectionCustomer.objects.filter(customer_id=external_id).delete()
    return kept + orders + profiles
