"""Per-network L-BFGS, batched over each width group (own curvature pairs, own line search)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from .. import fused as _fused
from ..models import BatchedMLP, Group
from .engines import _as_tensor, _FusedObjective, fused_applicable, penalty_grads
from .losses import LossFn, PenaltyFn, mse, select


def _flatten(params: Sequence[torch.Tensor]) -> torch.Tensor:
    G = params[0].shape[0]
    return torch.cat([p.detach().reshape(G, -1) for p in params], dim=1)


def _unflatten(theta: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, k = [], 0
    for p in like:
        n = p[0].numel()
        out.append(theta[:, k:k + n].reshape(p.shape))
        k += n
    return out


def lbfgs_polish(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn = mse,
                 penalty: PenaltyFn | None = None, iterations: int = 200, history: int = 20,
                 max_line_search: int = 30, c1: float = 1e-4, engine: str = "auto") -> np.ndarray:
    """Per-network L-BFGS with an Armijo backtracking line search, batched over each width group.

    Every network keeps its own curvature pairs, its own initial scaling and its own step length;
    a network stops when its line search cannot decrease its loss any more (numerical precision).
    Losses and gradients come from the fused program where it applies (``engine``), else from
    autograd.  Returns the number of iterations each network took, shape (M,).
    """
    p0 = next(iter(model.parameters()))
    x, y = _as_tensor(x, p0, "x"), _as_tensor(y, p0, "y")
    its = np.zeros(model.M, dtype=np.int64)
    for grp, params, funcs in _group_objectives(model, x, y, loss_fn, penalty, engine):
        theta, count = _lbfgs_group(*funcs, _flatten(params), iterations, history,
                                    max_line_search, c1)
        with torch.no_grad():
            for q, new in zip(params, _unflatten(theta, params)):
                q.copy_(new)
        its[grp.index.numpy()] = count.cpu().numpy()
    return its


def _group_objectives(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
                      penalty: PenaltyFn | None, engine: str):
    """For each width group: the group, its parameters, and ``(f, (f, grad f))`` of its
    flattened parameters -- from the fused program where it applies and compiles, else autograd."""
    fused_obj = None
    if engine in ("auto", "fused") and fused_applicable(model, loss_fn) and _fused.enabled():
        fused_obj = _FusedObjective(model, x, y, loss_fn, penalty)  # type: ignore[arg-type]
    for k, grp in enumerate(model.groups):
        params = model.group_params(grp)
        funcs = None
        if fused_obj is not None:
            funcs = _fused_group_functions(fused_obj, k, params, penalty)
            try:
                funcs[1](_flatten(params))
            except _fused.FusedUnavailable:
                fused_obj, funcs = None, None
        if funcs is None:
            funcs = _eager_group_functions(model, grp, select(x, grp.index), y, params, loss_fn,
                                           penalty)
        yield grp, params, funcs


def _eager_group_functions(model: BatchedMLP, grp: Group, xg: torch.Tensor, y: torch.Tensor,
                           params: Sequence[torch.Tensor], loss_fn: LossFn,
                           penalty: PenaltyFn | None):
    """``f(theta)`` and ``(f, grad f)(theta)`` of one group by autograd (theta: (G, P))."""

    def f_only(theta: torch.Tensor) -> torch.Tensor:
        ps = _unflatten(theta, params)
        val = loss_fn(model.group_forward(grp, xg, ps), y, grp.index)
        if penalty is not None:
            val = val + penalty(ps, grp.index)
        return val

    def f_and_g(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            th = theta.detach().requires_grad_(True)
            val = f_only(th)
            (g,) = torch.autograd.grad(val.sum(), th)
        return val.detach(), g

    return f_only, f_and_g


def _fused_group_functions(obj: "_FusedObjective", k: int, params: Sequence[torch.Tensor],
                           penalty: PenaltyFn | None):
    """The same two functions from the fused program (penalty gradients by autograd)."""
    grp = obj.plan[k][0]

    def pen(ps: Sequence[torch.Tensor], with_grad: bool):
        if penalty is None:
            return 0.0, None
        if not with_grad:
            return penalty(ps, grp.index), None
        return penalty_grads(penalty, ps, grp.index)

    def f_only(theta: torch.Tensor) -> torch.Tensor:
        ps = _unflatten(theta, params)
        return obj.group_loss(k, ps, False)[0] + pen(ps, False)[0]

    def f_and_g(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ps = _unflatten(theta, params)
        loss, grads = obj.group_loss(k, ps, True)
        pv, pg = pen(ps, True)
        if pg is not None:
            grads = [a + b for a, b in zip(grads, pg)]
        return loss + pv, _flatten(grads)

    return f_only, f_and_g


class _Memory:
    """The curvature pairs of batched L-BFGS (one set per network, rows of (G, P) tensors): the
    two-loop recursion and the update that keeps only pairs with positive curvature."""

    def __init__(self, g0: torch.Tensor, history: int) -> None:
        self.tiny = torch.finfo(g0.dtype).tiny
        self.S: list[torch.Tensor] = []
        self.Y: list[torch.Tensor] = []
        self.R: list[torch.Tensor] = []
        self.history = history
        self.gamma = torch.clamp(1.0 / g0.abs().sum(1).clamp_min(self.tiny), max=1.0)

    def apply(self, q: torch.Tensor) -> torch.Tensor:
        """``H q`` for every network (the inverse-Hessian approximation times ``q``)."""
        q = q.clone()
        alphas = []
        for s, yv, rho in zip(reversed(self.S), reversed(self.Y), reversed(self.R)):
            a = rho * (s * q).sum(1)
            q -= a[:, None] * yv
            alphas.append(a)
        r = self.gamma[:, None] * q
        for (s, yv, rho), a in zip(zip(self.S, self.Y, self.R), reversed(alphas)):
            b = rho * (yv * r).sum(1)
            r += s * (a - b)[:, None]
        return r

    def update(self, s: torch.Tensor, yv: torch.Tensor, moved: torch.Tensor) -> None:
        """Store the step ``s`` and gradient change ``yv`` of the networks that moved."""
        sy = (s * yv).sum(1)
        yy = (yv * yv).sum(1)
        good = moved & (sy > 1e-12 * torch.sqrt(yy * (s * s).sum(1)).clamp_min(self.tiny))
        rho = torch.where(good, 1.0 / torch.where(good, sy, torch.ones_like(sy)), torch.zeros_like(sy))
        self.S.append(s * good[:, None])
        self.Y.append(yv * good[:, None])
        self.R.append(rho)
        if len(self.S) > self.history:
            self.S.pop(0), self.Y.pop(0), self.R.pop(0)
        self.gamma = torch.where(good, sy / yy.clamp_min(self.tiny), self.gamma)


def _lbfgs_group(f_only: Callable[[torch.Tensor], torch.Tensor],
                 f_and_g: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                 theta: torch.Tensor, iterations: int, history: int, max_line_search: int,
                 c1: float) -> tuple[torch.Tensor, torch.Tensor]:
    """L-BFGS for G networks at once, each with its own curvature pairs and line search.
    Returns the final parameters (G, P) and the iterations each network took."""
    dev, dtype = theta.device, theta.dtype
    G = theta.shape[0]
    f, g = f_and_g(theta)
    mem = _Memory(g, history)
    active = torch.isfinite(f)
    count = torch.zeros(G, dtype=torch.long, device=dev)
    for _ in range(iterations):
        if not bool(active.any()):
            break
        d = -mem.apply(g)      # two-loop recursion, one direction per network
        gd = (g * d).sum(1)
        bad = ~(gd < 0) | ~torch.isfinite(gd)
        if bool(bad.any()):  # fall back to steepest descent for those networks
            d[bad] = -g[bad] * mem.gamma[bad, None]
            gd = (g * d).sum(1)
        # per-network Armijo backtracking
        t = torch.ones(G, dtype=dtype, device=dev)
        accepted = ~active
        with torch.no_grad():
            for _ls in range(max_line_search):
                ft = f_only(theta + t[:, None] * d)
                ok = (ft <= f + c1 * t * gd) & torch.isfinite(ft) & ~accepted
                accepted = accepted | ok
                if bool(accepted.all()):
                    break
                t = torch.where(accepted, t, 0.5 * t)
        moved = accepted & active
        t = torch.where(moved, t, torch.zeros_like(t))
        theta_new = theta + t[:, None] * d
        f_new, g_new = f_and_g(theta_new)
        mem.update(theta_new - theta, g_new - g, moved)
        count += moved.long()
        theta = torch.where(moved[:, None], theta_new, theta)
        f = torch.where(moved, f_new, f)
        g = torch.where(moved[:, None], g_new, g)
        active = moved
    return theta, count

