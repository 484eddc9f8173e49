"""Statistical inventory reconciliation (SIR): is a tank leaking, from ≥ 30 days of daily reconciliation?

Pure statistics (numpy/scipy), no I/O. The input is one ``DailyReconciliation`` per tank and day, volumes at
20 °C: the measured opening and closing stock, the deliveries as the gauge measured them (received, not
invoiced: the road loss is not the tank's) and the sales booked that day. The day's variance is book minus
measured, ``(opening + deliveries − sales ± transfers and pump tests) − closing`` (domain.md §2.3): positive
is product missing.

The method (docs/leak-detection.md):

* The cumulative variance ``C(t)`` is regressed on the hours elapsed ``t``; the slope is the leak rate (L/h).
  A loss in proportion to what is sold is not a leak: a meter calibration error, a tank-chart scale error,
  a temperature-probe bias all look like ``k · cumulative sales``. Without a calibration ``k`` is a second
  regressor (fitted from how sales vary from day to day: honest, but 30 days rarely separate it from a
  leak, so the MDLR is large); with a ``Calibration`` (the station's pump tests, 加油机自检, give the meters'
  error) ``k`` is subtracted and its uncertainty added to the rate's.
* Two kinds of noise: each gauge reading's own error (independent from reading to reading: level, chart,
  temperature probe) and day-to-day errors that accumulate (temperature of what was sold, delivery volumes).
  The regression is generalised least squares with ``Cov = σ²·(I + r·min(tᵢ, tⱼ))``; the ratio ``r`` is
  fitted by restricted maximum likelihood (REML), so the standard error of the rate holds whichever kind of
  noise dominates.
* The rule of domain.md §2.3 (EPA 40 CFR 280 SIR, California wording): the threshold is ½ of the minimum
  detectable leak rate (MDLR). With the rate's standard error ``s`` and Student's ``t`` at 97.5 %:
  ``threshold = t·s`` (a tight tank crosses it with probability 5 %) and ``MDLR = 2·threshold`` (a tank
  leaking at the MDLR crosses it with probability ≥ 97.5 %). **fail** if |rate| ≥ threshold; **pass** if
  |rate| < threshold and MDLR ≤ the target (0.76 L/h = 0.2 gal/h); **inconclusive** otherwise (the data are
  too noisy to pass the tank).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

MIN_DAYS = 30                     # SIR needs at least 30 days of daily data (domain.md §2.3)
TARGET_L_H = 0.76                 # 0.2 gal/h: the monthly-test standard (0.38 L/h = 0.1 gal/h for tightness)
_RATIO_BOUNDS = (-9.0, 9.0)       # log r: from "all reading error" to "all accumulated error"

Vector = NDArray[np.float64]


class LeakDetectionError(ValueError):
    """The daily records cannot be tested (too few days, a day out of order); the message says what to do."""


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


VERDICT_ZH = {Verdict.PASS: "通过 (pass)", Verdict.FAIL: "未通过 (fail)",
              Verdict.INCONCLUSIVE: "无法判定 (inconclusive)"}


@dataclass(frozen=True, slots=True)
class DailyReconciliation:
    """One tank's day, litres at 20 °C. ``hours``: the span between the opening and closing readings;
    ``movements_l``: transfers in − transfers out + pump tests poured back (倒罐、回罐)."""

    day: date
    opening_l: float
    deliveries_l: float
    sales_l: float
    closing_l: float
    hours: float = 24.0
    movements_l: float = 0.0

    @property
    def variance_l(self) -> float:
        """Book minus measured: positive when product is missing."""
        return (self.opening_l + self.deliveries_l - self.sales_l + self.movements_l) - self.closing_l


@dataclass(frozen=True, slots=True)
class Calibration:
    """The loss per litre sold known from the station's checks, % (positive: the meters record less than they
    give), and its 1σ uncertainty, % (a pump test with a 20 L standard measure: a few hundredths of a %)."""

    loss_pct: float
    uncertainty_pct: float

    def __post_init__(self) -> None:
        if not (abs(self.loss_pct) <= 1.0 and 0.0 <= self.uncertainty_pct <= 1.0):
            raise LeakDetectionError("计量误差及其不确定度应在 ±1 % 以内 (calibration within ±1 %)")


@dataclass(frozen=True, slots=True)
class LeakTest:
    """The result for one tank over ``days`` days; rates in L/h, positive = product lost."""

    verdict: Verdict
    leak_rate_l_h: float
    threshold_l_h: float
    mdlr_l_h: float
    target_l_h: float
    standard_error_l_h: float
    loss_per_litre_sold_pct: float    # fitted, or the calibration's
    calibrated: bool                  # True when a Calibration gave the loss per litre sold
    days: int
    first_day: date
    last_day: date
    throughput_l: float               # litres sold over the period

    @property
    def verdict_zh(self) -> str:
        return VERDICT_ZH[self.verdict]


def verdict(rate_l_h: float, threshold_l_h: float, mdlr_l_h: float, target_l_h: float = TARGET_L_H) -> Verdict:
    """The rule of domain.md §2.3, on its own so it can be read and tested as written."""
    if abs(rate_l_h) >= threshold_l_h:
        return Verdict.FAIL
    if mdlr_l_h <= target_l_h:
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


def detect_leak(records: Sequence[DailyReconciliation], target_l_h: float = TARGET_L_H,
                calibration: Calibration | None = None) -> LeakTest:
    """SIR over ``records`` (one per day, in day order; a missing day is simply absent)."""
    if len(records) < MIN_DAYS:
        raise LeakDetectionError(f"需要至少 {MIN_DAYS} 天的日对账数据, 现有 {len(records)} 天 "
                                 f"(SIR needs {MIN_DAYS} days of daily reconciliation)")
    for before, after in itertools.pairwise(records):
        if after.day <= before.day:
            raise LeakDetectionError(f"日对账记录须按日期排列且每天一条: {before.day} 之后是 {after.day} "
                                     "(one record per day, in day order)")
    variance = np.array([r.variance_l for r in records], dtype=np.float64)
    hours = np.array([r.hours for r in records], dtype=np.float64)
    sales = np.array([r.sales_l for r in records], dtype=np.float64)
    deliveries = np.array([r.deliveries_l for r in records], dtype=np.float64)
    fit = fit_cumulative(variance, hours, sales, deliveries, calibration)
    df = len(records) + 1 - fit.parameters
    threshold = float(stats.t.ppf(0.975, df)) * fit.rate_se
    mdlr = 2.0 * threshold
    return LeakTest(verdict=verdict(fit.rate, threshold, mdlr, target_l_h), leak_rate_l_h=fit.rate,
                    threshold_l_h=threshold, mdlr_l_h=mdlr, target_l_h=target_l_h, standard_error_l_h=fit.rate_se,
                    loss_per_litre_sold_pct=fit.per_litre_sold * 100.0, calibrated=calibration is not None,
                    days=len(records), first_day=records[0].day, last_day=records[-1].day,
                    throughput_l=float(sales.sum()))


@dataclass(frozen=True, slots=True)
class CumulativeFit:
    rate: float                   # L/h
    rate_se: float                # its standard error, L/h
    per_litre_sold: float         # loss per litre sold (a fraction), fitted or given
    walk_ratio: float             # r: accumulated error variance per day over reading error variance
    parameters: int               # columns of the regression


def fit_cumulative(variance_l: Vector, hours: Vector, sales_l: Vector, deliveries_l: Vector,
                   calibration: Calibration | None = None) -> CumulativeFit:
    """GLS of the cumulative variance on elapsed hours (and cumulative sales unless calibrated), REML noise.

    Arrays are per day; the series starts at (t = 0, C = 0), the first opening reading."""
    t = np.concatenate(([0.0], np.cumsum(hours)))
    cumulative = np.concatenate(([0.0], np.cumsum(variance_l)))
    sold = np.concatenate(([0.0], np.cumsum(sales_l)))
    if calibration is not None:
        cumulative = cumulative - calibration.loss_pct / 100.0 * sold
        design = np.column_stack([np.ones_like(t), t])
    else:
        design = np.column_stack([np.ones_like(t), t, sold])
    scale = np.abs(design).max(axis=0)                 # well-conditioned columns; undone on the way out
    design = design / scale
    # the accumulated error grows with the litres moved (sold and delivered), not with the calendar
    moved = np.concatenate(([0.0], np.cumsum(sales_l + deliveries_l))) / max(float(np.mean(sales_l)), 1.0)
    walk = np.minimum.outer(moved, moved)
    identity = np.eye(len(t))

    def solve(log_ratio: float, y_raw: Vector) -> tuple[float, Vector, NDArray[np.float64]]:
        """REML criterion (to minimise), coefficients and their covariance for this noise ratio."""
        chol = np.linalg.cholesky(identity + math.exp(log_ratio) * walk)
        x = np.linalg.solve(chol, design)             # whitened
        y = np.linalg.solve(chol, y_raw)
        xtx = x.T @ x
        beta = np.linalg.solve(xtx, x.T @ y)
        residual = y - x @ beta
        dof = len(y) - design.shape[1]
        sigma2 = max(float(residual @ residual) / dof, 1e-12)
        criterion = (dof * math.log(sigma2) + 2.0 * float(np.log(np.diag(chol)).sum())
                     + float(np.linalg.slogdet(xtx)[1]))
        return criterion, beta, sigma2 * np.linalg.inv(xtx)

    best = optimize.minimize_scalar(lambda q: solve(float(q), cumulative)[0], bounds=_RATIO_BOUNDS,
                                    method="bounded", options={"xatol": 1e-3})
    log_ratio = float(best.x)
    _, beta, covariance = solve(log_ratio, cumulative)
    rate = float(beta[1] / scale[1])
    rate_var = float(covariance[1, 1]) / scale[1] ** 2
    if calibration is None:
        per_litre = float(beta[2] / scale[2])
    else:
        # how the fitted rate moves with the loss per litre sold: the same GLS applied to the sales
        _, sensitivity, _ = solve(log_ratio, sold)
        rate_var += (float(sensitivity[1] / scale[1]) * calibration.uncertainty_pct / 100.0) ** 2
        per_litre = calibration.loss_pct / 100.0
    return CumulativeFit(rate=rate, rate_se=math.sqrt(rate_var), per_litre_sold=per_litre,
                         walk_ratio=math.exp(log_ratio), parameters=design.shape[1])
