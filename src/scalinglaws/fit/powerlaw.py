"""Power-law fitters shared by every chapter.

Conventions: a power law is ``y = prefactor * x**(-exponent)``, so a falling curve has a *positive*
exponent; ``slope = -exponent`` is the log-log slope.  Every fitter validates its input (finite,
and positive where logs are taken) and raises a ``ValueError`` that says what is wrong and where.
A fit that cannot be made returns a :class:`~scalinglaws.fit.status.FitStatus` other than ``OK``
with a ``status_message`` (its numbers are then NaN, flagged, never a 0.0 standing in for a value);
``require()`` raises :class:`~scalinglaws.fit.status.FitError` for callers that need the number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy import optimize

from .status import FitError, FitStatus, near_bounds


# ----------------------------------------------------------------------------- validation
def as_1d(a: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _where(bad: np.ndarray, arr: np.ndarray) -> tuple[list, list]:
    """Up to five offending indices of a boolean mask, and the values there."""
    where = np.argwhere(bad)[:5]
    idx = [tuple(int(i) for i in w) if len(w) > 1 else int(w[0]) for w in where]
    return idx, [arr[tuple(w)] for w in where]


def check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx, vals = _where(bad, arr)
        raise ValueError(f"{name} contains {int(bad.sum())} non-finite value(s) at index "
                         f"{idx}{'...' if bad.sum() > 5 else ''}: {vals}")


def check_positive(arr: np.ndarray, name: str) -> None:
    check_finite(arr, name)
    bad = arr <= 0
    if bad.any():
        idx, vals = _where(bad, arr)
        raise ValueError(f"{name} must be > 0 for a log-log fit; {int(bad.sum())} value(s) are "
                         f"not, at index {idx}: {vals}")


def validate_xy(x: Sequence[float], y: Sequence[float], *, positive: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
    """1-D float arrays of equal length, finite (and positive, for log-log fits)."""
    x, y = as_1d(x, "x"), as_1d(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    check = check_positive if positive else check_finite
    check(x, "x")
    check(y, "y")
    return x, y


def _window(x: np.ndarray, x_min: float | None, x_max: float | None) -> np.ndarray:
    keep = np.ones_like(x, dtype=bool)
    if x_min is not None:
        keep &= x >= x_min
    if x_max is not None:
        keep &= x <= x_max
    return keep


# ----------------------------------------------------------------------------- pure power law
def interval_digits(lo: float, hi: float, digits: int, most: int = 3) -> int:
    """The decimals that tell an interval's two ends apart (``digits``, plus up to ``most``
    more), so that a narrow interval is not printed as ``[0.77, 0.77]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
        return digits
    for d in range(digits, digits + most + 1):
        if f"{lo:.{d}f}" != f"{hi:.{d}f}":
            return d
    return digits + most


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * x**(-exponent)`` fitted by least squares in log-log space."""

    exponent: float
    prefactor: float
    stderr: float           # standard error of the exponent (from the regression)
    n_points: int           # points used
    x_min: float            # range actually fitted
    x_max: float
    r2: float               # coefficient of determination in log space
    status: FitStatus = FitStatus.OK
    status_message: str = ""

    @property
    def slope(self) -> float:
        return -self.exponent

    @property
    def converged(self) -> bool:
        return self.status is FitStatus.OK

    def require(self) -> "PowerLawFit":
        """This fit, or a :class:`FitError` when it could not be made."""
        if not self.converged:
            raise FitError(f"power-law fit: {self.status}: {self.status_message}")
        return self

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        return self.prefactor * np.asarray(x, dtype=float) ** (-self.exponent)

    def label(self, name: str = "α", digits: int = 2) -> str:
        return f"{name} = {self.exponent:.{digits}f} ± {self.stderr:.{digits}f}"


def fit_power_law(x: Sequence[float], y: Sequence[float], x_min: float | None = None,
                  x_max: float | None = None) -> PowerLawFit:
    """Fit ``y = A x^-α`` by ordinary least squares of ``log y`` on ``log x``.

    Only points with ``x_min <= x <= x_max`` are used.  With fewer than two distinct x in the
    window, the result has ``status=FitStatus.TOO_FEW_POINTS`` and NaN numbers (use
    ``require()`` where the number is needed).
    """
    x, y = validate_xy(x, y)
    keep = _window(x, x_min, x_max)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    n = int(keep.sum())
    if n < 2 or np.ptp(lx) == 0:
        nan = math.nan
        return PowerLawFit(nan, nan, math.inf, n, float(x_min or nan), float(x_max or nan), nan,
                           status=FitStatus.TOO_FEW_POINTS,
                           status_message=f"{n} point(s) with distinct x in [{x_min}, {x_max}]")
    X = np.vstack([np.ones_like(lx), lx]).T
    coef, *_ = np.linalg.lstsq(X, ly, rcond=None)
    resid = ly - X @ coef
    dof = n - 2
    sxx = float(((lx - lx.mean()) ** 2).sum())
    se = math.sqrt(float(resid @ resid) / dof / sxx) if dof > 0 else math.inf
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0
    return PowerLawFit(exponent=float(-coef[1]), prefactor=float(math.exp(coef[0])), stderr=se,
                       n_points=n, x_min=float(x[keep].min()), x_max=float(x[keep].max()), r2=r2)


def local_slopes(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Log-log slopes between consecutive points.

    Returns ``(x_mid, slope)`` with ``x_mid`` the geometric midpoints; a pure power law
    ``x^-α`` gives ``slope == -α`` everywhere.
    """
    x, y = validate_xy(x, y)
    if len(x) < 2:
        raise ValueError("local_slopes needs at least two points")
    order = np.argsort(x)
    lx, ly = np.log(x[order]), np.log(y[order])
    dx = np.diff(lx)
    if np.any(dx == 0):
        raise ValueError("x has repeated values; local slopes are undefined there")
    return np.exp(0.5 * (lx[1:] + lx[:-1])), np.diff(ly) / dx


