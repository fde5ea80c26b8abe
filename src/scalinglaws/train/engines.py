"""How gradients are computed: the fused program (:mod:`scalinglaws.fused`) or autograd, behind
one objective interface, plus the data checks and the :class:`History` every trainer returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from .. import fused as _fused
from ..models import BatchedMLP
from .losses import LossFn, PenaltyFn, SquaredError, mse, select


@dataclass
class History:
    """What one call of :func:`train` produced.  Arrays are per network (M first)."""

    step: np.ndarray                 # (n_log,) steps at which losses were logged
    train_loss: np.ndarray           # (M, n_log) training objective (loss_fn, without penalty)
    test_loss: np.ndarray | None     # (M, n_log) or None
    final_train: np.ndarray          # (M,) after Adam and the optional L-BFGS polish
    final_test: np.ndarray | None    # (M,) or None
    widths: list[int]
    seeds: list[int]
    wall_time_s: float
    device: str
    dtype: str
    adam_steps: int
    lbfgs_steps: int = 0
    lbfgs_iterations: np.ndarray | None = None  # (M,) L-BFGS iterations each network took
    diverged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (M,)
    engine: str = "eager"            # "fused" or "eager" (what actually ran)
    compile_time_s: float = 0.0      # first calls of the fused program in this run (compilation)


def _as_tensor(a: Any, like: torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(a)
    if not torch.is_floating_point(t):
        t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).nonzero()[0].tolist()
        raise ValueError(f"{name} contains non-finite values (first at index {bad})")
    return t.to(dtype=like.dtype, device=like.device)


def _check_data(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, name: str,
                custom_loss: bool = False) -> None:
    """Shapes of x and y.  With a custom loss, a 3-D y may have any leading size (the loss
    function maps network index to its target, e.g. one target per seed)."""
    if x.dim() not in (2, 3) or x.shape[-1] != model.d_in:
        raise ValueError(f"{name}: x must have shape (n, {model.d_in}) or (M, n, {model.d_in}), "
                         f"got {tuple(x.shape)}")
    if y.dim() not in (2, 3) or y.shape[-1] != model.d_out:
        raise ValueError(f"{name}: y must have shape (n, {model.d_out}) or (M, n, {model.d_out}), "
                         f"got {tuple(y.shape)}")
    for t, nm in ((x, "x"), (y, "y")):
        if nm == "y" and custom_loss:
            continue
        if t.dim() == 3 and t.shape[0] != model.M:
            raise ValueError(f"{name}: per-network {nm} has {t.shape[0]} networks, model has {model.M}")
    if x.shape[-2] != y.shape[-2]:
        raise ValueError(f"{name}: x has {x.shape[-2]} points but y has {y.shape[-2]}")


def _custom_targets(loss_fn: LossFn) -> bool:
    """Whether ``y`` may have any leading size (the loss maps networks to their targets)."""
    return not isinstance(loss_fn, SquaredError) or loss_fn.per_network_targets


def evaluate(model: BatchedMLP, x: Any, y: Any, loss_fn: LossFn = mse) -> np.ndarray:
    """Per-network loss (M,) without gradients."""
    p = next(iter(model.parameters()))
    x, y = _as_tensor(x, p, "x"), _as_tensor(y, p, "y")
    _check_data(model, x, y, "evaluate", custom_loss=_custom_targets(loss_fn))
    out = torch.empty(model.M, dtype=p.dtype, device=p.device)
    with torch.no_grad():
        for grp in model.groups:
            out[grp.index.to(p.device)] = loss_fn(model.group_forward(grp, select(x, grp.index)),
                                                  y, grp.index)
    return out.cpu().numpy()


ENGINES = ("auto", "fused", "eager")


def fused_applicable(model: BatchedMLP, loss_fn: LossFn) -> bool:
    """Whether the fused engine can train ``model`` with ``loss_fn`` (one hidden layer, a known
    activation, a :class:`SquaredError` loss)."""
    return (model.depth == 1 and model.act_name in _fused.FUSED_ACTIVATIONS
            and isinstance(loss_fn, SquaredError))


def penalty_grads(penalty: PenaltyFn, params: Sequence[torch.Tensor], index: torch.Tensor
                  ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The penalty of one group (G,) and its gradient with respect to each of ``params``; a
    parameter the penalty does not touch (e.g. the biases of a weights-only L1) gets zeros."""
    with torch.enable_grad():
        req = [q.detach().requires_grad_(True) for q in params]
        val = penalty(req, index)
        grads = torch.autograd.grad(val.sum(), req, allow_unused=True)
    return val.detach(), [torch.zeros_like(q) if g is None else g for q, g in zip(req, grads)]


