from django.core.management.base import BaseCommand, CommandError

from events.models import IngestKey
from events.services import OriginError, ingest_key_create, ingest_key_rotate


class Command(BaseCommand):
    help = (
        "Create a named ingest key for WebSocket, HTTP and Segment clients and print its secret once "
        "(only a hash is stored). A name already taken is refused unless --rotate, which gives that "
        "key a new secret and reactivates it. --public makes a browser key (write-only, accepted only from "
        "its --origin values, rate-limited per address) for the tracker snippet or Segment's analytics.js."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="a name for the client, e.g. 'shop-frontend'")
        parser.add_argument("--rotate", action="store_true",
                            help="the key exists: replace its secret (the old one stops working)")
        parser.add_argument("--quiet", action="store_true", help="print the secret only (for scripts)")
        parser.add_argument("--public", action="store_true",
                            help="a public key for browsers (needs at least one --origin)")
        parser.add_argument("--origin", action="append", default=[], metavar="ORIGIN",
                            help="an origin allowed to send with a public key, e.g. https://shop.example "
                                 "(repeat for several)")

    def handle(self, *args, name: str, rotate: bool, quiet: bool, public: bool = False,
               origin: list[str] | None = None, **options):
        existing = IngestKey.objects.filter(name=name).first()
        if existing is not None and not rotate:
            raise CommandError(f"An ingest key named {name!r} already exists. Use --rotate to give it a new "
                               "secret, or choose another name.")
        if existing is not None:
            key, secret = ingest_key_rotate(key=existing)
            verb = "Rotated"
        else:
            try:
                key, secret = ingest_key_create(name=name, public=public, origins=origin or [])
            except OriginError as exc:
                raise CommandError(str(exc)) from exc
            verb = "Created"
        if quiet:
            self.stdout.write(secret)
            return
        if key.is_public:
            self.stdout.write(f"{verb} public key {key.name!r} for {', '.join(key.allowed_origins)}:")
            self.stdout.write(secret)
            self.stdout.write("Its install snippet is shown beside it in admin (Ingest keys); it asks visitors for "
                              "consent before anything is stored or sent (tracker.consentRequired = false turns "
                              "that off where consent is collected otherwise).")
            return
        self.stdout.write(f"{verb} ingest key {key.name!r}. Copy the secret now, it is not shown again:")
        self.stdout.write(secret)
