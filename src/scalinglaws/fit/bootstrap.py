"""Bootstrap intervals over seeds, curves or points: the one resampling loop the chapters share.

A replicate draws ``n`` indices with replacement and evaluates a statistic on them; intervals are
the 16th and 84th percentiles of the replicates (the book's convention).  A ``seed`` may be an
integer or a ``numpy.random.Generator``, so a caller can continue one stream across several
statistics.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_replicates(stat: Callable[[np.ndarray], float], n: int, n_boot: int = 1000,
                         seed: int | np.random.Generator = 0) -> np.ndarray:
    """``stat(indices)`` for ``n_boot`` resamples of ``range(n)`` with replacement."""
    if n < 1 or n_boot < 1:
        raise ValueError(f"n and n_boot must be >= 1, got {n} and {n_boot}")
    rs = np.random.default_rng(seed)
    return np.asarray([stat(rs.integers(0, n, n)) for _ in range(n_boot)], dtype=float)


def bootstrap_interval(stat: Callable[[np.ndarray], float], n: int, n_boot: int = 1000,
                       seed: int | np.random.Generator = 0, ignore_nan: bool = False
                       ) -> tuple[float, float]:
    """16-84 % interval of ``stat`` over bootstrap resamples of ``range(n)``.  With
    ``ignore_nan`` replicates where the statistic is undefined (NaN) are left out; otherwise a
    NaN replicate makes the interval NaN."""
    reps = bootstrap_replicates(stat, n, n_boot, seed)
    lo, hi = (np.nanpercentile if ignore_nan else np.percentile)(reps, [16, 84])
    return float(lo), float(hi)


def median_interval(x: np.ndarray, n_boot: int = 1000, seed: int | np.random.Generator = 0,
                    ignore_nan: bool = False) -> np.ndarray:
    """``[median, 16th, 84th percentile]`` of the median of ``x`` under a bootstrap over its
    entries (NaN entries ignored with ``ignore_nan``)."""
    x = np.asarray(x, dtype=float)
    med = np.nanmedian if ignore_nan else np.median
    lo, hi = bootstrap_interval(lambda i: float(med(x[i])), len(x), n_boot, seed, ignore_nan)
    return np.asarray([float(med(x)), lo, hi])


def share_interval(flags: np.ndarray, n_boot: int = 1000,
                   seed: int | np.random.Generator = 0) -> np.ndarray:
    """``[share of True, 16th, 84th percentile]`` under a bootstrap over the entries."""
    f = np.asarray(flags, dtype=float)
    lo, hi = bootstrap_interval(lambda i: float(f[i].mean()), len(f), n_boot, seed)
    return np.asarray([f.mean(), lo, hi])
