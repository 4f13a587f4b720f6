"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and Gamma-Gamma
(Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note) by maximum likelihood.

Pure: arrays in, numbers out; no ORM. Per customer: ``x`` repeat purchases (orders after the first;
same-day orders are one), ``t_x`` time from the first to the last order, ``T`` time from the first
order to the end of the calibration period, in any one time unit (the scale parameter α is in that
unit; r, a and b have none). Gamma-Gamma takes ``x`` and ``m_x``, the mean value of the repeat orders.

The fit minimises the mean negative log-likelihood over the log-parameters (so they stay positive) with
L-BFGS-B (Nelder-Mead if that does not converge); customers with equal (x, t_x, T) are counted once with
a weight.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

# The optimiser starts here (log 1 = 0 for each parameter) and gives up after this many evaluations.
MAX_EVALUATIONS = 4000


class FitError(ValueError):
    """The data cannot be fitted (too few customers or repeat purchases), or the optimiser failed."""


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float  # γ, the scale of the spend distribution (in money)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class FitResult:
    params: Any
    log_likelihood: float
    converged: bool
    iterations: int
    customers: int


def _as_arrays(*columns: Any) -> list[np.ndarray]:
    arrays = [np.asarray(c, dtype=float) for c in columns]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise FitError("the columns must be one-dimensional and of equal length")
    return arrays


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the columns and how often each occurs."""
    unique, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def bgnbd_log_likelihood(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood (FHL 2005 eq. 6)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _minimise(objective, start: np.ndarray) -> tuple[np.ndarray, float, bool, int]:
    """L-BFGS-B (numerical gradient) from ``start``; Nelder-Mead from there when it did not converge."""
    best = minimize(objective, start, method="L-BFGS-B", options={"ftol": 1e-12, "gtol": 1e-8})
    iterations = int(best.nit)
    if not best.success or not np.isfinite(best.fun):
        fallback = minimize(objective, best.x if np.isfinite(best.fun) else start, method="Nelder-Mead",
                            options={"maxfev": MAX_EVALUATIONS, "xatol": 1e-7, "fatol": 1e-9})
        iterations += int(fallback.nit)
        if fallback.fun <= best.fun or not np.isfinite(best.fun):
            best = fallback
    if not np.all(np.isfinite(best.x)) or not np.isfinite(best.fun):
        raise FitError("the optimiser did not find finite parameters")
    return best.x, float(best.fun), bool(best.success), iterations


def bgnbd_fit(x: Any, t_x: Any, T: Any) -> FitResult:
    """Maximum-likelihood BG/NBD parameters for the customers' (x, t_x, T)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    if len(x) < 2 or not np.any(x > 0):
        raise FitError("BG/NBD needs at least two customers and one repeat purchase")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T + 1e-9) or np.any((x == 0) & (t_x != 0)):
        raise FitError("need x ≥ 0, 0 ≤ t_x ≤ T, and t_x = 0 where x = 0")
    (ux, ut, uT), weight = _compress(x, t_x, T)
    total = weight.sum()
    scale = float(np.mean(T)) or 1.0  # start α near the mean age so Nelder-Mead starts in range

    def objective(log_params: np.ndarray) -> float:
        if np.any(np.abs(log_params) > 30):
            return np.inf
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood(BgNbdParams(r, alpha * scale, a, b), ux, ut, uT)
        value = -float(np.dot(weight, ll)) / total
        return value if np.isfinite(value) else np.inf

    best, nll, converged, iterations = _minimise(objective, np.zeros(4))
    r, alpha, a, b = np.exp(best)
    return FitResult(BgNbdParams(float(r), float(alpha * scale), float(a), float(b)), -nll * total, converged,
                     iterations, len(x))


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood of their mean repeat order value (Fader & Hardie 2013, eq. 3)."""
    p, q, v = params.p, params.q, params.v
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m_x)
            + p * x * np.log(x) - (p * x + q) * np.log(v + x * m_x))


def gamma_gamma_fit(x: Any, m_x: Any) -> FitResult:
    """Maximum-likelihood Gamma-Gamma parameters on the customers with repeat purchases (x > 0, m_x > 0)."""
    x, m_x = _as_arrays(x, m_x)
    keep = (x > 0) & (m_x > 0)
    x, m_x = x[keep], m_x[keep]
    if len(x) < 2:
        raise FitError("Gamma-Gamma needs at least two customers with repeat purchases of positive value")
    (ux, um), weight = _compress(x, m_x)
    total = weight.sum()
    scale = float(np.mean(m_x))

    def objective(log_params: np.ndarray) -> float:
        if np.any(np.abs(log_params) > 30):
            return np.inf
        p, q, v = np.exp(log_params)
        ll = gamma_gamma_log_likelihood(GammaGammaParams(p, q, v * scale), ux, um)
        value = -float(np.dot(weight, ll)) / total
        return value if np.isfinite(value) else np.inf

    best, nll, converged, iterations = _minimise(objective, np.zeros(3))
    p, q, v = np.exp(best)
    return FitResult(GammaGammaParams(float(p), float(q), float(v * scale)), -nll * total, converged, iterations,
                     len(x))


def p_alive(params: BgNbdParams, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(the customer is still active at T | x, t_x, T) (FHL 2005 eq. 13)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (
            np.log(alpha + T) - np.log(alpha + t_x))
    odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700.0)), 0.0)
    return 1.0 / (1.0 + odds)


def expected_orders(params: BgNbdParams, t: float, x: Any, t_x: Any, T: Any, *,
                    given_alive: bool = False) -> np.ndarray:
    """Expected repeat orders in (T, T + t] given the history (FHL 2005 eq. 10); ``given_alive``: given
    also that the customer is still active at T (the same without the P(alive) factor)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    bracket = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp2f1(r + x, b + x,
                                                                                          a + b + x - 1, z)
    # 1 / (1 + δ a/(b+x-1) (…)^(r+x)) is P(alive); the formula is head × bracket × P(alive).
    result = head * bracket if given_alive else head * bracket * p_alive(params, x, t_x, T)
    return np.maximum(np.nan_to_num(result, nan=0.0, posinf=0.0, neginf=0.0), 0.0)


def expected_order_value(params: GammaGammaParams, x: Any, m_x: Any) -> np.ndarray:
    """Expected value of a customer's future order (the population mean p·γ/(q−1) where x = 0)."""
    x, m_x = _as_arrays(x, m_x)
    p, q, v = params.p, params.q, params.v
    population = p * v / (q - 1) if q > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = p * (v + x * m_x) / (p * x + q - 1)
    return np.where(x > 0, conditional, population)


def unconditional_expected_orders(params: BgNbdParams, t: Any) -> np.ndarray:
    """E[X(t)] for a new customer over t (FHL 2005 eq. 9): for the holdout check's totals."""
    t = np.asarray(t, dtype=float)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
