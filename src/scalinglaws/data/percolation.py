"""Percolation data (Brill 2024, arXiv:2412.07942): critical clusters as subtasks.

A dataset is a set of percolation clusters; every site of a cluster is a data point, and each
cluster carries its own target function.  The experiment of the paper uses critical clusters of a
Bethe lattice (mean field: Fisher exponent tau = 5/2, fractal dimension D = 4) with a Gaussian
random walk down the tree as target.  Everything here is vectorised numpy:

* :func:`sample_cluster_sizes` draws sizes exactly from the size-biased critical law (the Borel
  distribution of a critical Poisson branching process, ``P(s) = e^-s s^(s-1) / s! ~ s^-3/2``,
  the z -> infinity limit of the paper's Binomial(z-1, 1/(z-1)) offspring with z = 200);
* :func:`random_critical_tree` draws a tree of a given size in O(s) (multinomial offspring
  conditioned on the total, made a valid tree by the cyclic lemma), in breadth-first order;
* :func:`make_forest` lays many trees out by depth, so each depth level of the whole forest is one
  contiguous slice and every level-by-level operation is one vectorised step;
* :func:`brownian_targets` puts the random-walk target on the forest, standardised per cluster.
* :func:`lattice_cluster_sizes` and :func:`fit_fisher_tau` measure tau on 2-D/3-D lattices with
  periodic boundaries (an optional illustration; the paper's experiment is on the Bethe lattice).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

#: mean-field (Bethe lattice) exponents
TAU_MEAN_FIELD = 2.5
D_MEAN_FIELD = 4.0
#: site-percolation thresholds and Fisher exponents used by the lattice illustration
P_C = {2: 0.59274621, 3: 0.3116077}
TAU_LATTICE = {2: 187 / 91, 3: 2.1892}


def n_clusters_for(s_min: int, s_max: int, tau: float = TAU_MEAN_FIELD,
                   expected_n_large: float = 1.0) -> int:
    """The paper's rule: K = floor(expected_n_large * (s_max / s_min)^(tau - 2)) clusters, so that
    about ``expected_n_large`` cluster would exceed ``s_max`` (no artificial cut-off in the law)."""
    return int(math.floor(expected_n_large * (s_max / s_min) ** (tau - 2)))


def borel_log_pmf(s: np.ndarray) -> np.ndarray:
    """log P(S = s) of the Borel(1) law: the total progeny of a critical Poisson tree, i.e. the
    size of the cluster containing a given site (size-biased, ~ s^-3/2 / sqrt(2 pi))."""
    s = np.asarray(s, dtype=float)
    return -s + (s - 1) * np.log(s) - gammaln(s + 1)


@functools.lru_cache(maxsize=4)
def _borel_cdf(s_min: int, s_max: int) -> np.ndarray:
    """The Borel law's CDF on ``[s_min, s_max]`` (float64 cumulative sums; cached, since a
    paper-scale table has 3e7 entries and every seed uses the same one)."""
    logp = borel_log_pmf(np.arange(s_min, s_max + 1))
    cdf = np.cumsum(np.exp(logp - logp.max()))
    cdf /= cdf[-1]
    cdf.setflags(write=False)
    return cdf


def sample_cluster_sizes(n: int, s_min: int, s_max: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` cluster sizes from the Borel law truncated to ``[s_min, s_max]``, exactly, by
    inverting the tabulated CDF."""
    if not (1 <= s_min <= s_max):
        raise ValueError(f"need 1 <= s_min <= s_max, got s_min={s_min}, s_max={s_max}")
    cdf = _borel_cdf(int(s_min), int(s_max))
    idx = np.searchsorted(cdf, rng.random(n), side="right").clip(0, len(cdf) - 1)
    return (s_min + idx).astype(np.int64)


