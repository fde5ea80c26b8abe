"""The exact optimum of loss + L1: orthant-wise limited-memory quasi-Newton (OWL-QN)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..models import BatchedMLP
from .engines import _as_tensor
from .lbfgs import _flatten, _group_objectives, _Memory, _unflatten
from .losses import LossFn, mse, penalised


@dataclass
class L1Polish:
    """What :func:`owlqn_polish` reached, per network (shape (M,) each).

    ``residual`` is the relative optimality (KKT) residual ``max |pseudo-gradient| / strength``:
    0 at an exact optimum of ``loss + strength * |W|_1``, where every nonzero penalised weight has
    ``grad = -strength * sign(w)``, every zero one ``|grad| <= strength`` and every unpenalised
    parameter ``grad = 0``.  ``support_changes`` counts penalised weights that entered or left the
    support during the last ``support_window`` iterations (0 once the support has settled)."""

    iterations: np.ndarray
    objective: np.ndarray
    residual: np.ndarray
    support_changes: np.ndarray

    def converged(self, tol: float) -> np.ndarray:
        """Networks whose residual is below ``tol`` and whose support stopped changing."""
        return (self.residual <= tol) & (self.support_changes == 0)


def _penalised_mask(params: Sequence[torch.Tensor], layers: Sequence[int] | None,
                    biases: bool) -> torch.Tensor:
    """Which entries of the flattened parameters (per network) carry the L1 term."""
    return torch.cat([torch.full((p[0].numel(),), penalised(j, layers, biases), device=p.device)
                      for j, p in enumerate(params)])


def _pseudo_gradient(theta: torch.Tensor, g: torch.Tensor, mu: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
    """The minimum-norm subgradient of ``f + mu |theta[mask]|_1`` (Andrew & Gao 2007)."""
    s = torch.sign(theta)
    at_zero = torch.where(g + mu < 0, g + mu, torch.where(g - mu > 0, g - mu, torch.zeros_like(g)))
    pen = torch.where(s != 0, g + mu * s, at_zero)
    return torch.where(mask, pen, g)


def owlqn_polish(model: BatchedMLP, x: Any, y: Any, strength: Any, *, loss_fn: LossFn = mse,
                 layers: Sequence[int] | None = None, biases: bool = False,
                 iterations: int = 500, history: int = 20, max_line_search: int = 40,
                 c1: float = 1e-4, support_window: int = 50, engine: str = "auto") -> L1Polish:
    """Minimise ``loss_i + strength_i * |W_i|_1`` per network to its optimum: orthant-wise
    limited-memory quasi-Newton (OWL-QN; Andrew & Gao, ICML 2007), batched like
    :func:`lbfgs_polish` (own curvature pairs, own line search per network).

    The L1 term covers the weight matrices of ``layers`` (default: all) and, with ``biases``,
    their biases.  Steps are projected onto the current orthant, so weights reach exact zeros and
    leave them only when their gradient exceeds the strength.  Use it after
    :func:`train` with :func:`proximal_l1` (same strengths) as a warm start.
    """
    p0 = next(iter(model.parameters()))
    x, y = _as_tensor(x, p0, "x"), _as_tensor(y, p0, "y")
    mu_all = torch.as_tensor(np.broadcast_to(np.asarray(strength, float), (model.M,)).copy(),
                             dtype=p0.dtype, device=p0.device)
    if not torch.all(torch.isfinite(mu_all) & (mu_all > 0)):
        raise ValueError("strength must be finite and positive for every network")
    out = {k: np.zeros(model.M) for k in ("iterations", "objective", "residual", "support_changes")}
    for grp, params, funcs in _group_objectives(model, x, y, loss_fn, None, engine):
        mask = _penalised_mask(params, layers, biases)
        mu = mu_all[grp.index.to(p0.device)][:, None]
        theta, stats = _owlqn_group(*funcs, _flatten(params), mu, mask, iterations, history,
                                    max_line_search, c1, support_window)
        with torch.no_grad():
            for q, new in zip(params, _unflatten(theta, params)):
                q.copy_(new)
        ix = grp.index.numpy()
        for key, val in stats.items():
            out[key][ix] = val.detach().cpu().numpy()
    return L1Polish(iterations=out["iterations"].astype(np.int64), objective=out["objective"],
                    residual=out["residual"], support_changes=out["support_changes"].astype(np.int64))


def _owlqn_group(f_only, f_and_g, theta: torch.Tensor, mu: torch.Tensor, mask: torch.Tensor,
                 iterations: int, history: int, max_line_search: int, c1: float,
                 support_window: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """OWL-QN for the G networks of one group (theta: (G, P), mu: (G, 1), mask: (P,))."""
    dev, dtype = theta.device, theta.dtype
    G = theta.shape[0]

    def l1(th: torch.Tensor) -> torch.Tensor:
        return mu[:, 0] * (th.abs() * mask).sum(1)

    f, g = f_and_g(theta)
    F = f + l1(theta)
    pg = _pseudo_gradient(theta, g, mu, mask)
    mem = _Memory(pg, history)
    active = torch.isfinite(F)
    count = torch.zeros(G, dtype=torch.long, device=dev)
    changes: list[torch.Tensor] = []
    t_start = torch.ones(G, dtype=dtype, device=dev)   # each network's first trial step
    for _ in range(iterations):
        if not bool(active.any()):
            break
        r = mem.apply(pg)
        d = torch.where(r * pg > 0, -r, torch.zeros_like(r))   # descent on every coordinate
        # the orthant: the sign a weight has, or the sign a zero weight would take
        xi = torch.where(theta != 0, torch.sign(theta), torch.sign(-pg))
        t = t_start.clone()
        accepted = ~active
        new = theta.clone()
        with torch.no_grad():
            for _ls in range(max_line_search):
                trial = theta + t[:, None] * d
                trial = torch.where(mask & (torch.sign(trial) != xi), torch.zeros_like(trial), trial)
                Ft = f_only(trial) + l1(trial)
                ok = (Ft <= F + c1 * (pg * (trial - theta)).sum(1)) & torch.isfinite(Ft) & ~accepted
                new = torch.where(ok[:, None], trial, new)
                accepted = accepted | ok
                if bool(accepted.all()):
                    break
                t = torch.where(accepted, t, 0.5 * t)
        moved = accepted & active & (new != theta).any(1)
        # a network that needed a short step starts its next search there (doubled, at most 1)
        t_start = torch.where(moved, torch.clamp(2 * t, max=1.0), t_start)
        theta_new = torch.where(moved[:, None], new, theta)
        f_new, g_new = f_and_g(theta_new)
        mem.update(theta_new - theta, g_new - g, moved)
        changes.append((((theta != 0) != (theta_new != 0)) & mask).sum(1))
        if len(changes) > support_window:
            changes.pop(0)
        count += moved.long()
        theta = theta_new
        f = torch.where(moved, f_new, f)
        g = torch.where(moved[:, None], g_new, g)
        F = f + l1(theta)
        pg = _pseudo_gradient(theta, g, mu, mask)
        active = moved
    resid = pg.abs().amax(1) / mu[:, 0]
    ch = torch.stack(changes).sum(0) if changes else torch.zeros(G, dtype=torch.long, device=dev)
    return theta, {"iterations": count, "objective": F, "residual": resid, "support_changes": ch}

