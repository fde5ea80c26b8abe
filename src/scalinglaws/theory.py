"""Analytic predictions the chapters test against.

* :class:`PercolationScaling` -- Brill (2024, arXiv:2412.07942): Zipf subtask frequencies from
  critical percolation and the optimal allocation of model capacity across them (the paper's
  Eq. 26 and Eq. 29), giving model- and data-scaling curves with no free parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .fit.bootstrap import bootstrap_interval

#: Fisher exponent tau and fractal dimension D of percolation clusters by lattice dimension d, as
#: used by Brill (2024)'s exponent comparison (official notebook plots.ipynb; Stauffer & Aharony,
#: Mertens & Moore 2018); mean field (d >= 6, the Bethe lattice) has tau = 5/2, D = 4
PERCOLATION_EXPONENTS = {2: (187 / 91, 91 / 48), 3: (2.1892, 2.53), 4: (2.3142, 3.06),
                         5: (2.419, 3.54), 6: (2.5, 4.0), 7: (2.5, 4.0), 8: (2.5, 4.0)}


def exponents_by_dimension(c: float) -> dict[str, np.ndarray]:
    """Asymptotic model and data exponents of :class:`PercolationScaling` for each lattice
    dimension of :data:`PERCOLATION_EXPONENTS` and a per-cluster rate constant ``c``."""
    d = np.asarray(sorted(PERCOLATION_EXPONENTS))
    th = [PercolationScaling(tau=PERCOLATION_EXPONENTS[k][0], D=PERCOLATION_EXPONENTS[k][1], c=c)
          for k in d]
    return {"d": d, "model": np.asarray([t.model_exponent() for t in th]),
            "data": np.asarray([t.data_exponent() for t in th]),
            "alpha": np.asarray([t.alpha for t in th]), "cD": np.asarray([t.cD for t in th])}


@dataclass(frozen=True)
class PercolationScaling:
    """Scaling laws of the percolation model of Brill (2024).

    Clusters (subtasks) have Zipf frequencies ``p(k) = alpha k^-(1+alpha)`` (continuum, k >= 1),
    with ``alpha = (3 - tau) / (tau - 2)`` from the size-biased cluster-size law ``s^(1-tau)``.
    A cluster learned with ``n`` degrees of freedom has loss ``min(1, n^-(c/D))`` (the manifold
    law of a ``D``-dimensional cluster, ``c = 2`` for piecewise-constant predictors).

    Model scaling: spend N DOF optimally, ``n_k = a k^(b-1)`` up to the break rank ``k_br`` where
    ``n = 1`` (Eq. 26), ``b = 1 - (1 + alpha) / (1 + c/D)``, ``N = k_br (1 - k_br^-b) / b``
    (Eq. 29); then ``L(N) = (N / k_br + 1/alpha) k_br^-alpha``, normalised to ``L(1) = 1``.
    Data scaling: D samples give cluster k ``D p(k)`` of them: ``L(D) = int p min(1, (D p)^-(c/D))``.
    Asymptotes: ``N^-min(alpha, c/D)`` and ``D^-min(alpha/(1+alpha), c/D)``.
    """

    tau: float = 2.5
    c: float = 2.0
    D: float = 4.0

    def __post_init__(self) -> None:
        if not 2.0 < self.tau < 3.0:
            raise ValueError(f"tau must be in (2, 3) for a Zipf law with alpha > 0, got {self.tau}")
        if self.c <= 0 or self.D <= 0:
            raise ValueError(f"c and D must be > 0, got c={self.c}, D={self.D}")

    @property
    def alpha(self) -> float:
        return (3.0 - self.tau) / (self.tau - 2.0)

    @property
    def cD(self) -> float:
        return self.c / self.D

    @property
    def b(self) -> float:
        return 1.0 - (1.0 + self.alpha) / (1.0 + self.cD)

    @property
    def alpha_data(self) -> float:
        return self.alpha / (1.0 + self.alpha)

    def model_exponent(self) -> float:
        return min(self.alpha, self.cD)

    def data_exponent(self) -> float:
        return min(self.alpha_data, self.cD)

    # ------------------------------------------------------------------ model scaling
    def n_of_kbr(self, k: np.ndarray) -> np.ndarray:
        """Total DOF N spent when the break rank is k (Eq. 29)."""
        k = np.asarray(k, dtype=float)
        b = self.b
        if abs(b) < 1e-12:
            return k * np.log(k)
        return k * (1.0 - k ** (-b)) / b

    def k_break(self, N: np.ndarray | float) -> np.ndarray:
        """Break rank k_br(N), inverting Eq. 29 on a dense log grid (monotone increasing)."""
        N = np.atleast_1d(np.asarray(N, dtype=float))
        kk = np.exp(np.linspace(1e-9, math.log(1e15), 20001))
        nn = self.n_of_kbr(kk)
        return np.exp(np.interp(np.log(N), np.log(nn), np.log(kk)))

    def _model_raw(self, N: np.ndarray) -> np.ndarray:
        k = self.k_break(N)
        return (N / k + 1.0 / self.alpha) * k ** (-self.alpha)

    def model_loss(self, N: np.ndarray | float) -> np.ndarray:
        """L(N) normalised to L(1) = 1."""
        N = np.atleast_1d(np.asarray(N, dtype=float))
        return self._model_raw(N) / self._model_raw(np.array([1.0]))[0]

    def allocation(self, N: float, K: int, discrete: bool = False) -> np.ndarray:
        """DOF per cluster rank 1..K: ``n_k = k_br^(1-b) k^(b-1)`` for ``k <= k_br`` (so that
        ``n_{k_br} = 1``), 0 beyond (Eq. 26).

        With ``discrete=False`` k_br is the continuum solution of Eq. 29 (the paper's); with
        ``discrete=True`` it solves ``sum_{k <= k_br} n_k = N`` over integer ranks, the allocation
        of exactly N DOF to K discrete clusters (if even k_br = K cannot spend N, the K clusters
        share N in proportion to k^(b-1))."""
        k = np.arange(1, K + 1, dtype=float)
        b = self.b

        def alloc(kb: float) -> np.ndarray:
            return np.where(k <= kb, kb ** (1.0 - b) * k ** (b - 1.0), 0.0)

        if not discrete:
            return alloc(float(self.k_break(N)[0]))
        if alloc(float(K)).sum() <= N:
            w = k ** (b - 1.0)
            return w * (N / w.sum())
        lo, hi = 1.0, float(K)
        for _ in range(100):  # the spent DOF grow monotonically with k_br
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if alloc(mid).sum() < N else (lo, mid)
        return alloc(hi)

    def k_break_discrete(self, N: float, K: int) -> float:
        """The break rank of :meth:`allocation` with ``discrete=True``."""
        n = self.allocation(N, K, discrete=True)
        nz = np.flatnonzero(n > 0)
        return float(n[0] ** (1.0 / (1.0 - self.b))) if len(nz) < K else float(K)

    # ------------------------------------------------------------------ data scaling
    def _data_raw(self, Dn: np.ndarray) -> np.ndarray:
        al, cd = self.alpha, self.cD
        out = np.ones_like(Dn)
        kstar = (al * Dn) ** (1.0 / (1.0 + al))  # clusters with D p(k) >= 1 are (partly) learned
        m = kstar > 1.0
        e = (1.0 + al) * (1.0 - cd)
        pref = Dn[m] ** (-cd) * al ** (1.0 - cd)
        if abs(1.0 - e) < 1e-12:
            learned = pref * np.log(kstar[m])
        else:
            learned = pref * (kstar[m] ** (1.0 - e) - 1.0) / (1.0 - e)
        out[m] = learned + kstar[m] ** (-al)
        return out

    def data_loss(self, Dn: np.ndarray | float) -> np.ndarray:
        """L(D) normalised to L(1) = 1 (D in DOF-equivalent samples)."""
        Dn = np.atleast_1d(np.asarray(Dn, dtype=float))
        return self._data_raw(Dn) / self._data_raw(np.array([1.0]))[0]

    # ------------------------------------------------------------------ finite K
    def cluster_loss(self, n: np.ndarray | float) -> np.ndarray:
        """Loss of one cluster learned with ``n`` DOF: ``min(1, n^-(c/D))``, 1 when unlearned."""
        n = np.asarray(n, dtype=float)
        return np.where(n > 1.0, np.maximum(n, 1.0) ** (-self.cD), 1.0)

    def finite_model_loss(self, N: np.ndarray | float, weights: np.ndarray,
                          dof_cap: np.ndarray | None = None) -> np.ndarray:
        """Model scaling of an actual dataset of K = len(weights) clusters: N DOF spent with the
        discrete allocation (:meth:`allocation`), cluster k capped at ``dof_cap[k]`` DOF (its
        training points run out), each cluster at :meth:`cluster_loss`, weighted by its share
        ``weights[k]`` of the loss (e.g. its validation sites).  No continuum, no unlearned tail
        beyond the K clusters that exist."""
        N = np.atleast_1d(np.asarray(N, dtype=float))
        w = np.asarray(weights, dtype=float)
        out = np.empty(len(N))
        for i, Nv in enumerate(N):
            n = self.allocation(float(Nv), len(w), discrete=True)
            if dof_cap is not None:
                n = np.minimum(n, dof_cap)
            out[i] = float(w @ self.cluster_loss(n))
        return out

    def finite_data_loss(self, D: np.ndarray | float, weights: np.ndarray, freq: np.ndarray,
                         dof_per_sample: np.ndarray | float = 1.0,
                         dof_cap: np.ndarray | None = None) -> np.ndarray:
        """Data scaling of an actual dataset: D samples land in cluster k in proportion to its
        frequency ``freq[k]``, each worth ``dof_per_sample[k]`` DOF (1 when D counts DOF), capped
        at ``dof_cap[k]``; the loss weights are ``weights``."""
        D = np.atleast_1d(np.asarray(D, dtype=float))
        n = D[:, None] * np.asarray(freq, float)[None, :] * dof_per_sample
        if dof_cap is not None:
            n = np.minimum(n, dof_cap)
        return self.cluster_loss(n) @ np.asarray(weights, dtype=float)

    def n_at_kbr(self, k: float) -> float:
        """The model size at which the continuum break rank reaches k (Eq. 29): beyond it, a
        dataset of only k clusters has no unlearned tail left and the continuum theory no longer
        describes it."""
        return float(self.n_of_kbr(np.array([float(k)]))[0])

    # ------------------------------------------------------------------ slopes
    def local_exponent(self, which: str, lo: float, hi: float) -> float:
        """Exponent of a power law fitted (log-log least squares) to the theory curve on
        [lo, hi] at 50 log-spaced points: the number to compare a measured fit with."""
        x = np.geomspace(lo, hi, 50)
        y = self.model_loss(x) if which == "model" else self.data_loss(x)
        return float(-np.polyfit(np.log(x), np.log(y), 1)[0])


# ----------------------------------------------------------------------------- Chinchilla link
#: Hoffmann et al. (2022), arXiv:2203.15556, Eq. 10 (Approach 3):
#: L(N, D) = E + A / N^alpha + B / D^beta
CHINCHILLA = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def chinchilla_loss(N: np.ndarray | float, D: np.ndarray | float) -> np.ndarray:
    """Hoffmann et al.'s fitted loss for N parameters and D training tokens."""
    c = CHINCHILLA
    return c["E"] + c["A"] / np.asarray(N, float) ** c["alpha"] + c["B"] / np.asarray(D, float) ** c["beta"]


def resource_model_parameter_exponent(depth_exponent: float = 1.0, count_all_neurons: bool = False,
                                      widths: np.ndarray | None = None) -> float:
    """The resource model's loss exponent in parameter count N_p, *computed* (not typed in).

    A network of width N (neurons per layer) and depth L = N^depth_exponent has
    N_p ~ N^2 L parameters.  The resource model gives loss ~ 1/(neurons serving the task).  If those
    are the neurons per layer (the paper's reading), loss ~ N^-1; if all N L neurons count,
    loss ~ (N L)^-1.  Fit log(loss) against log(N_p) over a grid of widths and return the slope:
    -1/3 (per layer, L ~ N) or -2/3 (all neurons, L ~ N).
    """
    N = np.geomspace(1e2, 1e4, 50) if widths is None else np.asarray(widths, float)
    L = N ** depth_exponent
    Np = N ** 2 * L
    loss = 1.0 / (N * L) if count_all_neurons else 1.0 / N
    return float(np.polyfit(np.log(Np), np.log(loss), 1)[0])


#: Hoffmann et al. (2022), arXiv:2203.15556, Table A9: the model shapes of the Chinchilla sweep,
#: as (parameters in millions, d_model, n_layers).
CHINCHILLA_SHAPES = np.array([
    (44, 512, 8), (57, 576, 9), (74, 640, 10), (90, 640, 13), (106, 640, 16), (117, 768, 12),
    (140, 768, 15), (163, 768, 18), (175, 896, 14), (196, 896, 16), (217, 896, 18),
    (251, 1024, 16), (278, 1024, 18), (306, 1024, 20), (425, 1280, 18), (489, 1280, 21),
    (509, 1408, 18), (552, 1280, 24), (587, 1408, 21), (632, 1536, 19), (664, 1408, 24),
    (724, 1536, 22), (816, 1536, 25), (893, 1792, 20), (1018, 1792, 23), (1143, 1792, 26),
    (1266, 2048, 22), (1424, 2176, 22), (1429, 2048, 25), (1593, 2048, 28), (1609, 2176, 25),
    (1731, 2304, 24), (1794, 2176, 28), (2007, 2304, 28), (2283, 2304, 32), (2298, 2560, 26),
    (2639, 2560, 30), (2980, 2560, 34), (3530, 2688, 36), (3802, 2816, 36), (4084, 2944, 36),
    (4516, 3072, 36), (6796, 3584, 40), (9293, 4096, 42), (11452, 4352, 47), (12295, 4608, 44),
    (12569, 4608, 47), (13735, 4864, 47), (14940, 4992, 49), (16183, 5120, 47)], dtype=float)


def shape_exponents(shapes: np.ndarray = CHINCHILLA_SHAPES, n_boot: int = 2000,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Exponents of width and depth against parameter count in a family of model shapes, and the
    loss exponent the resource model implies for it (loss ~ 1/width, so loss ~ N_p^-a when
    d_model ~ N_p^a), each as (estimate, 16th, 84th percentile of a bootstrap over models);
    ``all_neurons``: the same with the neurons of all layers counted (d_model x layers).

    For Chinchilla's Table A9 this gives d_model ~ N_p^0.39, not the N_p^(1/3) of depth ~ width
    (Brill 2024 fits 0.387 +- 0.004 to the same table)."""
    P, d, L = (np.asarray(shapes, float)[:, k] for k in range(3))
    rs = np.random.default_rng(seed)

    def slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        def fit(i: np.ndarray) -> float:  # undefined on a resample of one repeated model
            return np.polyfit(np.log(x[i]), np.log(y[i]), 1)[0] if np.ptp(x[i]) > 0 else np.nan

        return np.array([fit(np.arange(len(x))),
                         *bootstrap_interval(fit, len(x), n_boot, rs, ignore_nan=True)])

    width = slope(P, d)
    # with loss ~ 1/(neurons over all layers), d_model * layers is the count that matters
    return {"width": width, "depth": slope(P, L), "loss": width.copy(),
            "all_neurons": slope(P, d * L)}


def silu_pair_objective(w: np.ndarray, b: np.ndarray, mu: float, x: np.ndarray,
                        penalty: str = "weights") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The penalised objective of the two-neuron symmetric SiLU network
    ``v [silu(w x + b) + silu(-w x + b)] + c`` fitting ``x^2`` on the points ``x``:
    ``MSE + mu * (L1 norm of the penalised parameters)``, minimised in closed form over the
    output weight ``v`` (a one-variable lasso) and the output bias ``c`` (unpenalised).

    ``penalty``: "weights" (input and output weights: ``2|w| + 2|v|``), "output" (``2|v|``) or
    "all" (weights and the two hidden biases: ``2|w| + 2|b| + 2|v|``; the output bias stays free
    here).  Broadcasts over ``w`` and ``b``; returns (objective, MSE, v)."""
    w, b = np.broadcast_arrays(np.asarray(w, float), np.asarray(b, float))
    z = w[..., None] * x + b[..., None]
    silu = lambda t: t / (1.0 + np.exp(-t))  # noqa: E731
    f = silu(z) + silu(-w[..., None] * x + b[..., None])
    fc = f - f.mean(-1, keepdims=True)
    yc = x ** 2 - np.mean(x ** 2)
    s = np.mean(fc * fc, -1)
    r = np.mean(fc * yc, -1)
    # d/dv [mean((v fc - yc)^2) + 2 mu |v|] = 2 (s v - r) + 2 mu sign(v) = 0
    v = np.sign(r) * np.maximum(np.abs(r) - mu, 0.0) / np.maximum(s, 1e-300)
    mse = np.mean((v[..., None] * fc - yc) ** 2, -1)
    l1 = 2 * np.abs(v) + {"weights": 2 * np.abs(w), "output": 0.0 * w,
                          "all": 2 * np.abs(w) + 2 * np.abs(b)}[penalty]
    return mse + mu * l1, mse, v


def silu_pair_optimum(mu: float, x: np.ndarray, penalty: str = "weights") -> dict[str, float]:
    """The best two-neuron symmetric SiLU network for ``MSE + mu * L1`` (see
    :func:`silu_pair_objective`): a dense grid over the input weight and bias, then Nelder-Mead
    from the best grid point.  An upper bound on the optimum of the penalised objective at any
    pool width, and (for a symmetric pair) its exact optimum up to the search's tolerance."""
    from scipy.optimize import minimize

    if not (np.isfinite(mu) and mu > 0):
        raise ValueError(f"mu must be finite and positive, got {mu!r}")
    W, B = np.meshgrid(np.geomspace(0.02, 8.0, 90), np.linspace(-4.0, 4.0, 81), indexing="ij")
    F = silu_pair_objective(W, B, mu, x, penalty)[0]
    i = np.unravel_index(np.nanargmin(F), F.shape)
    res = minimize(lambda p: float(silu_pair_objective(p[0], p[1], mu, x, penalty)[0]),
                   [W[i], B[i]], method="Nelder-Mead",
                   options=dict(xatol=1e-10, fatol=1e-18, maxiter=4000))
    w, b = float(abs(res.x[0])), float(res.x[1])
    f, mse, v = (float(a) for a in silu_pair_objective(w, b, mu, x, penalty))
    silu = lambda t: t / (1.0 + np.exp(-t))  # noqa: E731
    c = float(np.mean(x ** 2) - v * np.mean(silu(w * x + b) + silu(-w * x + b)))
    return {"objective": f, "mse": mse, "w": w, "b": b, "v": v, "c": c}


def silu_quartic_root() -> float:
    """The positive bias ``b`` at which ``silu''''(b) = 0``: a symmetric SiLU pair
    ``silu(w x + b) + silu(-w x + b) = 2 silu(b) + silu''(b) w^2 x^2 + silu''''(b) w^4 x^4 / 12 + ...``
    centred there has no x^4 error term, so it fits x^2 with an error that starts at x^6 (about
    1.032; the mirror image -b works as well).  Uses ``silu^(n)(z) = z s^(n)(z) + n s^(n-1)(z)``
    with ``s`` the logistic function."""
    from scipy.optimize import brentq

    def d4(z: float) -> float:
        s = 1.0 / (1.0 + np.exp(-z))
        s3 = s * (1 - s) * (1 - 6 * s + 6 * s * s)
        s4 = s * (1 - s) * (1 - 2 * s) * (1 - 12 * s + 12 * s * s)
        return z * s4 + 4 * s3

    return float(brentq(d4, 0.5, 1.5, xtol=1e-14))
