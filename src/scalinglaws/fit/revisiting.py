"""The estimators M1-M4 of Alabdulmohsin, Neyshabur & Zhai (2022), *Revisiting Neural Scaling
Laws in Language and Vision* (arXiv:2209.06640), re-stated from their published algorithm.

The BNSL paper scores its form against **these authors' own fits** ("Numbers for M1, M2, M3, and
M4 were obtained via correspondence with authors of Alabdulmohsin et al." -- its table caption),
so chapter 4 fits them the way their public code does, side by side with the book's own
better-fitted M1-M4 (:mod:`scalinglaws.fit.bnsl`).  Nothing is copied: the algorithm is re-stated
from its description and re-written in batched numpy (many curves in one program).

All four write the law as ``g(y) = beta x^c`` (``c <= 0`` for a falling loss) and minimise the
squared residual in that transformed space, ``log g(y) - log beta - c log x``, not the
prediction-space log error:

* **M1** ``g = y``: one least-squares line in log-log.
* **M2** ``g = y - eps_inf``: alternate (i) ``(log beta, c)`` by least squares, (ii) ``eps_inf``
  by projected gradient descent (step 1e-8, 1000 steps) for the first 100 rounds, then by
  damped Newton steps (0.1, 100 steps), projected onto ``[0, min y - 1e-3]``; stop when
  ``beta`` moves by less than 1e-10 (after the gradient rounds) or after 10,000 rounds.
* **M3** ``y = beta (1/x + gamma)^c``: alternate (i) ``(log beta, c)`` by least squares on
  ``log(1/x + gamma)`` (``c`` clipped at 0), (ii) ``gamma`` chosen from the grid of values that
  solve the law exactly at each single point (``gamma_i = (y_i / beta)^(1/c) - 1/x_i >= 0``),
  keeping the best objective.
* **M4** ``g = (y - eps_inf) / (eps_0 - y)^alpha``: alternate (i) ``(log beta, -c, alpha)`` by
  non-negative least squares on the columns ``(1, -log x, log(eps_0 - y))``, the last column
  built **once** from the initial ``eps_0``, (ii) ``(eps_inf, eps_0)`` by the gradient then
  Newton steps of M2, projected onto ``eps_inf in [0, min y - 1e-3]``,
  ``eps_0 in [max y + 1e-3, bound + 1e-3]``.  Per domain (their notebook): ``eps_0`` starts
  at 1.0 with bound 1.0 on image classification, at 1.001 with bound 1.0 on BIG-Bench, and at
  1.0 without a bound on NMT and LM (log-perplexity).  Predictions solve the implicit law on a
  10,000-point grid of ``[eps_inf, eps_0]``, as theirs do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Sequence

import numpy as np

#: the margin their projections keep from the smallest and largest observed loss
ERR_MARGIN = 1e-3
#: a second derivative below this is not used for a Newton step (M4), nor an alpha for M4's
#: implicit solve
EPS = 1e-5
#: their notebook's M4 settings per domain: (initial eps_0, upper bound on eps_0 or None)
DOMAIN_M4 = {"IC": (1.0, 1.0), "BB": (1.001, 1.0), "NMT": (1.0, None), "LM": (1.0, None)}
FORMS = ("M1", "M2", "M3", "M4")


@dataclass(frozen=True)
class RevisitingFit:
    """One fitted estimator: its parameters in their convention (``c <= 0``), the rounds it
    took, and whether it stopped by its own criterion."""

    name: str
    params: dict[str, float]
    rounds: int
    converged: bool
    grid: int = 10_000
    extra: dict = field(default_factory=dict)

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        p = self.params
        if self.name == "M1":
            return p["beta"] * x ** p["c"]
        if self.name == "M2":
            return p["eps_inf"] + p["beta"] * x ** p["c"]
        if self.name == "M3":
            return p["beta"] * (1.0 / x + p["gamma"]) ** p["c"]
        if self.name == "M4":
            f = p["beta"] * x ** p["c"]
            if abs(p["alpha"]) < EPS:
                return p["eps_inf"] + f
            span = p["eps_0"] - p["eps_inf"]
            w = np.linspace(0.0, span, self.grid)
            out = np.empty_like(x)
            for i in range(0, x.size, 256):      # (256, grid) at a time
                fi = f.ravel()[i:i + 256, None]
                k = np.argmin(np.abs(w[None, :] - fi * (span - w[None, :]) ** p["alpha"]), 1)
                out.ravel()[i:i + 256] = w[k]
            return p["eps_inf"] + out
        raise ValueError(f"unknown estimator {self.name!r}")  # pragma: no cover


class _Batch:
    """Curves padded to one (C, N) array; ``m`` masks the real points, ``n`` counts them."""

    def __init__(self, curves: Sequence[tuple[np.ndarray, np.ndarray]]):
        if not curves:
            raise ValueError("no curves to fit")
        C, N = len(curves), max(len(x) for x, _ in curves)
        self.x = np.ones((C, N))
        self.y = np.ones((C, N))
        self.m = np.zeros((C, N), bool)
        for i, (x, y) in enumerate(curves):
            x, y = np.asarray(x, float), np.asarray(y, float)
            if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
                raise ValueError(f"curve {i}: x and y must be 1-D of one length >= 3")
            if not (np.all(np.isfinite(x)) and np.all(x > 0) and np.all(np.isfinite(y))
                    and np.all(y > 0)):
                raise ValueError(f"curve {i}: x and y must be finite and > 0")
            o = np.argsort(x)
            self.x[i, :len(x)], self.y[i, :len(x)], self.m[i, :len(x)] = x[o], y[o], True
        # padding repeats a real point so that every elementwise operation stays finite
        for i in range(C):
            k = int(self.m[i].sum())
            self.x[i, k:], self.y[i, k:] = self.x[i, k - 1], self.y[i, k - 1]
        self.n = self.m.sum(1).astype(float)
        self.w = self.m.astype(float)
        self.lx = np.log(self.x)
        self.min_err = np.where(self.m, self.y, np.inf).min(1) - ERR_MARGIN
        self.max_err = np.where(self.m, self.y, -np.inf).max(1) + ERR_MARGIN

    def take(self, idx: np.ndarray) -> "_Batch":
        """The sub-batch of curves ``idx`` (no copy of the per-point work beyond slicing)."""
        out = object.__new__(_Batch)
        for k in ("x", "y", "m", "n", "w", "lx", "min_err", "max_err"):
            setattr(out, k, getattr(self, k)[idx])
        return out

    def mean(self, v: np.ndarray) -> np.ndarray:
        return (v * self.w).sum(1) / self.n

    def line(self, z: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per curve, least squares ``z = a + b u`` over the real points: ``(a, b)``."""
        mu, mz = self.mean(u), self.mean(z)
        du, dz = (u - mu[:, None]) * self.w, (z - mz[:, None]) * self.w
        suu = (du * du).sum(1)
        b = np.where(suu > 0, (du * dz).sum(1) / np.where(suu > 0, suu, 1.0), 0.0)
        return mz - b * mu, b