def random_critical_tree(s: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random tree of ``s`` nodes distributed as a critical Poisson Galton-Watson tree
    conditioned on its size, in breadth-first order.

    Offspring counts ``X`` are multinomial(s - 1; uniform) -- i.i.d. Poisson counts conditioned on
    summing to s - 1 -- rotated by the cyclic lemma so that the Lukasiewicz walk first reaches -1
    at step s.  Returns ``(parent, depth)`` with ``parent[0] = -1``.
    """
    if s < 1:
        raise ValueError(f"a tree needs s >= 1 nodes, got {s}")
    if s == 1:
        return np.array([-1]), np.array([0])
    X = np.bincount(rng.integers(0, s, size=s - 1), minlength=s)
    walk = np.cumsum(X - 1)
    start = int(np.argmin(walk)) + 1  # first minimum; the rotation starts just after it
    X = np.roll(X, -start)
    parent = np.empty(s, dtype=np.int64)
    parent[0] = -1
    parent[1:] = np.repeat(np.arange(s), X)
    # depths level by level: level k+1 are the children of level k (contiguous in BFS order)
    depth = np.empty(s, dtype=np.int64)
    lo, hi, d = 0, 1, 0
    cum = np.concatenate([[0], np.cumsum(X)])
    while lo < s:
        depth[lo:hi] = d
        n_children = int(cum[hi] - cum[lo])
        lo, hi, d = hi, hi + n_children, d + 1
    return parent, depth


@dataclass(frozen=True)
class Forest:
    """Many trees laid out by depth: nodes sorted by depth (stable), so level ``l`` is the slice
    ``bounds[l]:bounds[l+1]``; within a level, parents are non-decreasing."""

    parent: np.ndarray     # (n,) index of the parent, -1 for roots
    depth: np.ndarray      # (n,)
    cluster: np.ndarray    # (n,) cluster id (0 = largest)
    bounds: np.ndarray     # (levels + 1,) level boundaries
    sizes: np.ndarray      # (K,) cluster sizes, decreasing

    @property
    def n(self) -> int:
        return len(self.parent)

    @property
    def n_levels(self) -> int:
        return len(self.bounds) - 1

    def levels(self):
        for l in range(self.n_levels):
            yield self.bounds[l], self.bounds[l + 1]

    def site_size(self) -> np.ndarray:
        """Size of the cluster of every node, (n,)."""
        return self.sizes[self.cluster]


def make_forest(sizes: np.ndarray, rng: np.random.Generator) -> Forest:
    """Random critical trees of the given sizes (sorted decreasing), laid out by depth.

    Node arrays are int32 (12 bytes per site in all), so a paper-scale seed of 3e7 sites takes
    ~0.4 GB; the layout needs fewer than 2^31 sites."""
    sizes = np.sort(np.asarray(sizes, dtype=np.int64))[::-1]
    n = int(sizes.sum())
    if n >= 2 ** 31:
        raise ValueError(f"a forest of {n:,} sites is too large for int32 node indices")
    parent = np.empty(n, dtype=np.int32)
    depth = np.empty(n, dtype=np.int32)
    cluster = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    offset = 0
    for s in sizes:
        p, d = random_critical_tree(int(s), rng)
        parent[offset:offset + s] = np.where(p >= 0, p + offset, -1)
        depth[offset:offset + s] = d
        offset += int(s)
    order = np.argsort(depth, kind="stable")
    rank = np.empty(n, dtype=np.int32)
    rank[order] = np.arange(n, dtype=np.int32)
    parent = parent[order]
    parent = np.where(parent >= 0, rank[np.maximum(parent, 0)], -1).astype(np.int32)
    del rank
    depth = depth[order]
    cluster = cluster[order]
    del order
    bounds = np.searchsorted(depth, np.arange(int(depth.max()) + 2))
    return Forest(parent, depth, cluster, bounds, sizes)


def brownian_targets(forest: Forest, rng: np.random.Generator, standardize: bool = True) -> np.ndarray:
    """Gaussian random walk down every tree (root 0, each edge adds N(0, 1)), standardised to mean
    0 and variance 1 within each cluster (so predicting 0 gives loss 1)."""
    y = np.zeros(forest.n)
    steps = rng.standard_normal(forest.n)
    for lo, hi in list(forest.levels())[1:]:
        y[lo:hi] = y[forest.parent[lo:hi]] + steps[lo:hi]
    if standardize:
        K = len(forest.sizes)
        cnt = np.bincount(forest.cluster, minlength=K).astype(float)
        mean = np.bincount(forest.cluster, weights=y, minlength=K) / cnt
        var = np.bincount(forest.cluster, weights=y ** 2, minlength=K) / cnt - mean ** 2
        sd = np.sqrt(np.where(var > 0, var, 1.0))
        y = (y - mean[forest.cluster]) / sd[forest.cluster]
    return y


def size_ccdf_exponent(sizes: np.ndarray, s_min: float, s_max: float) -> float:
    """Log-log slope of the empirical CCDF P(S >= s) over ``[s_min, s_max]``: estimates 2 - tau."""
    s = np.sort(np.asarray(sizes, dtype=float))
    ccdf = 1.0 - np.arange(len(s)) / len(s)
    keep = (s >= s_min) & (s <= s_max)
    if keep.sum() < 3:
        raise ValueError(f"only {int(keep.sum())} sizes in [{s_min}, {s_max}]")
    slope = np.polyfit(np.log(s[keep]), np.log(ccdf[keep]), 1)[0]
    return float(slope)


# ----------------------------------------------------------------------------- lattices (demo)
def lattice_cluster_sizes(L: int, dim: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sizes of all site-percolation clusters on an L^dim lattice with periodic boundaries."""
    from scipy import ndimage
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    occ = rng.random((L,) * dim) < p
    lab, n = ndimage.label(occ)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows, cols = [], []
    for ax in range(dim):  # merge labels across opposite faces
        a = np.take(lab, 0, axis=ax).ravel()
        b = np.take(lab, L - 1, axis=ax).ravel()
        m = (a > 0) & (b > 0)
        rows.append(a[m] - 1)
        cols.append(b[m] - 1)
    r, c = np.concatenate(rows), np.concatenate(cols)
    g = coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    counts = np.bincount(lab.ravel())[1:]
    return np.bincount(comp, weights=counts).astype(np.int64)


def fit_fisher_tau(sizes: np.ndarray, s_min: float = 100, s_max: float = 10_000,
                   n_bins: int = 12) -> float:
    """Fisher exponent tau from the log-binned cluster-number density n_s ~ s^-tau."""
    s = np.asarray(sizes, dtype=float)
    edges = np.geomspace(s_min, s_max, n_bins + 1)
    counts, _ = np.histogram(s, bins=edges)
    width = np.diff(edges)
    centre = np.sqrt(edges[1:] * edges[:-1])
    keep = counts > 0
    slope = np.polyfit(np.log(centre[keep]), np.log(counts[keep] / width[keep]), 1)[0]
    return float(-slope)
