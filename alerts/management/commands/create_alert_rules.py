"""manage.py create_alert_rules: the default alert rules, one per metric over all traffic."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from alerts.services import alert_rules_create_defaults


class Command(BaseCommand):
    help = ("Create the default alert rules: one per metric (events, orders, net revenue, session conversion, "
            "cart abandonment) over all traffic, both sides of a 95% band, 2 hours in a row. Existing rules "
            "of those names are kept as they are; destinations are added in admin.")

    def handle(self, *args, **options):
        created, kept = alert_rules_create_defaults()
        self.stdout.write(f"{len(created)} alert rules created, {len(kept)} already present"
                          + (f": created {', '.join(created)}" if created else ""))