# ----------------------------------------------------------------------------- offset power law
@dataclass(frozen=True)
class OffsetPowerLawFit:
    """``y = prefactor * x**(-exponent) + offset`` (bounded least squares in log y)."""

    exponent: float
    prefactor: float
    offset: float
    stderr: float          # standard error of the exponent (from the Jacobian), inf if singular
    n_points: int
    status: FitStatus
    cost: float            # final sum of squared log residuals / 2
    status_message: str = ""

    @property
    def converged(self) -> bool:
        """Usable: converged, possibly with the exponent on an edge of ``exponent_bounds``."""
        return self.status.usable

    def require(self) -> "OffsetPowerLawFit":
        if not self.converged:
            raise FitError(f"offset power-law fit: {self.status}: {self.status_message}")
        return self

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        return self.prefactor * np.asarray(x, dtype=float) ** (-self.exponent) + self.offset


def fit_power_law_offset(x: Sequence[float], y: Sequence[float], x_min: float | None = None,
                         x_max: float | None = None, exponent_bounds: tuple[float, float] = (0.0, 10.0),
                         n_starts: int = 8) -> OffsetPowerLawFit:
    """Fit ``y = A x^-α + c`` with ``A > 0``, ``α`` in ``exponent_bounds`` and ``0 <= c < min(y)``.

    Residuals are ``log y - log(model)`` (every decade weighs the same).  Several starting
    exponents are tried; the best converged solution is returned.  An exponent on an edge of
    ``exponent_bounds`` is reported as ``FitStatus.BOUND_HIT``.
    """
    x, y = validate_xy(x, y)
    keep = _window(x, x_min, x_max)
    x, y = x[keep], y[keep]
    n = len(x)
    nan = math.nan
    if n < 4:
        return OffsetPowerLawFit(nan, nan, nan, math.inf, n, FitStatus.TOO_FEW_POINTS, math.inf,
                                 f"{n} points; 4 are needed for 3 parameters")
    xs = x / x.min()  # normalise so the prefactor is of order y
    ly = np.log(y)
    ymin = float(y.min())
    lo_a, hi_a = exponent_bounds

    def model(p: np.ndarray) -> np.ndarray:
        logA, a, c_frac = p
        return np.exp(logA) * xs ** (-a) + c_frac * ymin

    def resid(p: np.ndarray) -> np.ndarray:
        return np.log(model(p)) - ly

    best = None
    for a0 in np.linspace(lo_a + 0.05 * (hi_a - lo_a), lo_a + 0.5 * (hi_a - lo_a), n_starts):
        for c0 in (0.0, 0.5, 0.9):
            p0 = np.array([math.log(max(float(y.max()) - c0 * ymin, 1e-300)), a0, c0])
            try:
                r = optimize.least_squares(resid, p0, bounds=([-np.inf, lo_a, 0.0],
                                                              [np.inf, hi_a, 0.999999]),
                                           x_scale="jac", max_nfev=2000)
            except (ValueError, FloatingPointError):
                continue
            if not np.isfinite(r.cost):
                continue
            if best is None or r.cost < best.cost:
                best = r
    if best is None:
        return OffsetPowerLawFit(nan, nan, nan, math.inf, n, FitStatus.OPTIMIZER_FAILED, math.inf,
                                 "every start failed")
    logA, a, c_frac = best.x
    prefactor = math.exp(logA) * float(x.min()) ** a
    try:
        J = best.jac
        cov = np.linalg.inv(J.T @ J) * (2 * best.cost / max(1, n - 3))
        se = float(math.sqrt(cov[1, 1])) if cov[1, 1] >= 0 else math.inf
    except np.linalg.LinAlgError:
        se = math.inf
    status, msg = FitStatus.OK, ""
    if not best.success:
        status, msg = FitStatus.NOT_CONVERGED, str(best.message)
    elif near_bounds([a], [lo_a], [hi_a], ["exponent"]):
        status, msg = FitStatus.BOUND_HIT, f"exponent {a:g} on an edge of {exponent_bounds}"
    return OffsetPowerLawFit(float(a), prefactor, float(c_frac * ymin), se, n, status,
                             float(best.cost), msg)


