"""manage.py create_connection shopify|woocommerce SLUG: connect a store (docs/connections.md).

The webhook secret never goes on the command line (it would show in ``ps`` and the shell's
history): it is typed at a prompt (not echoed), or read from a file (``--secret-file``, ``-`` for
standard input) or from an environment variable (``--secret-env NAME``)."""

import getpass
import os
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from events.connections.models import Platform, StoreConnection
from events.connections.services import connection_create, connection_set_secret
from events.connections.translation import MAX_SLUG, RESERVED_SLUGS


class Command(BaseCommand):
    help = (
        "Connect a Shopify or WooCommerce store: its webhooks are then accepted at "
        "/webhooks/<platform>/<slug>/, signed with the store's webhook secret (typed at the prompt, or "
        "--secret-file / --secret-env; kept encrypted and never shown again). An existing slug is refused "
        "unless --rotate, which replaces its secret. The first connection shares the store's customer, "
        "order and product ids; later ones (or one made with --own-ids) prefix them with 'SLUG:'."
    )

    def add_arguments(self, parser):
        parser.add_argument("platform", choices=Platform.values)
        parser.add_argument("slug", help="a short name for the store (letters, digits, - and _), e.g. 'my-shop'")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--secret-file", metavar="PATH", help="read the secret from this file ('-': stdin)")
        source.add_argument("--secret-env", metavar="NAME", help="read the secret from this environment variable")
        source.add_argument("--secret", help="refused: a secret on the command line shows in ps and shell history")
        parser.add_argument("--rotate", action="store_true", help="the connection exists: replace its secret")
        parser.add_argument("--own-ids", action="store_true",
                            help="prefix this store's ids with 'SLUG:' even if it is the first connection")

    def handle(self, *args, platform: str, slug: str, rotate: bool, own_ids: bool, **options):
        _check_slug(slug)
        existing = StoreConnection.objects.filter(slug=slug).first()
        if existing is not None and not rotate:
            raise CommandError(f"A connection {slug!r} already exists. Use --rotate to replace its secret.")
        if existing is not None and existing.platform != platform:
            raise CommandError(f"{slug!r} is a {existing.get_platform_display()} connection")
        secret = self._secret(options)
        if existing is not None:
            connection_set_secret(connection=existing, secret=secret)
            self.stdout.write(f"Replaced the secret of {existing}.")
            return
        try:
            connection = connection_create(platform=platform, slug=slug, secret=secret,
                                           shares_store_ids=False if own_ids else None)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        ids = "the store's own ids" if connection.shares_store_ids else f"ids prefixed {connection.id_prefix!r}"
        self.stdout.write(f"Connected {connection} ({ids}): point the store's webhooks at "
                          f"/webhooks/{platform}/{slug}/")

    def _secret(self, options) -> str:
        if options.get("secret") is not None:
            raise CommandError("--secret is refused: a secret on the command line shows in ps and the shell's "
                               "history. Type it at the prompt, or use --secret-file PATH or --secret-env NAME.")
        if options.get("secret_env"):
            name = options["secret_env"]
            if name not in os.environ:
                raise CommandError(f"the environment variable {name} is not set")
            secret = os.environ[name]
        elif options.get("secret_file"):
            path = options["secret_file"]
            try:
                secret = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot read the secret file: {exc.strerror}") from None
        else:
            if not sys.stdin.isatty():
                raise CommandError("no terminal to ask for the secret: use --secret-file PATH (or -) or "
                                   "--secret-env NAME")
            secret = getpass.getpass("The store's webhook secret (not shown): ")
        if not secret.strip():
            raise CommandError("the secret must not be empty")
        return secret.strip()


def _check_slug(slug: str) -> None:
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise CommandError(f"{slug!r} is not a valid slug (letters, digits, - and _)") from exc
    if len(slug) > MAX_SLUG:
        raise CommandError(f"the slug must be at most {MAX_SLUG} characters")
    if slug in RESERVED_SLUGS:
        raise CommandError(f"{slug!r} is reserved (customer ids starting '{slug}:' mean something else)")
