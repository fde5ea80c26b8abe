"""Broken neural scaling laws (Caballero et al. 2023, arXiv:2210.14891, Eq. 1) and baselines.

The smoothly broken power law with n breaks::

    y = a + b * x^(-c0) * prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i * f_i)

``a`` is the limit, ``b`` the offset, ``c0`` the first segment's slope (of ``y - a`` on log-log
axes), ``c_i`` the change of slope at break ``i``, ``d_i`` its location and ``f_i`` its sharpness.
It is evaluated in log space with ``logaddexp`` so x may span 10^5..10^12 and breaks may be sharp
(f -> 0) without overflow.

:func:`fit_bnsl` needs no hand-tuned grid: ``y`` is linear in ``(a, b)`` for fixed shape
parameters ``(c0, c_i, d_i, f_i)``, so thousands of quasi-random (Sobol) shapes are scored at once
with ``(a, b)`` solved in closed form, and the best few are refined by bounded least squares on
``log y``.  The baselines M1-M4 are those of Alabdulmohsin, Neyshabur & Zhai (2022), reimplemented.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import optimize
from scipy.stats import qmc

from .powerlaw import OffsetPowerLawFit, check_positive, fit_power_law, fit_power_law_offset, validate_xy
from .status import FitStatus, near_bounds

_TINY = 1e-300


# ----------------------------------------------------------------------------- the form
def _softplus(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def log_bnsl_reducible(x: np.ndarray | Sequence[float], b: float, c0: float,
                       c: Sequence[float], d: Sequence[float], f: Sequence[float]) -> np.ndarray:
    """``log(y - a)`` of a BNSL, computed stably in log space."""
    lx = np.log(np.asarray(x, dtype=float))
    out = math.log(b) - c0 * lx
    for ci, di, fi in zip(c, d, f):
        out = out - ci * fi * _softplus((lx - math.log(di)) / fi)
    return out


def bnsl(x: np.ndarray | Sequence[float], a: float, b: float, c0: float, c: Sequence[float] = (),
         d: Sequence[float] = (), f: Sequence[float] = ()) -> np.ndarray:
    """Evaluate the BNSL (Eq. 1 of the paper); ``c, d, f`` have one entry per break."""
    if not (len(c) == len(d) == len(f)):
        raise ValueError(f"c, d, f must have one entry per break, got {len(c)}, {len(d)}, {len(f)}")
    if b <= 0 or any(di <= 0 for di in d) or any(fi <= 0 for fi in f):
        raise ValueError("b, every d_i and every f_i must be > 0")
    return a + np.exp(log_bnsl_reducible(x, b, c0, c, d, f))


def segment_slopes(c0: float, c: Sequence[float]) -> np.ndarray:
    """Log-log slopes of ``y - a`` on the n+1 power-law segments: ``-(c0 + c_1 + ... + c_k)``."""
    return -np.concatenate([[c0], c0 + np.cumsum(np.asarray(c, dtype=float))])


def segment_curves(x: np.ndarray | Sequence[float], b: float, c0: float, c: Sequence[float],
                   d: Sequence[float]) -> np.ndarray:
    """The n+1 power laws the BNSL follows between its breaks (valid when the f_i are small).

    Segment k is ``b d_1^-c0 (d_2/d_1)^-(c0+c1) ... (x/d_k)^-(c0+...+c_k)``; returns (n+1, len(x)).
    """
    x = np.asarray(x, dtype=float)
    out = []
    logpre = math.log(b)
    slopes = -segment_slopes(c0, c)
    anchors = [1.0] + list(d)
    for k in range(len(slopes)):
        if k > 0:
            logpre += -slopes[k - 1] * math.log(anchors[k] / anchors[k - 1])
        out.append(np.exp(logpre - slopes[k] * np.log(x / anchors[k])))
    return np.asarray(out)


# ----------------------------------------------------------------------------- metrics
def rmsle(pred: Sequence[float], true: Sequence[float]) -> float:
    """Root mean squared log error ``sqrt(mean((log pred - log true)^2))``; ``inf`` when any
    prediction is not positive (a log error is undefined there)."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    check_positive(true, "true values")
    if not np.all(np.isfinite(pred)) or np.any(pred <= 0):
        return math.inf
    return float(np.sqrt(np.mean((np.log(pred) - np.log(true)) ** 2)))


