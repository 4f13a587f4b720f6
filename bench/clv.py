"""Predicted-CLV benchmark (docs/benchmarks.md): BG/NBD + Gamma-Gamma by maximum likelihood (insights/clv) on
customers simulated from known BG/NBD parameters (pure: no database).

    .venv/bin/python bench/clv.py [--customers 100000] [--seed 1]

Prints the time to summarise the transactions, fit BG/NBD, fit Gamma-Gamma and predict every customer,
and the fitted parameters beside the true ones. Target: the whole fit of 100,000 customers in ≤ 30 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from insights.clv.bgnbd import bgnbd_fit, gamma_gamma_fit  # noqa: E402
from insights.clv.predict import predict  # noqa: E402
from insights.clv.summary import customer_summary  # noqa: E402

TRUE = {"r": 0.8, "alpha": 40.0, "a": 0.6, "b": 3.0}  # days
HISTORY_DAYS = 395  # 13 months


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, day, value) of n customers who first buy in the 13 months, BG/NBD after that."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    dropout = rng.beta(TRUE["a"], TRUE["b"], n)
    spend = rng.gamma(6.0, 15.0 / 4.0, n)  # each customer's mean order value
    first = rng.integers(0, HISTORY_DAYS, n)
    customers, days = [], []
    for i in range(n):
        t = float(first[i])
        customers.append(i)
        days.append(int(t))
        while True:
            t += rng.exponential(1 / rates[i])
            if t > HISTORY_DAYS:
                break
            customers.append(i)
            days.append(int(t))
            if rng.random() < dropout[i]:
                break
    who = np.array(customers)
    values = rng.gamma(6.0, spend[who] / 6.0)
    return who, np.datetime64("2024-01-01") + np.array(days), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    customers, days, values = simulate(args.customers, args.seed)
    until = dt.date(2024, 1, 1) + dt.timedelta(days=HISTORY_DAYS)
    print(f"{args.customers:,} customers, {len(customers):,} orders over {HISTORY_DAYS} days")
    timings = {}
    started = time.perf_counter()
    summary = customer_summary(customers, days, values, until=until)
    timings["summary"] = time.perf_counter() - started
    step = time.perf_counter()
    bgnbd = bgnbd_fit(summary.x, summary.t_x, summary.T)
    timings["BG/NBD fit"] = time.perf_counter() - step
    step = time.perf_counter()
    gg = gamma_gamma_fit(summary.x, summary.m_x)
    timings["Gamma-Gamma fit"] = time.perf_counter() - step
    step = time.perf_counter()
    predict(summary, bgnbd.params, gg.params)
    timings["predict"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    for name, seconds in timings.items():
        print(f"  {name:<16} {seconds:6.2f} s")
    fitted = bgnbd.params.as_dict()
    print("  BG/NBD true   " + "  ".join(f"{k} {v:.3f}" for k, v in TRUE.items()))
    print("  BG/NBD fitted " + "  ".join(f"{k} {fitted[k]:.3f}" for k in TRUE))
    print(f"  Gamma-Gamma p {gg.params.p:.3f} q {gg.params.q:.3f} gamma {gg.params.v:.3f} "
          f"({gg.customers:,} repeat buyers)")
    print(f"target ≤ 30 s: {'met' if timings['total'] <= 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
