"""Currencies (docs/money.md). PURE: data in, data out; the rates come from ``events.rates``.

Rates are the European Central Bank's: per day, how many units of a currency buy 1 EUR. An amount in
currency C converts to the store currency S at ``per_eur(S) / per_eur(C)`` of the event's date, each
the latest published on or before that day (rates are not published on weekends and holidays);
EUR itself is 1. The store currency needs no rate; any other without a rate on or before the date
is refused with that reason.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from events.wire.reasons import Reason

EUR = "EUR"
CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0000000001")  # Event.fx_rate keeps 10 decimal places
CURRENCY_RE = re.compile(r"[A-Z]{3}")

# currency → (days ascending, per-EUR rates beside them)
RateTable = Mapping[str, tuple[Sequence[date], Sequence[Decimal]]]


def unknown_currency(code: str) -> Reason:
    return Reason(f"unknown currency {code!r}: no exchange rate for it (manage.py import_rates)",
                  "unknown_currency")


def no_rate(code: str, day: date) -> Reason:
    return Reason(f"no {code} exchange rate on or before {day.isoformat()}", "no_rate")


def per_eur(table: RateTable, code: str, day: date) -> Decimal | Reason:
    """Units of ``code`` for 1 EUR on ``day`` (the latest rate on or before it), or why there is none."""
    if code == EUR:
        return Decimal(1)
    series = table.get(code)
    if series is None or not series[0]:
        return unknown_currency(code)
    days, rates = series
    i = bisect.bisect_right(days, day)
    if i == 0:
        return no_rate(code, day)
    return rates[i - 1]


def rate_between(table: RateTable, source: str, store: str, day: date) -> Decimal | Reason:
    """Units of ``store`` currency for 1 unit of ``source`` on ``day`` (through the euro), or why not."""
    if source == store:
        return Decimal(1)
    src = per_eur(table, source, day)
    if isinstance(src, Reason):
        return src
    dst = per_eur(table, store, day)
    if isinstance(dst, Reason):
        return dst
    return (dst / src).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def convert(amount: Decimal | None, rate: Decimal) -> Decimal | None:
    """An amount at ``rate``, to the cent (None stays None)."""
    if amount is None:
        return None
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_ecb_csv(lines: Sequence[str] | object) -> list[tuple[date, str, Decimal]]:
    """(day, currency, per EUR) rows of the ECB's historical file (``eurofxref-hist.csv``):
    a header ``Date,USD,JPY,…`` (often with a trailing comma), one row a day, ``N/A`` or empty
    where a currency had no rate that day. Raises ``ValueError`` naming the line on a bad row."""
    import csv

    reader = csv.reader(lines)  # type: ignore[arg-type]
    header = next(reader, None)
    if not header or header[0].strip().lower() != "date":
        raise ValueError("not the ECB layout: the first column must be 'Date'")
    currencies = [c.strip().upper() for c in header[1:]]
    for code in currencies:
        if code and not CURRENCY_RE.fullmatch(code):
            raise ValueError(f"header: {code!r} is not an ISO 4217 code")
    out: list[tuple[date, str, Decimal]] = []
    for n, row in enumerate(reader, start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise ValueError(f"line {n}: {row[0]!r} is not a date (YYYY-MM-DD)") from None
        for code, cell in zip(currencies, row[1:], strict=False):
            cell = cell.strip()
            if not code or not cell or cell.upper() == "N/A":
                continue
            try:
                value = Decimal(cell)
            except ArithmeticError:
                raise ValueError(f"line {n}: {code} rate {cell!r} is not a number") from None
            if not value.is_finite() or value <= 0:
                raise ValueError(f"line {n}: {code} rate {cell!r} must be > 0")
            out.append((day, code, value))
    return out