def root_standard_log_error(pred: Sequence[float], true: Sequence[float]) -> float:
    """The uncertainty Alabdulmohsin et al. (2022) and the BNSL paper report beside the RMSLE:
    ``sqrt(mu + std(sq)/sqrt(n)) - sqrt(mu)`` with ``sq`` the squared log errors, ``mu`` their mean."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    if not np.all(np.isfinite(pred)) or np.any(pred <= 0):
        return math.inf
    sq = (np.log(pred) - np.log(true)) ** 2
    mu = float(sq.mean())
    return float(math.sqrt(mu + sq.std() / math.sqrt(len(sq))) - math.sqrt(mu))


# ----------------------------------------------------------------------------- BNSL fit
@dataclass(frozen=True)
class BNSLFit:
    """A fitted BNSL.  ``status`` says whether the fit can be used (:class:`FitStatus`);
    values are never NaN."""

    a: float
    b: float
    c0: float
    c: tuple[float, ...]
    d: tuple[float, ...]
    f: tuple[float, ...]
    fit_rmsle: float
    status: FitStatus
    n_points: int
    n_starts: int
    name: str = "BNSL"
    status_message: str = ""

    @property
    def n_breaks(self) -> int:
        return len(self.c)

    @property
    def converged(self) -> bool:
        return self.status.usable

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        return bnsl(x, self.a, self.b, self.c0, self.c, self.d, self.f)

    def slopes(self) -> np.ndarray:
        return segment_slopes(self.c0, self.c)

    def params(self) -> dict[str, float]:
        p = {"a": self.a, "b": self.b, "c0": self.c0}
        for i, (ci, di, fi) in enumerate(zip(self.c, self.d, self.f), start=1):
            p.update({f"c{i}": ci, f"d{i}": di, f"f{i}": fi})
        return p


@dataclass(frozen=True)
class BNSLBounds:
    """Search box of :func:`fit_bnsl`, in the fitter's units (x normalised by its smallest value)."""

    c0: tuple[float, float] = (-1.0, 5.0)
    c: tuple[float, float] = (-10.0, 25.0)
    log10_f: tuple[float, float] = (-2.5, 1.0)
    #: break locations from x_min * 10^lo to x_max * 10^hi
    log10_d_margin: tuple[float, float] = (-1.0, 1.0)


