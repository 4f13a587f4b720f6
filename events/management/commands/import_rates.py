"""Import daily exchange rates from a file in the European Central Bank's historical layout
(``eurofxref-hist.csv`` from https://www.ecb.europa.eu/stats/eurofxref/: ``Date,USD,JPY,…`` rows of
units per euro, ``N/A`` where a currency had no rate). A day already stored is replaced, so
importing a newer file again is safe, and the sample rates go. ``--sample`` imports the excerpt
shipped with the project (generated rates, marked as samples) into a database without published
rates. Store-connection deliveries that waited for a rate are then stored."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.money import parse_ecb_csv
from events.services.rates import rates_import

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "eurofxref-hist-excerpt.csv"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="eurofxref-hist.csv (or an excerpt in its layout)")
        parser.add_argument("--sample", action="store_true", help=f"import the shipped excerpt ({SAMPLE.name})")

    def handle(self, *args, file, sample, **options):
        if bool(file) == bool(sample):
            raise CommandError("give a FILE or --sample (not both)")
        path = SAMPLE if sample else Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        with open(path, newline="", encoding="utf-8-sig") as handle:
            try:
                rows = parse_ecb_csv(handle)
            except ValueError as exc:
                raise CommandError(f"{path}: {exc}") from None
        n = rates_import(rows=rows, sample=sample)
        if sample and not n:
            self.stdout.write("Published exchange rates are stored: the sample rates were not imported.")
            return
        days = sorted({d for d, _, _ in rows})
        currencies = sorted({c for _, c, _ in rows})
        span = f" from {days[0]} to {days[-1]}" if days else ""
        kind = " sample (generated, not published)" if sample else ""
        self.stdout.write(f"{n}{kind} rates of {len(currencies)} currencies{span} (store currency "
                          f"{settings.STORE_CURRENCY}; EUR is the base)")
