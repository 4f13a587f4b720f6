"""manage.py demo_store_key --origin http://127.0.0.1:8000: the demo store's public key (``make run``)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from demostore.services import demo_store_key_ensure
from events.services import OriginError


class Command(BaseCommand):
    help = "Create (or extend) the public ingest key the demo store at /demo-store/ loads /tracker.js with."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--origin", action="append", required=True,
                            help="An origin the store is served from (this server's own), repeatable.")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            key, created = demo_store_key_ensure(origins=options["origin"])
        except OriginError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Using"
        self.stdout.write(f"{verb} the demo store's public key {key.prefix}… for {', '.join(key.allowed_origins)}")