# ----------------------------------------------------------------------------- bootstrap
@dataclass(frozen=True)
class BootstrapExponent:
    """Exponent of the seed-median curve, with a bootstrap over seeds."""

    exponent: float          # fit to the median over all seeds
    median: float            # median of the bootstrap distribution
    lo: float                # 16th percentile
    hi: float                # 84th percentile
    n_boot: int
    samples: np.ndarray = field(repr=False)
    fit: PowerLawFit = field(repr=False, default=None)  # type: ignore[assignment]

    def label(self, name: str = "α", digits: int = 2) -> str:
        """``α = 0.773 [0.771, 0.774]``: as many decimals as tell the interval's ends apart."""
        d = interval_digits(self.lo, self.hi, digits)
        return f"{name} = {self.exponent:.{d}f} [{self.lo:.{d}f}, {self.hi:.{d}f}]"


def bootstrap_exponent(x: Sequence[float], Y: np.ndarray, n_boot: int = 1000, seed: int = 0,
                       x_min: float | None = None, x_max: float | None = None,
                       aggregate: Callable[..., np.ndarray] = np.median) -> BootstrapExponent:
    """Bootstrap the fitted exponent over seeds.

    ``Y`` has shape ``(n_seeds, len(x))``.  Each replicate resamples seeds with replacement,
    aggregates them per x (median by default) and fits :func:`fit_power_law`.  Returns the point
    fit on all seeds, and the median and 16-84 % interval of the replicates.
    """
    x = as_1d(x, "x")
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape[1] != len(x):
        raise ValueError(f"Y must have shape (n_seeds, {len(x)}), got {Y.shape}")
    check_positive(x, "x")
    check_positive(Y, "Y")
    rs = np.random.default_rng(seed)
    point = fit_power_law(x, aggregate(Y, axis=0), x_min, x_max)
    if not point.converged:
        raise FitError(f"too few points in [{x_min}, {x_max}] to fit an exponent")
    keep = _window(x, x_min, x_max)
    lx = np.log(x[keep])
    lxc = lx - lx.mean()
    idx = rs.integers(0, Y.shape[0], size=(n_boot, Y.shape[0]))
    agg = aggregate(Y[:, keep][idx], axis=1)  # (n_boot, n_x)
    slopes = (np.log(agg) - np.log(agg).mean(1, keepdims=True)) @ lxc / (lxc @ lxc)
    samples = -slopes
    lo, med, hi = np.percentile(samples, [16, 50, 84])
    return BootstrapExponent(point.exponent, float(med), float(lo), float(hi), n_boot, samples,
                             point)


def fit_median(x: Sequence[float], Y: np.ndarray, x_min: float | None = None,
               x_max: float | None = None) -> PowerLawFit:
    """:func:`fit_power_law` of the median over seeds (rows of ``Y``; a 1-D ``Y`` is one curve)."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    return fit_power_law(x, np.median(Y, axis=0), x_min, x_max)
