"""Data generators shared by the chapters: targets, teachers, manifolds.

Every generator takes an explicit seed or ``numpy.random.Generator`` and returns numpy arrays
(float64); experiments move them to torch themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import rng as _rng


def _as_rng(seed_or_rng: int | np.random.Generator) -> np.random.Generator:
    return seed_or_rng if isinstance(seed_or_rng, np.random.Generator) else _rng(seed_or_rng)


# ----------------------------------------------------------------------------- 1-D targets
def grid(n: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """``n`` evenly spaced points on ``[lo, hi]`` as a column, shape (n, 1)."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    return np.linspace(lo, hi, n)[:, None]


def uniform(n: int, d: int, seed: int | np.random.Generator, lo: float = -1.0,
            hi: float = 1.0) -> np.ndarray:
    """``n`` points uniform in the cube ``[lo, hi]^d``, shape (n, d)."""
    return _as_rng(seed).uniform(lo, hi, size=(n, d))


def square(x: np.ndarray) -> np.ndarray:
    """The target ``y = x^2`` of the resource-model and lottery-ticket chapters (column)."""
    return np.asarray(x, float) ** 2


# ----------------------------------------------------------------------------- Zipf teacher
def zipf_probabilities(K: int, exponent: float) -> np.ndarray:
    """``p_k ∝ k^-(1+exponent)`` for ``k = 1..K``, normalised (the quanta model's frequencies)."""
    if K < 2:
        raise ValueError(f"K must be >= 2, got {K}")
    if not exponent > 0:
        raise ValueError(f"exponent must be > 0, got {exponent}")
    p = np.arange(1, K + 1, dtype=float) ** (-(1.0 + exponent))
    return p / p.sum()


@dataclass(frozen=True)
class ZipfTeacher:
    """A teacher on K discrete inputs ("skills") with Zipf-distributed frequencies.

    Input ``k`` is the one-hot vector ``e_k``; its target is row ``k`` of ``Y`` (K x d_out),
    random orthogonal rows scaled so that every output has mean square 1.  The loss of a student
    is the frequency-weighted mean squared error ``sum_k p_k mean_j (f_j(e_k) - Y_kj)^2``.

    A student whose hidden layer has width N outputs an affine map of rank <= N of the inputs, so
    by the Eckart-Young theorem its loss is at least :meth:`optimal_loss` ``(N)``: the tail
    ``sum_{i>N} s_i^2 / d_out`` of the squared singular values ``s_i`` of
    ``diag(sqrt p) (Y - 1 mu^T)`` (``mu`` the frequency-weighted mean row, which the output
    bias absorbs).  Because ``s_i^2 ~ p_i``, the optimum falls like ``N^-exponent`` (Michaud et
    al. 2023's quanta argument) up to finite-K corrections this class computes exactly.
    """

    K: int
    exponent: float
    Y: np.ndarray          # (K, d_out) targets
    p: np.ndarray          # (K,) frequencies
    singular_values: np.ndarray  # of the weighted, centred target matrix

    @classmethod
    def make(cls, K: int, exponent: float, seed: int | np.random.Generator,
             d_out: int | None = None) -> "ZipfTeacher":
        r = _as_rng(seed)
        d_out = K if d_out is None else d_out
        if d_out < K:
            raise ValueError(f"d_out must be >= K={K} for orthogonal rows, got {d_out}")
        Q, R = np.linalg.qr(r.standard_normal((d_out, K)))
        Q = Q * np.sign(np.diag(R))  # Haar-distributed orthonormal columns
        Y = Q.T * np.sqrt(d_out)     # rows orthogonal, each output has mean square 1
        p = zipf_probabilities(K, exponent)
        mu = p @ Y
        C = np.sqrt(p)[:, None] * (Y - mu)
        s = np.linalg.svd(C, compute_uv=False)
        return cls(K, float(exponent), Y, p, s)

    @property
    def d_out(self) -> int:
        return self.Y.shape[1]

    def inputs(self) -> np.ndarray:
        """All K one-hot inputs, shape (K, K)."""
        return np.eye(self.K)

    def optimal_loss(self, width: int | np.ndarray) -> np.ndarray:
        """Eckart-Young lower bound on the weighted MSE of any width-N student."""
        w = np.atleast_1d(np.asarray(width, dtype=int))
        tails = np.concatenate([np.cumsum((self.singular_values ** 2)[::-1])[::-1], [0.0]])
        return tails[np.clip(w, 0, self.K)] / self.d_out

    def sample(self, n: int, seed: int | np.random.Generator,
               noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` item indices drawn with probabilities ``p`` and their targets plus Gaussian label
        noise of standard deviation ``noise``: returns ``(index[n], y[n, d_out])``."""
        r = _as_rng(seed)
        idx = r.choice(self.K, size=n, p=self.p)
        y = self.Y[idx] + noise * r.standard_normal((n, self.d_out))
        return idx, y
