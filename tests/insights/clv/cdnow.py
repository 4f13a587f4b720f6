"""The CDNOW sample (tests/insights/fixtures/README.md) and the published parameters it must give."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample.csv"
CALIBRATION_END = dt.date(1997, 9, 30)  # 39 weeks from 1997-01-01: T of a 1 January buyer is 38.86 weeks

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", time in weeks.
BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013), 946 repeat buyers.
GAMMA_GAMMA_PUBLISHED = {"p": 6.25, "q": 3.74, "v": 15.44}


def read_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer id, order day, amount) per line."""
    with open(SAMPLE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    customers = np.array([r["customer_id"] for r in rows])
    days = np.array([f"{r['date'][:4]}-{r['date'][4:6]}-{r['date'][6:]}" for r in rows], dtype="datetime64[D]")
    return customers, days, np.array([float(r["amount"]) for r in rows])


def within(found: dict[str, float], published: dict[str, float], tolerance: float = 0.01) -> dict[str, float]:
    """The parameters off by more than ``tolerance`` (relative), with their relative error."""
    return {k: abs(found[k] / v - 1) for k, v in published.items() if abs(found[k] / v - 1) > tolerance}
