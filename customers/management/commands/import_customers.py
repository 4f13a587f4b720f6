"""Import a store's customer export (CSV) into customer profiles: each row's customer is found or
created by the store's id and their name, email, age or birthday (→ age group), gender, city and
country are filled as a storefront ``identify`` would. Streamed, with progress and a rejects file."""

import os

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.csv_profiles import FIELDS, ProfileMappingError
from customers.services import ProfileImportTotals, customers_import_csv


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file with a header row")
        parser.add_argument("--map", dest="map_spec", metavar="DEST=SOURCE,...",
                            help=f"column for each field; DEST among: {', '.join(FIELDS)}. Columns with the "
                                 "usual names (Customer ID, Email, First name, Date of birth, …) need no --map.")
        parser.add_argument("--rejects", metavar="FILE", help="write rejected rows with their reasons here")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction (default 1000)")

    def handle(self, *args, file, map_spec, rejects, batch_size, **options):
        if not os.path.isfile(file):
            raise CommandError(f"no such file: {file}")
        with open(file, newline="", encoding="utf-8-sig") as handle, \
                tqdm(unit=" rows", desc="import", disable=None) as bar:
            def progress(totals: ProfileImportTotals) -> None:
                bar.n = totals.read
                bar.set_postfix(created=totals.created, updated=totals.updated, rejected=totals.rejected)

            try:
                totals = customers_import_csv(lines=handle, map_spec=map_spec, rejects_path=rejects,
                                              batch_size=batch_size, progress=progress)
            except ProfileMappingError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"read {totals.read}, created {totals.created}, updated {totals.updated}, unchanged {totals.unchanged}, "
            f"rejected {totals.rejected}" + (f" (reasons in {rejects})" if rejects and totals.rejected else ""))