def _validate_xy(x: Sequence[float], y: Sequence[float], n_params: int, what: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    x, y = validate_xy(x, y)
    if len(x) < n_params:
        raise ValueError(f"{what} has {n_params} parameters but only {len(x)} points were given; "
                         f"use fewer breaks (n_breaks) or more points")
    order = np.argsort(x)
    return x[order], y[order]


def fit_bnsl(x: Sequence[float], y: Sequence[float], n_breaks: int = 1, *, n_starts: int = 4096,
             n_refine: int = 6, seed: int = 0, bounds: BNSLBounds | None = None,
             tol: float = 1e-10, max_nfev: int = 1000, penalty: float = 0.0) -> BNSLFit:
    """Fit a BNSL with ``n_breaks`` breaks to positive data, minimising squared errors of ``log y``.

    Stage 1 scores ``n_starts`` (times 8 per break beyond the first) Sobol points of the shape
    parameters ``(c0, c_i, log d_i, log f_i)``
    with ``(a, b)`` solved in closed form (weighted linear least squares, ``0 <= a < min y``,
    ``b > 0``); stage 2 refines the best ``n_refine`` by bounded trust-region least squares on
    ``log y - log(model)``.  Raises ``ValueError`` on NaN, non-positive values or fewer points
    than parameters.

    ``penalty = lam > 0`` guards noisy data against breaks the points cannot see: the refined
    fits are refined again with one extra residual ``lam * sigma * g_i`` per break, where
    ``sigma`` is the noise level the best unpenalised fit leaves (its RMS log residual, corrected
    for its parameters) and ``g_i`` is the part of the break's change of slope that happens
    beyond the last fitted x (:func:`unseen_break_terms`).  Such a change costs about
    ``lam^2 g_i^2`` points' worth of squared residual at the noise level; on noiseless data
    ``sigma`` is ~0 and the fit is unchanged.  The winner is the lowest penalised cost.
    """
    if not isinstance(n_breaks, (int, np.integer)) or n_breaks < 0:
        raise ValueError(f"n_breaks must be an integer >= 0, got {n_breaks!r}")
    if penalty < 0 or not math.isfinite(penalty):
        raise ValueError(f"penalty must be a finite number >= 0, got {penalty!r}")
    n_par = 3 + 3 * n_breaks
    x, y = _validate_xy(x, y, n_par, f"a BNSL with n_breaks={n_breaks}")
    bnd = bounds or BNSLBounds()
    x_ref = float(x.min())
    lx = np.log(x / x_ref)
    ly = np.log(y)
    ymin, ymax = float(y.min()), float(y.max())
    a_hi = 0.999 * ymin
    ld_lo = bnd.log10_d_margin[0]
    ld_hi = float(np.log10(x.max() / x_ref)) + bnd.log10_d_margin[1]
    nb = n_breaks

    # shape box: c0, c_1..n, log10 d_1..n, log10 f_1..n
    lo = np.array([bnd.c0[0]] + [bnd.c[0]] * nb + [ld_lo] * nb + [bnd.log10_f[0]] * nb)
    hi = np.array([bnd.c0[1]] + [bnd.c[1]] * nb + [ld_hi] * nb + [bnd.log10_f[1]] * nb)

    def log_shape(phi: np.ndarray) -> np.ndarray:
        return _bnsl_log_shape(phi, lx, nb)

    # ---- stage 1: quasi-random shapes, (a, b) in closed form; 3 more dimensions per break, so
    # the number of starts grows 8-fold per break beyond the first
    total = n_starts * 8 ** max(0, nb - 1)
    m = max(1, int(math.ceil(math.log2(max(2, total)))))
    sob = qmc.Sobol(d=len(lo), scramble=True, seed=seed).random_base2(m)
    phi = lo + sob * (hi - lo)
    lg = np.clip(log_shape(phi), -700, 700)
    g = np.exp(lg)
    u2 = 1.0 / y ** 2                       # weights: relative errors ~ log errors
    s11, s12, s22 = u2.sum(), (u2 * g).sum(1), (u2 * g * g).sum(1)
    r1, r2 = (u2 * y).sum(), (u2 * g * y).sum(1)
    det = s11 * s22 - s12 ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(det > 0, (s22 * r1 - s12 * r2) / det, 0.0)
        a = np.clip(np.nan_to_num(a), 0.0, a_hi)
        b = (r2 - a * s12) / s22
    ok = np.isfinite(b) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pred = np.logaddexp(np.log(np.maximum(a, _TINY))[:, None],
                            np.log(np.where(ok, b, 1.0))[:, None] + lg)
        cost = np.where(ok, ((pred - ly) ** 2).mean(1), np.inf)
    order = np.argsort(cost)

    # ---- stage 2: bounded least squares on log y from the best distinct starts
    # least_squares asks for the Jacobian at the point whose residuals it has just computed: the
    # model's log terms are kept from that call instead of being computed twice
    terms = _LastCall(lambda theta: _bnsl_log_terms(theta, lx, nb))

    def resid(theta: np.ndarray) -> np.ndarray:
        return terms(theta)[1] - ly

    def jac(theta: np.ndarray) -> np.ndarray:
        return bnsl_log_jacobian(theta, lx, nb, terms=terms(theta))

    lb_b, ub_b = math.log10(ymax) - 12, math.log10(ymax) + 6
    lower = np.concatenate([[0.0, lb_b], lo])
    upper = np.concatenate([[a_hi, ub_b], hi])

    def solve(th0: np.ndarray, nfev: int, tolerance: float):
        th0 = np.clip(th0, lower + 1e-12 * (upper - lower), upper - 1e-12 * (upper - lower))
        try:
            return optimize.least_squares(resid, th0, jac=jac, bounds=(lower, upper), method="trf",
                                          x_scale="jac", ftol=tolerance, xtol=tolerance,
                                          gtol=tolerance, max_nfev=nfev)
        except (ValueError, FloatingPointError):
            return None

    # Diverse good starts.  With one break the stage-1 ranking is reliable and the best starts are
    # refined fully.  With more breaks the space is larger and ranking noisier: four times as many
    # diverse starts are screened by a short run and the best screened ones are refined fully.
    n_pick = n_refine if nb <= 1 else 4 * n_refine
    min_sep = 0.02 if nb <= 1 else 0.1
    span = hi - lo
    picked: list[int] = []
    for k in order:
        if len(picked) >= n_pick or not np.isfinite(cost[k]):
            break
        if any(np.max(np.abs(phi[k] - phi[j]) / span) < min_sep for j in picked):
            continue  # near-duplicate start
        picked.append(int(k))
    inits = [np.concatenate([[a[k], math.log10(b[k])], phi[k]]) for k in picked]
    if nb > 1:
        screened = [r for r in (solve(t, 40, 1e-6) for t in inits)
                    if r is not None and np.isfinite(r.cost)]
        screened.sort(key=lambda r: r.cost)
        inits = [r.x for r in screened[:n_refine]]
    refined = []
    for th0 in inits:
        r = solve(th0, max_nfev, tol)
        if r is not None and np.isfinite(r.cost):
            refined.append(r)
            if 2 * r.cost / len(ly) < 1e-24:
                break  # RMSLE below 1e-12: the data are matched to rounding error
    if not refined:
        raise RuntimeError("fit_bnsl: every refinement failed")  # pragma: no cover
    best = min(refined, key=lambda r: r.cost)
    if penalty > 0 and nb > 0:
        best = _penalised_refit(best, refined, resid, jac, lower, upper, nb,
                                ld_hi_data=float(lx[-1] / math.log(10)), penalty=penalty,
                                n=len(ly), tol=tol, max_nfev=max_nfev)
    a_, log10b, ph = best.x[0], best.x[1], best.x[2:]
    c0 = float(ph[0])
    cs = tuple(float(v) for v in ph[1:1 + nb])
    ds = tuple(float(10 ** v * x_ref) for v in ph[1 + nb:1 + 2 * nb])
    fs = tuple(float(10 ** v) for v in ph[1 + 2 * nb:])
    b_nat = float(10 ** log10b * x_ref ** c0)  # undo the normalisation of x
    status, msg = FitStatus.OK, ""
    names = [None, "log10 b", "c0"] + [f"c{i}" for i in range(1, nb + 1)] \
        + [f"log10 d{i}" for i in range(1, nb + 1)] + [f"log10 f{i}" for i in range(1, nb + 1)]
    if best.status <= 0:
        status, msg = FitStatus.NOT_CONVERGED, str(best.message)
    else:
        hits = near_bounds(best.x, lower, upper, names)
        if hits:  # a on its bounds [0, min y) is the form's domain, not the search box
            status, msg = FitStatus.BOUND_HIT, "on an edge of the search box: " + ", ".join(hits)
    fit_err = float(np.sqrt(np.mean(best.fun ** 2)))
    return BNSLFit(float(a_), b_nat, c0, cs, ds, fs, fit_err, status, len(x), len(phi),
                   name=f"BNSL ({nb} break{'s' if nb != 1 else ''})", status_message=msg)


def unseen_break_terms(theta: np.ndarray, nb: int, ld_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The penalty terms of :func:`fit_bnsl` (before the factor ``lam * sigma``) and their
    Jacobian: per break, the part of its change of slope that happens beyond the last fitted x,
    ``c_i * sigmoid(-u_i)`` with ``u_i = ln(x_max / d_i) / f_i`` (``ld_hi`` = log10 of last /
    first x; a break well inside the data has ``u >> 0`` and costs nothing)."""
    c = theta[3:3 + nb]
    ld = theta[3 + nb:3 + 2 * nb]
    lf = theta[3 + 2 * nb:3 + 3 * nb]
    u = (ld_hi - ld) * math.log(10) / 10.0 ** lf
    s_neg = 0.5 * (1 - np.tanh(0.5 * u))              # sigmoid(-u), overflow-free
    terms = c * s_neg
    ds = -s_neg * (1 - s_neg)                         # d sigmoid(-u) / du
    J = np.zeros((nb, len(theta)))
    for i in range(nb):
        J[i, 3 + i] = s_neg[i]
        J[i, 3 + nb + i] = c[i] * ds[i] * (-math.log(10) / 10.0 ** lf[i])
        J[i, 3 + 2 * nb + i] = c[i] * ds[i] * (-u[i] * math.log(10))
    return terms, J


#: refined fits (the best by unpenalised cost) that :func:`fit_bnsl` refines again under its
#: penalty
PENALISED_REFITS = 2


def _penalised_refit(best, refined, resid, jac, lower, upper, nb, *, ld_hi_data, penalty, n,
                     tol, max_nfev):
    """Refine every refined fit again under :func:`unseen_break_terms` (see :func:`fit_bnsl`);
    the lowest penalised cost wins."""
    n_par = len(best.x)
    sigma = math.sqrt(2 * best.cost / max(1, n - n_par))
    w = penalty * sigma
    if w < 1e-9:
        return best

    def presid(t):
        return np.concatenate([resid(t), w * unseen_break_terms(t, nb, ld_hi_data)[0]])

    def pjac(t):
        return np.vstack([jac(t), w * unseen_break_terms(t, nb, ld_hi_data)[1]])

    out, out_cost = best, math.inf
    for r in sorted(refined, key=lambda r: r.cost)[:PENALISED_REFITS]:
        th0 = np.clip(r.x, lower + 1e-12 * (upper - lower), upper - 1e-12 * (upper - lower))
        try:
            p = optimize.least_squares(presid, th0, jac=pjac, bounds=(lower, upper), method="trf",
                                       x_scale="jac", ftol=max(tol, 1e-9), xtol=max(tol, 1e-9),
                                       gtol=max(tol, 1e-9), max_nfev=min(max_nfev, 300))
        except (ValueError, FloatingPointError):
            continue
        if np.isfinite(p.cost) and p.cost < out_cost:
            out, out_cost = p, p.cost
    if out is not best:  # report the data part of the residuals only
        out.fun = resid(out.x)
    return out


def _bnsl_log_shape(phi: np.ndarray, lx: np.ndarray, nb: int) -> np.ndarray:
    """``log g(x)`` of BNSL shapes ``phi`` (S, 1 + 3 nb) = (c0, c_i, log10 d_i, log10 f_i) on
    ``lx = log(x / x_ref)``, shape (S, n)."""
    out = -phi[:, :1] * lx[None, :]
    for i in range(nb):
        ci = phi[:, 1 + i:2 + i]
        ldi = phi[:, 1 + nb + i:2 + nb + i] * math.log(10)
        fi = 10.0 ** phi[:, 1 + 2 * nb + i:2 + 2 * nb + i]
        out = out - ci * fi * _softplus((lx[None, :] - ldi) / fi)
    return out


class _LastCall:
    """``f(theta)`` remembered for the last ``theta`` it was called with (an optimiser evaluates
    residuals and Jacobian at the same point one after the other)."""

    def __init__(self, f):
        self.f, self.key, self.value = f, None, None

    def __call__(self, theta: np.ndarray):
        key = np.asarray(theta, float).tobytes()
        if key != self.key:
            self.key, self.value = key, self.f(theta)
        return self.value


def _bnsl_log_terms(theta: np.ndarray, lx: np.ndarray, nb: int) -> tuple[np.ndarray, np.ndarray]:
    """``(log(b g(x)), log(model))`` of a BNSL at ``theta`` (see :func:`bnsl_log_residual`)."""
    a_, log10b, ph = theta[0], theta[1], theta[2:]
    L = log10b * math.log(10) + _bnsl_log_shape(ph[None, :], lx, nb)[0]
    return L, np.logaddexp(math.log(max(a_, _TINY)), L)


def bnsl_log_residual(theta: np.ndarray, lx: np.ndarray, ly: np.ndarray, nb: int) -> np.ndarray:
    """Residuals ``log(model) - log y`` of :func:`fit_bnsl`'s refinement.

    ``theta = (a, log10 b, c0, c_1..nb, log10 d_1..nb, log10 f_1..nb)`` in units where x is
    normalised by its smallest value (``lx = log(x / x_min)``)."""
    return _bnsl_log_terms(theta, lx, nb)[1] - ly


def bnsl_log_jacobian(theta: np.ndarray, lx: np.ndarray, nb: int,
                      terms: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Analytic Jacobian of :func:`bnsl_log_residual` with respect to ``theta`` (n, 3 + 3 nb);
    ``terms``: :func:`_bnsl_log_terms` at ``theta`` when already computed."""
    ln10 = math.log(10)
    ph = theta[2:]
    L, lm = terms if terms is not None else _bnsl_log_terms(theta, lx, nb)
    w = np.exp(L - lm)                      # e^L / m
    J = np.empty((len(lx), len(theta)))
    J[:, 0] = np.exp(-lm)                   # d/da
    J[:, 1] = w * ln10                      # d/dlog10 b
    J[:, 2] = -w * lx                       # d/dc0
    for i in range(nb):
        ci, fi = ph[1 + i], 10.0 ** ph[1 + 2 * nb + i]
        s = (lx - ph[1 + nb + i] * ln10) / fi
        sp = _softplus(s)
        sig = np.exp(-_softplus(-s))
        J[:, 3 + i] = -w * fi * sp
        J[:, 3 + nb + i] = w * ci * sig * ln10
        J[:, 3 + 2 * nb + i] = w * ln10 * fi * ci * (s * sig - sp)
    return J


# ----------------------------------------------------------------------------- baselines M1-M4
@dataclass(frozen=True)
class BaselineFit:
    """A fitted baseline form of Alabdulmohsin et al. (2022): M1, M2, M3 or M4."""

    name: str
    params: dict[str, float]
    fit_rmsle: float
    status: FitStatus
    extra: dict = field(default_factory=dict)
    status_message: str = ""

    @property
    def converged(self) -> bool:
        return FitStatus(self.status).usable

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        p = self.params
        if self.name == "M1":
            return p["beta"] * x ** (-p["c"])
        if self.name == "M2":
            return p["eps_inf"] + p["beta"] * x ** (-p["c"])
        if self.name == "M3":
            return p["beta"] * (1.0 / x + p["gamma"]) ** p["c"]
        if self.name == "M4":
            return _m4_solve(x, p["eps_inf"], p["eps_0"], p["alpha"], p["beta"], p["c"])
        raise ValueError(f"unknown baseline {self.name!r}")  # pragma: no cover


def fit_m1(x: Sequence[float], y: Sequence[float]) -> BaselineFit:
    """M1: ``eps = beta x^-c`` (a straight line on log-log axes)."""
    x, y = _validate_xy(x, y, 2, "M1")
    f = fit_power_law(x, y)
    fit = BaselineFit("M1", {"beta": f.prefactor, "c": f.exponent}, 0.0, f.status,
                      status_message=f.status_message)
    return _with_rmsle(fit, x, y)


@functools.lru_cache(maxsize=8)
def _offset_power_law_of(xb: bytes, yb: bytes) -> OffsetPowerLawFit:
    return fit_power_law_offset(np.frombuffer(xb), np.frombuffer(yb), exponent_bounds=(0.0, 5.0),
                                n_starts=3)


def _offset_power_law(x: np.ndarray, y: np.ndarray) -> OffsetPowerLawFit:
    """M2's fit, which M4 starts from: computed once per data set when both are fitted."""
    return _offset_power_law_of(np.ascontiguousarray(x, float).tobytes(),
                                np.ascontiguousarray(y, float).tobytes())


def fit_m2(x: Sequence[float], y: Sequence[float]) -> BaselineFit:
    """M2: ``eps = eps_inf + beta x^-c`` (a power law plus a limit)."""
    x, y = _validate_xy(x, y, 3, "M2")
    f = _offset_power_law(x, y)
    fit = BaselineFit("M2", {"eps_inf": f.offset, "beta": f.prefactor, "c": f.exponent}, 0.0,
                      f.status, status_message=f.status_message)
    return _with_rmsle(fit, x, y)


def fit_m3(x: Sequence[float], y: Sequence[float]) -> BaselineFit:
    """M3: ``eps = beta (1/x + gamma)^c`` with ``c >= 0``, ``gamma >= 0``."""
    x, y = _validate_xy(x, y, 3, "M3")
    ly = np.log(y)
    x_ref = float(x.min())
    xs = x / x_ref  # in these units 1/xs <= 1

    def resid(t: np.ndarray) -> np.ndarray:
        logbeta, c, log10g = t
        return logbeta + c * np.log(1.0 / xs + 10.0 ** log10g) - ly

    best = None
    for c0 in (0.3, 1.0):
        for g0 in (-4.0, -1.0):
            t0 = np.array([float(ly.max()), c0, g0])
            r = optimize.least_squares(resid, t0, bounds=([-np.inf, 0.0, -12.0], [np.inf, 10.0, 3.0]),
                                       x_scale="jac", max_nfev=500)
            if best is None or r.cost < best.cost:
                best = r
    logbeta, c, log10g = best.x
    gamma_s = 10.0 ** log10g
    # back to natural units: (1/xs + g) = x_ref (1/x + g/x_ref)
    params = {"beta": float(math.exp(logbeta) * x_ref ** c), "gamma": float(gamma_s / x_ref),
              "c": float(c)}
    st, msg = _ls_status(best, [-np.inf, 0.0, -12.0], [np.inf, 10.0, 3.0], [None, "c", "log10 gamma"])
    fit = BaselineFit("M3", params, 0.0, st, status_message=msg)
    return _with_rmsle(fit, x, y)


def _m4_solve(x: np.ndarray, eps_inf: float, eps_0: float, alpha: float, beta: float,
              c: float, iters: int = 45) -> np.ndarray:
    """Solve ``(e - eps_inf) / (eps_0 - e)^alpha = beta x^-c`` for e in (eps_inf, eps_0).

    With ``e = eps_inf + t (eps_0 - eps_inf)`` the left side's log is increasing in
    ``u = logit(t)``; bisection on ``u`` in [-60, 60] (45 halvings: |du| < 4e-12)."""
    span = eps_0 - eps_inf
    rhs = math.log(beta) - c * np.log(np.asarray(x, float)) - (1.0 - alpha) * math.log(span)
    lo = np.full(rhs.shape, -60.0)
    hi = np.full(rhs.shape, 60.0)
    for _ in range(iters):
        u = 0.5 * (lo + hi)
        lhs = -_softplus(-u) + alpha * _softplus(u)  # log t - alpha log(1 - t)
        up = lhs < rhs
        lo = np.where(up, u, lo)
        hi = np.where(up, hi, u)
    u = 0.5 * (lo + hi)
    return eps_inf + span * np.exp(-_softplus(-u))


def fit_m4(x: Sequence[float], y: Sequence[float]) -> BaselineFit:
    """M4: ``(eps - eps_inf) / (eps_0 - eps)^alpha = beta x^-c``, an implicit sigmoid-like form
    with a limit ``eps_inf`` and an initial loss ``eps_0`` (``eps_inf <= min y < max y < eps_0``).

    With ``alpha = 0`` it is M2, so the fit starts from M2's solution (and from ``alpha = 1``)."""
    x, y = _validate_xy(x, y, 5, "M4")
    ly = np.log(y)
    ymin, ymax = float(y.min()), float(y.max())
    x_ref = float(x.min())
    xs = x / x_ref

    def unpack(t: np.ndarray) -> tuple[float, float, float, float, float]:
        return m4_unpack(t, ymin, ymax)

    # the implicit equation is solved once per point: the Jacobian is asked for where the
    # residuals were just computed
    solve = _LastCall(lambda t: _m4_solve(xs, *unpack(t)))

    def resid(t: np.ndarray) -> np.ndarray:
        return m4_log_residual(t, xs, ly, ymin, ymax, e=solve(t))

    def jac(t: np.ndarray) -> np.ndarray:
        return m4_log_jacobian(t, xs, ymin, ymax, e=solve(t))

    m2 = _offset_power_law(x, y)
    if m2.converged:
        frac0, c_m2 = min(max(m2.offset / ymin, 0.0), 0.99), m2.exponent
        logbeta0 = math.log(max(m2.prefactor, _TINY)) - m2.exponent * math.log(x_ref)
    else:  # start from a flat curve at the data's level
        frac0, c_m2, logbeta0 = 0.5, 0.5, math.log(ymax)
    lower = [0.0, -8.0, 0.0, -60.0, 0.0]
    upper = [0.999, 5.0, 5.0, 60.0, 10.0]
    best = None
    for t0 in ([frac0, 0.0, 0.0, logbeta0, c_m2], [0.5 * frac0, 0.0, 1.0, logbeta0, 1.0]):
        t0 = np.clip(np.asarray(t0, float), np.asarray(lower) + 1e-9, np.asarray(upper) - 1e-9)
        try:
            r = optimize.least_squares(resid, t0, jac=jac, bounds=(lower, upper),
                                       x_scale="jac", max_nfev=300)
        except (ValueError, FloatingPointError):
            continue
        if best is None or r.cost < best.cost:
            best = r
    if best is None:  # pragma: no cover - both starts failed
        return BaselineFit("M4", {"eps_inf": 0.0, "eps_0": 2 * ymax, "alpha": 0.0,
                                  "beta": ymax, "c": 0.0}, math.inf,
                           FitStatus.OPTIMIZER_FAILED, status_message="both starts failed")
    eps_inf, eps_0, alpha, beta_s, c = unpack(best.x)
    params = {"eps_inf": eps_inf, "eps_0": eps_0, "alpha": float(alpha),
              "beta": float(beta_s * x_ref ** c), "c": float(c)}
    st, msg = _ls_status(best, lower, upper, [None, "log eps_0 excess", "alpha", "log beta", "c"])
    fit = BaselineFit("M4", params, 0.0, st, status_message=msg)
    return _with_rmsle(fit, x, y)


def _with_rmsle(fit: BaselineFit, x: np.ndarray, y: np.ndarray) -> BaselineFit:
    return BaselineFit(fit.name, fit.params, rmsle(fit.predict(x), y), fit.status, fit.extra,
                       fit.status_message)


def _ls_status(r, lower, upper, names) -> tuple[FitStatus, str]:
    """Status of a ``scipy.optimize.least_squares`` result in a search box."""
    if r.status <= 0:
        return FitStatus.NOT_CONVERGED, str(r.message)
    hits = near_bounds(r.x, lower, upper, names)
    if hits:
        return FitStatus.BOUND_HIT, "on an edge of the search box: " + ", ".join(hits)
    return FitStatus.OK, ""


def m4_unpack(t: np.ndarray, ymin: float, ymax: float) -> tuple[float, float, float, float, float]:
    """M4's fit parameters ``(frac_inf, log eps_0 excess, alpha, log beta, c)`` in natural form
    ``(eps_inf, eps_0, alpha, beta, c)`` (x normalised by its smallest value)."""
    frac_inf, log_e0_excess, alpha, logbeta, c = t
    return frac_inf * ymin, ymax * (1.0 + math.exp(log_e0_excess)), alpha, math.exp(logbeta), c


def m4_log_residual(t: np.ndarray, xs: np.ndarray, ly: np.ndarray, ymin: float, ymax: float,
                    e: np.ndarray | None = None) -> np.ndarray:
    """Residuals ``log(M4) - log y`` of :func:`fit_m4` (``xs = x / x_min``); ``e``: the model's
    values at ``t`` when already solved for."""
    pred = _m4_solve(xs, *m4_unpack(t, ymin, ymax)) if e is None else e
    return np.log(np.maximum(pred, _TINY)) - ly


def m4_log_jacobian(t: np.ndarray, xs: np.ndarray, ymin: float, ymax: float,
                    e: np.ndarray | None = None) -> np.ndarray:
    """Jacobian of :func:`m4_log_residual` by the implicit-function theorem:
    ``F(e, θ) = log(e - ε∞) - α log(ε0 - e) - log β + c log x = 0`` gives
    ``de/dθ = -F_θ / F_e`` and ``d log e / dθ = (de/dθ) / e``."""
    eps_inf, eps_0, alpha, beta, c = m4_unpack(t, ymin, ymax)
    if e is None:
        e = _m4_solve(xs, eps_inf, eps_0, alpha, beta, c)
    lo_gap = np.maximum(e - eps_inf, _TINY)
    hi_gap = np.maximum(eps_0 - e, _TINY)
    Fe = 1.0 / lo_gap + alpha / hi_gap
    scale = -1.0 / (Fe * e)
    J = np.empty((len(xs), 5))
    J[:, 0] = scale * (-1.0 / lo_gap) * ymin                               # frac_inf
    J[:, 1] = scale * (-alpha / hi_gap) * ymax * math.exp(t[1])            # log e0 excess
    J[:, 2] = scale * (-np.log(hi_gap))                                    # alpha
    J[:, 3] = scale * (-1.0)                                               # log beta
    J[:, 4] = scale * np.log(xs)                                           # c
    return J


BASELINES = {"M1": fit_m1, "M2": fit_m2, "M3": fit_m3, "M4": fit_m4}


# ----------------------------------------------------------------------------- official procedure
def fit_bnsl_official_grid(x: Sequence[float], y: Sequence[float], grid: Sequence[slice],
                           b_base: float = 1.25, b_shift: float = 1.0,
                           grid_stride: int = 1) -> BNSLFit:
    """The official 1-break procedure, reimplemented (no code copied): a brute-force 6-D grid over
    ``(a, b~, c0, c1, d~, f1)`` scored by the mean squared error of ``log(y + 1)`` with
    ``b = b_base^b~ - b_shift``, ``d = b_base^d~ - b_shift``, then unbounded Levenberg-Marquardt
    on ``log(y + 1)`` from the best grid point.  ``grid_stride > 1`` scores the grid on every
    ``grid_stride``-th point only (the refinement always uses all points)."""
    x, y = _validate_xy(x, y, 6, "the official 1-break fit")
    axes = [np.arange(s.start, s.stop, s.step) for s in grid]
    ly1 = np.log(y + 1)
    xg, lyg = x[::grid_stride], ly1[::grid_stride]
    P = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)  # (G, 6)
    best_cost, best_row = np.inf, 0
    chunk = max(1, (1 << 21) // len(xg))  # ~2M evaluations per chunk
    for i in range(0, len(P), chunk):
        a, bt, c0, c1, dt, f1 = (P[i:i + chunk, k:k + 1] for k in range(6))
        b = b_base ** bt - b_shift
        d = b_base ** dt - b_shift
        with np.errstate(all="ignore"):
            yy = a + b * xg ** (-c0) * (1 + (xg / d) ** (1 / f1)) ** (-c1 * f1)
            cost = np.mean((np.log(yy + 1) - lyg) ** 2, axis=1)
        cost = np.where(np.isfinite(cost), cost, np.inf)
        j = int(np.argmin(cost))
        if cost[j] < best_cost:
            best_cost, best_row = float(cost[j]), i + j
    a0, bt0, c00, c10, dt0, f10 = P[best_row]
    p0 = [a0, b_base ** bt0 - b_shift, c00, c10, b_base ** dt0 - b_shift, f10]

    def model_log1p(xx: np.ndarray, a: float, b: float, c0: float, c1: float, d1: float,
                    f1: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.log(a + b * xx ** (-c0) * (1 + (xx / d1) ** (1 / f1)) ** (-c1 * f1) + 1)

    status, msg = FitStatus.OK, ""
    try:
        popt, _ = optimize.curve_fit(model_log1p, x, ly1, p0=p0, maxfev=100000)
    except (RuntimeError, ValueError) as exc:
        popt, status, msg = np.asarray(p0, float), FitStatus.NOT_CONVERGED, str(exc)
    a, b, c0, c1, d1, f1 = (float(v) for v in popt)
    ok = b > 0 and d1 > 0 and f1 > 0
    if not ok:  # outside the form's domain: no prediction can be made (RMSLE infinite)
        return BNSLFit(a, abs(b) or 1.0, c0, (c1,), (abs(d1) or 1.0,), (abs(f1) or 1.0,),
                       math.inf, FitStatus.INVALID_PARAMETERS, len(x), len(P), name="official grid",
                       status_message=f"b={b:g}, d1={d1:g}, f1={f1:g} must all be > 0")
    pred = bnsl(x, a, b, c0, (c1,), (d1,), (f1,))
    return BNSLFit(a, b, c0, (c1,), (d1,), (f1,), rmsle(pred, y), status, len(x), len(P),
                   name="official grid", status_message=msg)


# ----------------------------------------------------------------------------- choosing breaks
@dataclass(frozen=True)
class BreakSelection:
    """A BNSL whose number of breaks was chosen on held-out fit points (see :func:`fit_bnsl_select`)."""

    fit: BNSLFit                      # refitted on all points with the chosen number of breaks
    n_breaks: int
    holdout_rmsle: dict               # candidate breaks -> RMSLE on the held-out last points
    n_holdout: int


def holdout_scores(x: Sequence[float], y: Sequence[float], breaks: Sequence[int] = (0, 1, 2), *,
                   holdout: int | None = None, n_starts: int = 1024, n_refine: int = 4,
                   seed: int = 0, penalty: float = 0.0) -> tuple[dict[int, float], int]:
    """The held-out break rule's scores: every candidate number of breaks that leaves at least
    one point per parameter plus one is fitted without the last ``holdout`` points (default: a
    fifth of them, at least 2; a quarter of the starts) and scored by its RMSLE on them.
    Returns ``({breaks: RMSLE}, holdout)``."""
    x, y = _validate_xy(x, y, 3, "a BNSL")
    n = len(x)
    h = max(2, n // 5) if holdout is None else int(holdout)
    if not 1 <= h < n - 3:
        raise ValueError(f"holdout must leave >= 4 points to fit, got holdout={h} of {n}")
    scores: dict[int, float] = {}
    for nb in breaks:
        if 3 + 3 * nb + 1 > n - h:
            continue
        f = fit_bnsl(x[:-h], y[:-h], nb, n_starts=max(64, n_starts // 4),
                     n_refine=max(1, n_refine // 2), seed=seed, penalty=penalty)
        scores[nb] = rmsle(f.predict(x[-h:]), y[-h:])
    if not scores:
        raise ValueError(f"no candidate number of breaks fits {n - h} points")
    return scores, h


def chosen_breaks(scores: dict[int, float]) -> int:
    """The rule's choice: the lowest held-out RMSLE, the fewer breaks on a tie."""
    return min(scores, key=lambda k: (scores[k], k))


def fit_bnsl_select(x: Sequence[float], y: Sequence[float], breaks: Sequence[int] = (0, 1, 2), *,
                    holdout: int | None = None, n_starts: int = 1024, n_refine: int = 4,
                    seed: int = 0, penalty: float = 0.0) -> BreakSelection:
    """Fit a BNSL with the number of breaks chosen by extrapolation to held-out points.

    The last ``holdout`` points are held out and every candidate scored on them
    (:func:`holdout_scores`); the winner is refitted on all points.  This is the quantity we
    care about -- extrapolation -- measured on the data at hand, instead of a break count fixed
    in advance (the BNSL paper's Appendix A.6 describes the same idea: hold out the largest
    fitting points to choose the number of breaks)."""
    scores, h = holdout_scores(x, y, breaks, holdout=holdout, n_starts=n_starts,
                               n_refine=n_refine, seed=seed, penalty=penalty)
    best = chosen_breaks(scores)
    return BreakSelection(fit_bnsl(x, y, best, n_starts=n_starts, n_refine=n_refine, seed=seed,
                                   penalty=penalty), best, scores, h)
