"""Give a product a new category and move its history there (docs/metrics.md)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from events.models import Event
from insights.recategorise import product_category_change
from products.models import Product


class Command(BaseCommand):
    help = ("Change a product's category and move its events and sessions to the new category in every report, "
            "past periods included (what admin queues when the category is edited there).")

    def add_arguments(self, parser):
        parser.add_argument("product", help="The product's store id (external id).")
        parser.add_argument("category", help="The new category ('' for none).")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, **options):
        product = Product.objects.filter(external_id=options["product"]).first()
        if product is None:
            raise CommandError(f"No product with store id {options['product']!r}.")
        total = Event.objects.filter(product_id=product.pk).count()
        started = time.perf_counter()
        with tqdm(total=total, unit="ev", disable=options["no_progress"] or not total) as bar:
            move = product_category_change(product_pk=product.pk, category=options["category"], progress=bar.update)
        if move.old == move.new:
            self.stdout.write(f"{product.external_id} is in {move.new!r} already: nothing to move.")
            return
        self.stdout.write(self.style.SUCCESS(
            f"{product.external_id}: {move.old!r} → {move.new!r}; {move.events:,} events and {move.sessions:,} "
            f"sessions moved in {time.perf_counter() - started:.1f} s."))
