from django.core.management.base import BaseCommand, CommandError

from events.connections.models import Platform, StoreConnection
from events.connections.services import connection_create, connection_set_secret


class Command(BaseCommand):
    help = (
        "Connect a Shopify or WooCommerce store: its webhooks are then accepted at "
        "/webhooks/<platform>/<slug>/, signed with SECRET (the store's webhook secret, kept encrypted and "
        "never shown again). An existing slug is refused unless --rotate, which replaces its secret."
    )

    def add_arguments(self, parser):
        parser.add_argument("platform", choices=Platform.values)
        parser.add_argument("slug", help="a short name for the store (letters, digits, - and _), e.g. 'my-shop'")
        parser.add_argument("--secret", required=True, help="the webhook signing secret the store uses")
        parser.add_argument("--rotate", action="store_true", help="the connection exists: replace its secret")

    def handle(self, *args, platform: str, slug: str, secret: str, rotate: bool, **options):
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_slug

        from events.connections.models import MAX_SLUG

        try:
            validate_slug(slug)
        except ValidationError as exc:
            raise CommandError(f"{slug!r} is not a valid slug (letters, digits, - and _)") from exc
        if len(slug) > MAX_SLUG:
            raise CommandError(f"the slug must be at most {MAX_SLUG} characters")
        if not secret.strip():
            raise CommandError("the secret must not be empty")
        existing = StoreConnection.objects.filter(slug=slug).first()
        if existing is not None and not rotate:
            raise CommandError(f"A connection {slug!r} already exists. Use --rotate to replace its secret.")
        if existing is not None:
            if existing.platform != platform:
                raise CommandError(f"{slug!r} is a {existing.get_platform_display()} connection")
            connection_set_secret(connection=existing, secret=secret.strip())
            self.stdout.write(f"Replaced the secret of {existing}.")
            return
        connection = connection_create(platform=platform, slug=slug, secret=secret.strip())
        self.stdout.write(f"Connected {connection}: point the store's webhooks at /webhooks/{platform}/{slug}/")
