"""Exact spectra of dot-product kernels on the sphere and the learning curves they predict.

Chapter 2's lab (Bahri et al. 2021) learns a random-feature teacher on the sphere S^(d-1) with
kernel regression (P -> infinity) or with P random ReLU features.  Everything the theory needs is
computed here without fitting anything:

* :func:`funk_hecke` -- the coefficients of a zonal function ``g(x . y)`` in spherical harmonics
  (Funk-Hecke formula, Gauss-Jacobi quadrature); for the order-1 arc-cosine kernel of ReLU
  features they are its eigenvalues per degree, each with the multiplicity
  :func:`harmonic_degeneracy` (:func:`arccos_spectrum`);
* :func:`teacher_power` -- how much of a random-feature teacher lies in each degree, exactly;
* :func:`kernel_learning_curve` -- the spectral theory of ridgeless kernel regression of Bordelon,
  Canatar & Pehlevan (2020, Eqs. 4-5; Canatar et al. 2021): ``kappa`` solves
  ``1 = sum_rho eta_rho / (D eta_rho + kappa)``, ``gamma = sum_rho D eta_rho^2/(D eta_rho+kappa)^2``,
  and ``E_g = sum_rho kappa^2 a_rho^2 / (D eta_rho + kappa)^2 / (1 - gamma)``;
* :func:`feature_learning_curve` -- the same deterministic equivalent for P random features at
  infinite data (the projection error ``sum_rho a_rho^2 kappa_P / (P eta_rho + kappa_P)`` with
  the same equation for ``kappa_P``; Bach 2023, Atanasov, Zavatone-Veth & Pehlevan 2024), times the
  least-squares factor ``D / (D - P - 1)`` for D finite samples.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import gammaln, roots_jacobi


@lru_cache(maxsize=32)
def _jacobi_rule(n: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    return roots_jacobi(n, a, a)


def harmonic_degeneracy(d: int, ell: np.ndarray | int) -> np.ndarray:
    """Number of spherical harmonics of degree ``ell`` on S^(d-1) (the multiplicity of a
    dot-product kernel's eigenvalue of that degree), as exact integers:
    ``N(d, ell) = (2 ell + d - 2) / (ell + d - 2) * C(ell + d - 2, ell)``, computed in log-gamma
    form and rounded (the rounding is checked, so a float error can never shift a count)."""
    ell = np.asarray(ell, dtype=float)
    if d == 2:
        return np.where(ell == 0, 1, 2).astype(np.int64)
    out = (2 * ell + d - 2) / np.maximum(ell + d - 2, 1) * np.exp(
        gammaln(ell + d - 2 + 1) - gammaln(ell + 1) - gammaln(d - 2 + 1))
    out = np.where(ell == 0, 1.0, out)
    n = np.rint(out)
    if not np.all(np.abs(out - n) <= 1e-6 * np.maximum(n, 1.0)) or n.max(initial=0) >= 2 ** 62:
        raise ValueError(f"harmonic_degeneracy({d}, ...) is not integral in float64 here")
    return n.astype(np.int64)


def legendre(d: int, L: int, t: np.ndarray) -> np.ndarray:
    """Legendre polynomials of dimension d, ``P_ell(t)`` for ell = 0..L (``P_ell(1) = 1``), by
    their three-term recurrence; shape (L + 1, *t.shape)."""
    t = np.asarray(t, dtype=float)
    P = np.empty((L + 1, *t.shape))
    P[0] = 1.0
    if L >= 1:
        P[1] = t
    for ell in range(1, L):
        P[ell + 1] = ((2 * ell + d - 2) * t * P[ell] - ell * P[ell - 1]) / (ell + d - 2)
    return P


def funk_hecke(g, d: int, L: int, n_quad: int = 2000) -> np.ndarray:
    """``c_ell = E_{y uniform on S^(d-1)}[g(x . y) P_ell(x . y)]`` for ell = 0..L: the eigenvalue of
    the integral operator ``f -> E_y[g(x . y) f(y)]`` on degree-ell harmonics.

    The density of ``t = x . y`` is proportional to ``(1 - t^2)^((d-3)/2)``; Gauss-Jacobi
    quadrature with that weight and ``n_quad`` nodes."""
    t, w = _jacobi_rule(n_quad, (d - 3) / 2.0)
    norm = math.exp(gammaln(d / 2) - 0.5 * math.log(math.pi) - gammaln((d - 1) / 2))
    return norm * (legendre(d, L, t) * g(t)[None, :]) @ w


def arccos1(t: np.ndarray) -> np.ndarray:
    """The order-1 arc-cosine kernel on the unit sphere, ``(sin theta + (pi - theta) cos theta)/pi``
    with ``cos theta = t``: ``E_w[2 relu(w.x) relu(w.y)]`` for ``w ~ N(0, I)``."""
    t = np.clip(t, -1.0, 1.0)
    th = np.arccos(t)
    return (np.sin(th) + (np.pi - th) * t) / np.pi


def arccos_spectrum(d: int, L: int, n_quad: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalue ``mu_ell`` of each degree ell = 0..L of the arc-cosine kernel on S^(d-1) (for
    the uniform probability measure) and its multiplicity ``N(d, ell)``.  Odd degrees >= 3 vanish
    (the kernel's odd part is t / 2)."""
    mu = funk_hecke(arccos1, d, L, n_quad)
    mu[3::2] = 0.0
    return np.maximum(mu, 0.0), harmonic_degeneracy(d, np.arange(L + 1))


def relu_coefficients(d: int, L: int, n_quad: int = 2000) -> np.ndarray:
    """Funk-Hecke coefficients of ``relu(t)``: ``relu(w.x) = |w| sum_ell h_ell N(d,ell) P_ell(w^.x)``
    projected; the arc-cosine eigenvalues are ``2 d h_ell^2``."""
    return funk_hecke(lambda t: np.maximum(t, 0.0), d, L, n_quad)


def teacher_power(W: np.ndarray, omega: np.ndarray, L: int, n_quad: int = 2000) -> np.ndarray:
    """Power ``sum_m a_(ell m)^2`` in each degree ell = 0..L of the teacher
    ``f(x) = sqrt(2/M) sum_m omega_m relu(w_m . x)`` on the unit sphere, exactly:
    ``(2/M) h_ell^2 N(d,ell) u^T P_ell(C) u`` with ``u_m = omega_m |w_m|`` and C the cosines
    between the teacher's weight vectors."""
    M, d = W.shape
    norms = np.linalg.norm(W, axis=1)
    Wn = W / norms[:, None]
    C = np.clip(Wn @ Wn.T, -1.0, 1.0)
    u = omega * norms
    h = relu_coefficients(d, L, n_quad)
    Nl = harmonic_degeneracy(d, np.arange(L + 1))
    out = np.empty(L + 1)
    P_prev, P = np.ones_like(C), C.copy()
    out[0] = (u @ P_prev @ u)
    if L >= 1:
        out[1] = u @ P @ u
    for ell in range(1, L):
        P_prev, P = P, ((2 * ell + d - 2) * C * P - ell * P_prev) / (ell + d - 2)
        out[ell + 1] = u @ P @ u
    return (2.0 / M) * h ** 2 * Nl * out


def _kappa(mu: np.ndarray, Nl: np.ndarray, n: float, tail_trace: float) -> float:
    """Solve ``1 = sum_ell N_ell mu_ell / (n mu_ell + kappa) + tail_trace / kappa`` for kappa > 0
    (the tail: eigenvalues beyond the truncation, too small to be learned from n samples)."""
    keep = (mu > 0) & (Nl > 0)
    m, w = mu[keep], Nl[keep]

    def f(k: float) -> float:
        return float((w * m / (n * m + k)).sum() + tail_trace / k - 1.0)

    lo, hi = 1e-300, 1.0
    while f(hi) > 0:
        hi *= 2.0
    for _ in range(200):  # f decreases in kappa; bisection in log space
        mid = math.sqrt(lo * hi) if lo > 0 else hi / 2
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return math.sqrt(lo * hi)


def kernel_learning_curve(mu: np.ndarray, Nl: np.ndarray, power: np.ndarray, D: np.ndarray,
                          tail_trace: float = 0.0, tail_power: float = 0.0) -> np.ndarray:
    """Expected test MSE of ridgeless kernel regression from D samples of a noiseless target with
    ``power[ell]`` in each degree (Bordelon, Canatar & Pehlevan 2020)."""
    out = []
    for n in np.atleast_1d(D).astype(float):
        k = _kappa(mu, Nl, n, tail_trace)
        gamma = float((Nl * n * mu ** 2 / (n * mu + k) ** 2).sum())
        eg = float((k ** 2 * power / (n * mu + k) ** 2).sum()) + tail_power
        out.append(eg / (1.0 - gamma))
    return np.asarray(out)


def feature_learning_curve(mu: np.ndarray, Nl: np.ndarray, power: np.ndarray, P: np.ndarray,
                           D: float = math.inf, tail_trace: float = 0.0,
                           tail_power: float = 0.0) -> np.ndarray:
    """Expected test MSE of least squares on P random features (Gaussian-equivalent
    deterministic equivalent) with D training samples."""
    out = []
    for p in np.atleast_1d(P).astype(float):
        k = _kappa(mu, Nl, p, tail_trace)
        approx = float((power * k / (p * mu + k)).sum()) + tail_power
        out.append(approx * (D / (D - p - 1.0) if math.isfinite(D) else 1.0))
    return np.asarray(out)