class _EagerObjective:
    """Objective and gradients of every network by autograd, group by group."""

    name = "eager"

    def __init__(self, model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
                 penalty: PenaltyFn | None) -> None:
        self.model, self.y, self.loss_fn, self.penalty = model, y, loss_fn, penalty
        p0 = next(iter(model.parameters()))
        self.like = p0
        self.gidx = [g.index.to(p0.device) for g in model.groups]
        self.xs = [select(x, g.index) for g in model.groups]

    def __call__(self, with_grad: bool = True, with_penalty: bool = True) -> torch.Tensor:
        """Per-network loss (M,), without the penalty; sets ``.grad`` of every parameter when
        ``with_grad`` (of loss + penalty)."""
        m = self.model
        per = torch.empty(m.M, dtype=self.like.dtype, device=self.like.device)
        total = self.like.new_zeros(())
        with torch.set_grad_enabled(with_grad):
            for g, ix, xg in zip(m.groups, self.gidx, self.xs):
                lg = self.loss_fn(m.group_forward(g, xg), self.y, g.index)
                per[ix] = lg.detach()
                obj = lg
                if with_penalty and self.penalty is not None:
                    obj = obj + self.penalty(m.group_params(g), g.index)
                total = total + obj.sum()
        if with_grad:
            for q in m.parameters():
                q.grad = None
            total.backward()
        return per


class _FusedObjective:
    """The same objective from the fused program of :mod:`scalinglaws.fused`: the C++ kernel for
    CPU groups with small inputs and outputs (one call per group), else ``torch.compile`` on
    chunks that keep a chunk's hidden layer in cache."""

    name = "fused"

    def __init__(self, model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, loss_fn: SquaredError,
                 penalty: PenaltyFn | None) -> None:
        self.model, self.penalty = model, penalty
        p0 = next(iter(model.parameters()))
        self.like = p0
        n, d_out = x.shape[-2], model.d_out
        self.plan = []
        for g in model.groups:
            params = model.group_params(g)
            xg = select(x, g.index)
            yg, wg = loss_fn.group_terms(y, g.index, n, d_out)
            G = g.index.numel()
            # targets and weights once in the program's canonical (G, n, d_out) form
            yg = (yg if yg.dim() == 3 else yg.unsqueeze(0)).expand(G, n, d_out).contiguous()
            wg = wg.expand(G, n, d_out).contiguous()
            if _fused.cpu_kernel_applies(params[0], params[2], model.act_name):
                backend, slices = _fused.cpu_kernel, [slice(0, G)]
            else:
                backend, slices = _fused.compiled_grads, _fused.chunks(G, n, g.width)
            parts = [(sl, backend.prepare(xg[sl] if xg.dim() == 3 else xg, yg[sl], wg[sl]))
                     for sl in slices]
            self.plan.append((g, g.index.to(p0.device), params, backend, parts))

    def group_loss(self, k: int, ps: Sequence[torch.Tensor], need_grad: bool = True):
        """Loss (G,) of group ``k`` for parameters ``ps`` and, with ``need_grad``, its gradients
        (the program always computes both; dropping the gradients costs no second compile)."""
        _, _, _, backend, parts = self.plan[k]
        act = self.model.act_name
        res = [backend(data, *[q[sl] for q in ps], act) for sl, data in parts]
        loss = res[0][0] if len(res) == 1 else torch.cat([r[0] for r in res])
        if not need_grad:
            return loss, None
        grads = list(res[0][1:]) if len(res) == 1 else [torch.cat([r[j] for r in res])
                                                        for j in range(1, 5)]
        return loss, grads

    def __call__(self, with_grad: bool = True, with_penalty: bool = True) -> torch.Tensor:
        per = torch.empty(self.model.M, dtype=self.like.dtype, device=self.like.device)
        for k, (g, ix, params, _, _) in enumerate(self.plan):
            loss, grads = self.group_loss(k, [q.detach() for q in params], with_grad)
            per[ix] = loss
            if not with_grad:
                continue
            if with_penalty and self.penalty is not None:
                _, extra = penalty_grads(self.penalty, params, g.index)
                grads = [a + b for a, b in zip(grads, extra)]
            for q, gr in zip(params, grads):
                q.grad = gr
        return per


def _objective(engine: str, model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
               penalty: PenaltyFn | None):
    """The objective for ``engine`` ("auto" picks fused where it applies and compiles)."""
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is unknown; choose one of {ENGINES}")
    can = fused_applicable(model, loss_fn)
    if engine == "fused" and not can:
        raise ValueError("engine='fused' needs one hidden layer, an activation in "
                         f"{_fused.FUSED_ACTIVATIONS} and a SquaredError loss "
                         f"(got depth {model.depth}, {model.act_name!r}, {type(loss_fn).__name__})")
    if engine == "eager" or not can or (engine == "auto" and not _fused.enabled()):
        return _EagerObjective(model, x, y, loss_fn, penalty)
    obj = _FusedObjective(model, x, y, loss_fn, penalty)  # type: ignore[arg-type]
    if engine == "auto":
        try:  # compile now (and find out whether compilation works here)
            obj(with_grad=True)
        except _fused.FusedUnavailable:
            return _EagerObjective(model, x, y, loss_fn, penalty)
        finally:
            for q in model.parameters():
                q.grad = None
    return obj
