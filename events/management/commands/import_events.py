"""Import events from a CSV file of any size (streamed, constant memory) through the ingest service:
validated, deduplicated by event_id (rows without one get an id derived from row number and
content, so importing a file again stores nothing twice), stored in batches."""

import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from events.csv_import import MAPPABLE, MappingError
from events.management.derive_step import derive_stored
from events.services import CsvImportTotals, events_import_csv


class _CountingLines:
    """File lines, counting characters read (for a progress bar by file size)."""

    def __init__(self, handle, bar):
        self.handle = handle
        self.bar = bar

    def __iter__(self):
        for line in self.handle:
            self.bar.update(len(line))
            yield line


class Command(BaseCommand):
    help = __doc__ + " Returns once the figures derived from them (sessions, carts, funnel) are up to date."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file with a header row")
        parser.add_argument("--map", dest="map_spec", metavar="DEST=SOURCE,...",
                            help=f"column for each field; DEST among: {', '.join(MAPPABLE)} "
                                 "(amount = a line total: on purchase rows it is the revenue, kept to the "
                                 "cent; without a price column the unit price shown is amount / quantity, "
                                 "rounded). Columns already named like a field are used without --map.")
        parser.add_argument("--action", help="the same action for every row, e.g. purchase")
        parser.add_argument("--default", dest="defaults", metavar="DEST=VALUE,...",
                            help="constant fields, used where the row has no value")
        parser.add_argument("--preset", choices=["transactions"],
                            help="transactions: an order log (customer id, date, quantity, amount) "
                                 "→ one purchase event per row; columns found by their usual names")
        parser.add_argument("--date-format", help="strptime format of the date column when it is not ISO "
                                                  "8601, e.g. '%%m/%%d/%%Y %%H:%%M' (read as UTC)")
        parser.add_argument("--rejects", metavar="FILE", help="write rejected rows with their reasons here")
        parser.add_argument("--batch-size", type=int, default=5000, help="events per transaction (default 5000)")
        parser.add_argument("--no-broadcast", action="store_true", help="do not notify open dashboards")

    def handle(self, *args, file, rejects, no_broadcast, **options):
        if not os.path.isfile(file):
            raise CommandError(f"no such file: {file}")
        mapping = {name: options[name] for name in ("map_spec", "action", "defaults", "preset", "date_format")}
        started = time.perf_counter()

        with open(file, newline="", encoding="utf-8-sig") as handle, \
                tqdm(total=os.path.getsize(file), unit="B", unit_scale=True, desc="import", disable=None) as bar:
            def progress(totals: CsvImportTotals) -> None:
                bar.set_postfix(stored=totals.stored, rejected=totals.rejected, refresh=False)

            try:
                totals = events_import_csv(lines=_CountingLines(handle, bar), **mapping, rejects_path=rejects,
                                           batch_size=options["batch_size"], broadcast=not no_broadcast,
                                           progress=progress,
                                           name=f"import_events {os.path.basename(file)} {timezone.now():%F %H:%M}",
                                           )
            except MappingError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"read {totals.read}, stored {totals.stored}, duplicates {totals.duplicates}, "
            f"rejected {totals.rejected}" + (f" (reasons in {rejects})" if rejects and totals.rejected else "")
            + f" in {time.perf_counter() - started:.1f} s"
        )
        self.stdout.flush()  # said as soon as it is stored (a pipe is read while the figures are derived)
        derive_stored(self.stdout.write)