def _nnls3(A: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per curve, non-negative least squares of ``z`` (C, N) on three columns ``A`` (C, N, 3)
    over the points weighted by ``w`` (0/1): the best of the least-squares solutions on every
    subset of columns whose coefficients are all >= 0 (that best is the NNLS solution)."""
    G = np.einsum("cni,cnj,cn->cij", A, A, w)
    h = np.einsum("cni,cn,cn->ci", A, z, w)
    zz = np.einsum("cn,cn,cn->c", z, z, w)
    C = len(z)
    best, best_cost = np.zeros((C, 3)), zz.copy()   # the empty support: all zeros
    for k in (1, 2, 3):
        for S in combinations(range(3), k):
            idx = np.asarray(S)
            Gs = G[:, idx[:, None], idx[None, :]]
            xs = np.einsum("cij,cj->ci", np.linalg.pinv(Gs), h[:, idx])
            full = np.zeros((C, 3))
            full[:, idx] = xs
            cost = zz - 2 * np.einsum("ci,ci->c", full, h) + np.einsum("ci,cij,cj->c", full, G, full)
            ok = np.all(xs >= 0, 1) & (cost < best_cost - 1e-15 * np.abs(best_cost))
            best[ok], best_cost[ok] = full[ok], cost[ok]
    return best


def _m1(B: _Batch) -> list[RevisitingFit]:
    a, b = B.line(np.log(B.y), B.lx)
    return [RevisitingFit("M1", {"beta": float(math.exp(a[i])), "c": float(b[i])}, 1, True)
            for i in range(len(a))]


def _stopped(live: np.ndarray, logb: np.ndarray, beta_old: np.ndarray, rounds: np.ndarray,
             stop: float, may_stop: bool) -> np.ndarray:
    """The end of a round for the ``live`` curves: count it, and say which stop by their
    criterion (``beta`` moved by less than ``stop``, once ``may_stop``); updates ``rounds`` and
    ``beta_old`` in place."""
    rounds[live] += 1
    beta = np.exp(logb[live])
    done = (np.abs(beta - beta_old[live]) < stop) & may_stop
    beta_old[live] = beta
    return done


def _m2(B: _Batch, max_iterations: int, grad_iters: int, epochs: int, lr: float, stop: float,
        newton: tuple[int, float]) -> list[RevisitingFit]:
    C = len(B.y)
    eps = B.min_err.copy()
    logb, c = np.zeros(C), np.full(C, -0.5)
    beta_old = np.ones(C)
    rounds = np.zeros(C, int)
    live, S = np.arange(C), B            # curves still iterating, and their sub-batch
    for k in range(max_iterations):
        if not live.size:
            break
        e = eps[live]
        logb[live], c[live] = S.line(np.log(S.y - e[:, None]), S.lx)
        log_f = logb[live, None] + c[live, None] * S.lx
        use_newton = k >= grad_iters
        for _ in range(newton[0] if use_newton else epochs):
            gap = S.y - e[:, None]
            r = np.log(gap) - log_f
            grad = -S.mean(r / gap)
            if use_newton:
                hess = S.mean((1 - r) / gap ** 2)
                step = newton[1] * grad / np.where(hess != 0, hess, np.inf)
            else:
                step = lr * grad
            e = np.minimum(np.maximum(e - step, 0.0), S.min_err)
        eps[live] = e
        done = _stopped(live, logb, beta_old, rounds, stop, k > grad_iters + 1)
        if done.any():
            live = live[~done]
            S = B.take(live)
    return [RevisitingFit("M2", {"eps_inf": float(eps[i]), "beta": float(math.exp(logb[i])),
                                 "c": float(c[i])}, int(rounds[i]), bool(i not in live))
            for i in range(C)]


def _m3(B: _Batch, max_iterations: int, stop: float) -> list[RevisitingFit]:
    C = len(B.y)
    gamma = np.zeros(C)
    logb, c = np.zeros(C), np.full(C, -0.5)
    beta_old = np.ones(C)
    rounds = np.zeros(C, int)
    live, S = np.arange(C), B            # curves still iterating, and their sub-batch

    def objective(S: _Batch, lb: np.ndarray, cc: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Their objective for candidate gammas ``g`` (L, K) of the live curves: (L, K)."""
        with np.errstate(all="ignore"):
            r = np.log(S.y)[:, None, :] - lb[:, None, None] - cc[:, None, None] * np.log(
                1.0 / S.x[:, None, :] + g[:, :, None])
            return 0.5 * np.sqrt(np.sum(r ** 2 * S.w[:, None, :], 2))

    for _ in range(max_iterations):
        if not live.size:
            break
        g = gamma[live]
        a_, b_ = S.line(np.log(S.y), np.log(1.0 / S.x + g[:, None]))
        logb[live], c[live] = a_, np.maximum(0.0, b_)
        lb, cc = logb[live], c[live]
        with np.errstate(all="ignore"):
            cand = (S.y / np.exp(lb)[:, None]) ** (1.0 / cc[:, None]) - 1.0 / S.x
        cand = np.where(S.m & np.isfinite(cand) & (cand >= 0), cand, np.nan)
        cur = objective(S, lb, cc, g[:, None])[:, 0]
        obj = np.where(np.isnan(cand), np.inf, objective(S, lb, cc, np.nan_to_num(cand)))
        j = np.argmin(obj, 1)
        rows = np.arange(len(live))
        gamma[live] = np.where(obj[rows, j] < cur, cand[rows, j], g)
        done = _stopped(live, logb, beta_old, rounds, stop, True)
        if done.any():
            live = live[~done]
            S = B.take(live)
    return [RevisitingFit("M3", {"beta": float(math.exp(logb[i])), "c": float(c[i]),
                                 "gamma": float(gamma[i])}, int(rounds[i]), bool(i not in live))
            for i in range(C)]


def _m4(B: _Batch, eps0_init: np.ndarray, up_bound: np.ndarray, max_iterations: int,
        grad_iters: int, epochs: int, lr: float, stop: float, newton: tuple[int, float]
        ) -> list[RevisitingFit]:
    """M4 on a batch; ``eps0_init`` and ``up_bound`` per curve (``inf``: no bound)."""
    C = len(B.y)
    bad = np.flatnonzero(np.where(B.m, B.y, -np.inf).max(1) >= eps0_init)
    if bad.size:
        raise ValueError(f"M4: curve {int(bad[0])} has a loss >= its initial eps_0 "
                         f"{eps0_init[bad[0]]} (the regression column is log(eps_0 - y))")
    A = np.stack([np.ones_like(B.x), -B.lx, np.log(eps0_init[:, None] - B.y)], -1)
    up = up_bound + ERR_MARGIN
    eps = B.min_err.copy()
    e0 = np.asarray(eps0_init, float).copy()
    logb, c, alpha = np.zeros(C), np.full(C, -0.5), np.zeros(C)
    beta_old = np.ones(C)
    rounds = np.zeros(C, int)
    live, S, A_live = np.arange(C), B, A      # curves still iterating, their sub-batch
    for k in range(max_iterations):
        if not live.size:
            break
        ei, e0i = eps[live], e0[live]
        coef = _nnls3(A_live, np.log(S.y - ei[:, None]), S.w)
        logb[live], c[live], alpha[live] = coef[:, 0], -coef[:, 1], coef[:, 2]
        log_f = logb[live, None] + c[live, None] * S.lx
        al = coef[:, 2]
        use_newton = k >= grad_iters
        for _ in range(newton[0] if use_newton else epochs):
            lo_gap, hi_gap = S.y - ei[:, None], e0i[:, None] - S.y
            r = np.log(lo_gap) - al[:, None] * np.log(hi_gap) - log_f
            g_inf = -S.mean(r / lo_gap)
            g_0 = -al * S.mean(r / hi_gap)
            if use_newton:
                h_inf = S.mean((1 - r) / lo_gap ** 2)
                h_0 = al * S.mean((al[:, None] + r) / hi_gap ** 2)
                s_inf = np.where(np.abs(h_inf) > EPS,
                                 newton[1] * g_inf / np.where(h_inf == 0, 1, h_inf), 0)
                s_0 = np.where(np.abs(h_0) > EPS, newton[1] * g_0 / np.where(h_0 == 0, 1, h_0), 0)
            else:
                s_inf, s_0 = lr * g_inf, lr * g_0
            # the projection: 0 <= eps_inf <= min y - 1e-3, max y + 1e-3 <= eps_0 <= bound
            ei = np.minimum(np.maximum(ei - s_inf, 0.0), S.min_err)
            e0i = np.minimum(np.maximum(e0i - s_0, S.max_err), up[live])
        eps[live], e0[live] = ei, e0i
        done = _stopped(live, logb, beta_old, rounds, stop, k > grad_iters + 1)
        if done.any():
            live = live[~done]
            S, A_live = B.take(live), A[live]
    return [RevisitingFit("M4", {"eps_inf": float(eps[i]), "eps_0": float(e0[i]),
                                 "alpha": float(alpha[i]), "beta": float(math.exp(logb[i])),
                                 "c": float(c[i])}, int(rounds[i]), bool(i not in live))
            for i in range(C)]


def fit_revisiting(curves: Sequence[tuple[np.ndarray, np.ndarray]], form: str, *,
                   domains: str | Sequence[str] | None = None,
                   eps0_init: float | None = None, up_bound: float | None = None,
                   max_iterations: int = 10_000, grad_iters: int = 100, epochs: int = 1000,
                   lr: float = 1e-8, stop: float = 1e-10, newton: tuple[int, float] = (100, 0.1)
                   ) -> list[RevisitingFit]:
    """Fit Alabdulmohsin et al.'s estimator ``form`` ("M1".."M4") to every ``(x, y)`` curve in
    one batched program (see the module docstring for the algorithm).  M4 takes its ``eps_0``
    settings from each curve's domain (``domains``: one for all, or one per curve; see
    :data:`DOMAIN_M4`) unless ``eps0_init`` (and ``up_bound``) are given.

    ``newton = (steps, rate)`` are the damped Newton steps per round after the gradient rounds
    (theirs: 100 steps of 0.1, which go ``1 - 0.9^100`` of the way to the round's optimum;
    ``(20, 0.5)`` goes ``1 - 0.5^20`` of it in a fifth of the time)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    B = _Batch(curves)
    if form == "M1":
        return _m1(B)
    if form == "M2":
        return _m2(B, max_iterations, grad_iters, epochs, lr, stop, newton)
    if form == "M3":
        return _m3(B, max_iterations, stop)
    C = len(curves)
    if eps0_init is not None:
        e0 = np.full(C, float(eps0_init))
        ub = np.full(C, np.inf if up_bound is None else float(up_bound))
    else:
        doms = [domains] * C if isinstance(domains, str) or domains is None else list(domains)
        if len(doms) != C:
            raise ValueError(f"domains: {len(doms)} given for {C} curves")
        unknown = sorted({str(d) for d in doms if d not in DOMAIN_M4})
        if unknown:
            raise ValueError(f"M4 needs each curve's domain, one of {sorted(DOMAIN_M4)} (or "
                             f"eps0_init); got {unknown}")
        e0 = np.asarray([DOMAIN_M4[d][0] for d in doms], float)
        ub = np.asarray([np.inf if DOMAIN_M4[d][1] is None else DOMAIN_M4[d][1] for d in doms])
    return _m4(B, e0, ub, max_iterations, grad_iters, epochs, lr, stop, newton)


def truncated_wins(errors: np.ndarray) -> np.ndarray:
    """Their count of winners (their notebook's "win probabilities"): per curve (row), every
    RMSLE truncated to 3 decimals (``int(e * 1000) / 1000``), a failed (NaN) one counted as 1,
    and the win split equally among the forms that tie for the lowest value.  Returns the
    (C, F) win fractions (each row sums to 1)."""
    e = np.asarray(errors, float)
    if e.ndim != 2 or e.shape[1] < 1:
        raise ValueError("errors must be (curves, forms)")
    e = np.where(np.isnan(e), 1.0, e)
    e = np.trunc(e * 1000) / 1000
    win = e == e.min(1, keepdims=True)
    return win / win.sum(1, keepdims=True)
