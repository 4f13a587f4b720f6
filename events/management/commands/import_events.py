import csv
import json
import os
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from events.csv_import import MAPPABLE, CsvMapping, MappingError
from events.services import events_ingest


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
    help = (
        "Import events from a CSV file of any size (streamed, constant memory) through the ingest "
        "service: validated, deduplicated by event_id (rows without one get an id derived from row "
        "number and content, so importing a file again stores nothing twice), stored in batches."
    )

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

    def handle(self, *args, file, map_spec, action, defaults, preset, date_format, rejects, batch_size,
               no_broadcast, **options):
        if not os.path.isfile(file):
            raise CommandError(f"no such file: {file}")
        totals = {"read": 0, "stored": 0, "duplicates": 0, "rejected": 0}
        with open(file, newline="", encoding="utf-8-sig") as handle, \
                tqdm(total=os.path.getsize(file), unit="B", unit_scale=True, desc="import", disable=None) as bar:
            reader = csv.DictReader(_CountingLines(handle, bar))
            try:
                mapping = CsvMapping.build(reader.fieldnames or [], map_spec=map_spec, defaults=defaults,
                                           action=action, preset=preset, date_format=date_format)
            except MappingError as exc:
                raise CommandError(str(exc)) from exc
            reject_writer = None
            reject_handle = open(rejects, "w", newline="", encoding="utf-8") if rejects else None
            try:
                if reject_handle is not None:
                    reject_writer = csv.writer(reject_handle)
                    reject_writer.writerow(["row", *(reader.fieldnames or []), "errors"])
                row_number = 0
                while True:
                    rows = list(islice(reader, batch_size))
                    if not rows:
                        break
                    events, positions, rejected = [], [], []
                    for row in rows:
                        row_number += 1
                        event = mapping.to_event(row, row_number)
                        if "errors" in event:
                            rejected.append((row_number, row, event["errors"]))
                        else:
                            events.append(event)
                            positions.append((row_number, row))
                    result = events_ingest(raw_events=events, source="csv", broadcast=not no_broadcast)
                    for entry in result.rejected:
                        number, row = positions[entry["index"]]
                        rejected.append((number, row, entry["errors"]))
                    totals["read"] += len(rows)
                    totals["stored"] += result.accepted
                    totals["duplicates"] += len(result.duplicates)
                    totals["rejected"] += len(rejected)
                    if reject_writer is not None:
                        for number, row, errors in sorted(rejected, key=lambda r: r[0]):
                            reject_writer.writerow([number, *(row.get(f, "") for f in reader.fieldnames or []),
                                                    json.dumps(errors)])
                    bar.set_postfix(stored=totals["stored"], rejected=totals["rejected"], refresh=False)
            finally:
                if reject_handle is not None:
                    reject_handle.close()
        self.stdout.write(
            f"read {totals['read']}, stored {totals['stored']}, duplicates {totals['duplicates']}, "
            f"rejected {totals['rejected']}" + (f" (reasons in {rejects})" if rejects and totals["rejected"] else "")
        )
