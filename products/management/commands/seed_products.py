from django.core.management.base import BaseCommand

from products.services import CatalogueError, catalogue_fetch, catalogue_read, product_load_catalogue


class Command(BaseCommand):
    help = (
        "Load the product catalogue shipped in the repo (FakeStore API shape). With --fetch URL, "
        "try a live FakeStore-style URL first and fall back to the shipped file when offline. "
        "Idempotent: products are matched by their store id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fetch", metavar="URL", help="try this FakeStore-style URL first")

    def handle(self, *args, fetch: str | None, **options):
        items = None
        if fetch:
            try:
                items = catalogue_fetch(url=fetch)
                self.stdout.write(f"Fetched {len(items)} products from {fetch}.")
            except CatalogueError as exc:
                self.stderr.write(self.style.WARNING(f"{exc}; using the shipped catalogue instead."))
        if items is None:
            items = catalogue_read()
        created, updated = product_load_catalogue(items=items)
        unchanged = len(items) - created - updated
        self.stdout.write(self.style.SUCCESS(f"{created} products created, {updated} updated, {unchanged} unchanged."))
