"""Random-feature models and kernels, solved in closed form (chapter 2, Bahri et al.).

A random-feature student with P features ``phi_j(x) = sqrt(2) relu(w_j . x)`` (w_j ~ N(0, I)) is a
linear model; its P -> infinity limit is kernel regression with the order-1 arc-cosine kernel
``k(x, y) = |x||y| (sin t + (pi - t) cos t) / pi``.  Features are *nested* (the first P of one
draw), so one Gram matrix serves every P through its leading blocks.  All solves are float64 torch
(CPU or GPU; TF32 is never used), with a tiny relative ridge.
"""
from __future__ import annotations

import math

import torch


def relu_features(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``sqrt(2) relu(X W^T)``: (n, d) x (..., P, d) -> (..., n, P)."""
    return math.sqrt(2.0) * torch.relu(X @ W.transpose(-1, -2))


def arccos_kernel(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Order-1 arc-cosine kernel ``E_w[2 relu(w.x) relu(w.y)]`` for w ~ N(0, I)."""
    nx = X.norm(dim=-1, keepdim=True)
    ny = Y.norm(dim=-1, keepdim=True)
    cos = ((X @ Y.transpose(-1, -2)) / (nx * ny.transpose(-1, -2))).clamp(-1.0, 1.0)
    t = torch.arccos(cos)
    return nx * ny.transpose(-1, -2) * (torch.sin(t) + (math.pi - t) * cos) / math.pi


def spd_solve(A: torch.Tensor, B: torch.Tensor, ridge: float = 1e-10) -> torch.Tensor:
    """Solve ``(A + ridge * tr(A)/n I) X = B`` for symmetric positive semi-definite A (batched),
    by Cholesky, adding jitter if the factorisation fails."""
    n = A.shape[-1]
    scale = torch.diagonal(A, dim1=-2, dim2=-1).mean(-1)[..., None, None]
    eye = torch.eye(n, dtype=A.dtype, device=A.device)
    lam = ridge
    for _ in range(6):
        L, info = torch.linalg.cholesky_ex(A + lam * scale * eye)
        if not bool((info != 0).any()):
            return torch.cholesky_solve(B, L)
        lam *= 100.0
    raise torch.linalg.LinAlgError("matrix is not positive definite even with jitter")


def kernel_regression_losses(K: torch.Tensor, K_test: torch.Tensor, y: torch.Tensor,
                             y_test: torch.Tensor, sizes) -> list[float]:
    """Test MSE of (ridgeless) kernel regression trained on the nested prefixes ``X[:D]`` for each
    ``D`` in ``sizes``: the resolution-limited data scan of Bahri et al. (Sec. 2.2).

    ``K`` is the (n, n) training kernel, ``K_test`` the (n_test, n) test-train kernel, ``y`` (n,)
    and ``y_test`` (n_test,) the targets."""
    out = []
    for D in sizes:
        coef = spd_solve(K[:D, :D], y[:D, None])
        out.append(float(((K_test[:, :D] @ coef)[:, 0] - y_test).pow(2).mean()))
    return out


def kernel_spectrum(K: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of ``K / n`` in decreasing order (the empirical kernel spectrum)."""
    ev = torch.linalg.eigvalsh(K / K.shape[-1])
    return torch.flip(ev, dims=(-1,))
