"""Analytic predictions the chapters test against.

* :class:`PercolationScaling` -- Brill (2024, arXiv:2412.07942): Zipf subtask frequencies from
  critical percolation and the optimal allocation of model capacity across them (the paper's
  Eq. 26 and Eq. 29), giving model- and data-scaling curves with no free parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
