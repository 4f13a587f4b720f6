"""From transactions (customer, order date, order value) to the BG/NBD and Gamma-Gamma inputs.

Pure. As lifetimes' ``summary_data_from_transaction_data`` does: orders on the same day are one
transaction (values added up); orders after ``until`` are left out; ``x`` = days with an order after
the first, ``t_x`` = days from the first to the last, ``T`` = days from the first to ``until``;
``m_x`` = mean value of the repeat transactions (0 where x = 0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CustomerSummary:
    customer: np.ndarray  # the customers' ids, sorted
    x: np.ndarray
    t_x: np.ndarray  # days
    T: np.ndarray  # days
    m_x: np.ndarray
    first: np.ndarray  # datetime64[D]
    last: np.ndarray  # datetime64[D]
    total_value: np.ndarray  # all transactions, the first included

    def __len__(self) -> int:
        return len(self.customer)


def _day(until: dt.date) -> np.datetime64:
    return np.datetime64(until.isoformat(), "D")


def customer_summary(customers: Any, days: Any, values: Any, *, until: dt.date) -> CustomerSummary:
    """Per customer (x, t_x, T, m_x) up to and including ``until`` from one row per order."""
    customer = np.asarray(customers)
    day = np.asarray(days, dtype="datetime64[D]")
    value = np.asarray(values, dtype=float)
    keep = day <= _day(until)
    customer, day, value = customer[keep], day[keep], value[keep]
    # One transaction per customer and day.
    order = np.lexsort((day, customer))
    customer, day, value = customer[order], day[order], value[order]
    new_pair = np.ones(len(customer), dtype=bool)
    new_pair[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
    pair_start = np.flatnonzero(new_pair)
    customer, day = customer[pair_start], day[pair_start]
    value = np.add.reduceat(value, pair_start) if len(pair_start) else value[:0]
    # Per customer.
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]]) if len(customer) else np.array([], int)
    counts = np.diff(np.r_[starts, len(customer)])
    first = day[starts]
    last = day[starts + counts - 1] if len(starts) else day[:0]
    total = np.add.reduceat(value, starts) if len(starts) else value[:0]
    x = (counts - 1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_x = np.where(x > 0, (total - value[starts]) / np.maximum(x, 1), 0.0)
    return CustomerSummary(
        customer=customer[starts], x=x,
        t_x=(last - first).astype(float), T=(_day(until) - first).astype(float),
        m_x=m_x, first=first, last=last, total_value=total)
