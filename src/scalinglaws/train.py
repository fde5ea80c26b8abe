"""One trainer for M independent networks at once.

:func:`train` trains every network of a :class:`~scalinglaws.models.BatchedMLP` with Adam.  The
objective summed over networks has block-diagonal structure and Adam is elementwise, so each
network gets exactly its own gradient and its own Adam state: a batched run equals M separate runs
(tested to rtol 1e-6 in float64).  An optional L-BFGS polish then runs *per network* (batched
two-loop recursion and a per-network Armijo line search; no line search is shared between networks,
which a plain ``torch.optim.LBFGS`` on the summed loss would do).

Two engines compute the gradients.  ``"fused"`` (the default wherever it applies: one hidden layer,
an activation of :data:`scalinglaws.fused.FUSED_ACTIVATIONS`, a :class:`SquaredError` loss) runs a
compiled, hand-derived forward-and-backward program per width group (:mod:`scalinglaws.fused`);
``"eager"`` runs autograd on the same objective.  Both give the same results (tested to rtol 1e-6
in float64); ``engine="auto"`` falls back to ``"eager"`` with a one-line warning where compilation
is unavailable.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import fused as _fused
from .config import device_name, progress_enabled
from .models import BatchedMLP, Group

#: ``loss_fn(pred[G, n, d_out], y, index[G]) -> loss[G]``: per-network loss of one group.
#: ``y`` is the full target, shared ``(n, d_out)`` or per-network ``(M, n, d_out)``; ``index`` are
#: the batch positions of the group's networks (use it to pick per-network targets or weights).
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
#: ``penalty(params_of_group, index) -> penalty[G]`` added to the objective (e.g. an L1 term).
PenaltyFn = Callable[[Sequence[torch.Tensor], torch.Tensor], torch.Tensor]

SCHEDULES = ("constant", "cosine", "exp")


def select(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of a per-network tensor (M, ...) for a group, or a shared tensor unchanged."""
    return t[index.to(t.device)] if t.dim() == 3 else t


class SquaredError:
    """A weighted squared-error loss, the one form the fused engine computes.

    Network ``i``'s loss is ``sum_{p,o} c[i,p,o] (f_i(x_p)_o - y[t_i,p,o])^2`` with

    * the default weights ``1 / (n d_out)``: the mean squared error;
    * ``output_weights`` (M, d_out): ``sum_o w[i,o] mean_p (...)^2`` (e.g. two subtasks weighted
      ``beta`` and ``1 - beta``, Song et al. 2024, Fig. 3);
    * ``point_weights`` (T, n): ``sum_p q[t_i,p] mean_o (...)^2`` (e.g. input frequencies);
    * ``target_index`` (M,): network i uses target row ``t_i`` of a stacked ``y`` (T, n, d_out)
      and of ``point_weights`` (e.g. one teacher per seed); without it ``t_i = i`` for per-network
      targets (M, n, d_out) and shared ones (n, d_out) serve every network.
    """

    def __init__(self, output_weights: Any = None, point_weights: Any = None,
                 target_index: Any = None) -> None:
        if output_weights is not None and point_weights is not None:
            raise ValueError("give output_weights or point_weights, not both")
        self.output_weights = None if output_weights is None else torch.as_tensor(output_weights)
        self.point_weights = None if point_weights is None else torch.as_tensor(point_weights)
        self.target_index = None if target_index is None else torch.as_tensor(target_index).long()
        for name, t, dim in (("output_weights", self.output_weights, 2),
                             ("point_weights", self.point_weights, 2),
                             ("target_index", self.target_index, 1)):
            if t is not None and t.dim() != dim:
                raise ValueError(f"{name} must have {dim} dimensions, got shape {tuple(t.shape)}")

    @property
    def per_network_targets(self) -> bool:
        return self.target_index is not None

    def group_terms(self, y: torch.Tensor, index: torch.Tensor, n: int, d_out: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The group's targets (n, d_out) or (G, n, d_out) and weights broadcastable to
        (G, n, d_out)."""
        idx = index.to(y.device)
        if self.target_index is not None:
            rows = self.target_index.to(y.device)[idx]
            yg = y[rows]
        else:
            rows = idx
            yg = y[idx] if y.dim() == 3 else y
        if self.output_weights is not None:
            w = self.output_weights.to(dtype=y.dtype, device=y.device)[idx][:, None, :] / n
        elif self.point_weights is not None:
            w = self.point_weights.to(dtype=y.dtype, device=y.device)[rows][:, :, None] / d_out
        else:
            w = torch.full((1, 1, 1), 1.0 / (n * d_out), dtype=y.dtype, device=y.device)
        return yg, w

    def __call__(self, pred: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        yg, w = self.group_terms(y, index, pred.shape[1], pred.shape[2])
        return (w * (pred - yg).pow(2)).sum(dim=(1, 2))


#: Mean squared error of each network, averaged over points and outputs.
mse = SquaredError()


def lr_at(step: int, steps: int, lr: float, schedule: str, final_factor: float,
          warmup: int = 0) -> float:
    """Learning rate at ``step`` (0-based) of ``steps``: constant, cosine or exponential decay from
    ``lr`` to ``lr * final_factor``, after an optional linear warm-up."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    frac = 0.0 if steps <= 1 else min(1.0, (step - warmup) / max(1, steps - 1 - warmup))
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (final_factor + (1 - final_factor) * 0.5 * (1 + math.cos(math.pi * frac)))
    if schedule == "exp":
        return lr * final_factor ** frac
    raise ValueError(f"schedule {schedule!r} is unknown; choose one of {SCHEDULES}")


def train_one(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
              schedule: str = "cosine", final_lr_factor: float = 1e-3) -> float:
    """The naive way: one ``nn.Module`` trained alone by ``torch.optim.Adam`` on the MSE with the
    same schedule as :func:`train`.  The reference the batched trainer is tested and benchmarked
    against; returns the final training MSE."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for k in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(k, steps, lr, schedule, final_lr_factor)
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(((net(x) - y) ** 2).mean())


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
                with torch.enable_grad():
                    req = [q.detach().requires_grad_(True) for q in params]
                    extra = torch.autograd.grad(self.penalty(req, g.index).sum(), req)
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


def train(model: BatchedMLP, x: Any, y: Any, *, steps: int, lr: float = 1e-2,
          schedule: str = "cosine", final_lr_factor: float = 1e-3, warmup_steps: int = 0,
          loss_fn: LossFn = mse, penalty: PenaltyFn | None = None,
          post_step: Callable[[BatchedMLP, float, torch.optim.Optimizer], None] | None = None,
          x_test: Any = None, y_test: Any = None, log_every: int | None = None,
          lbfgs_steps: int = 0, lbfgs_history: int = 20, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, progress: bool | None = None, desc: str = "training",
          engine: str = "auto") -> History:
    """Train all M networks of ``model`` at once with Adam, then optionally polish with L-BFGS.

    Parameters
    ----------
    x, y:
        training data, shared ``(n, d_in)``/``(n, d_out)`` or per network ``(M, n, ·)``.
    steps, lr, schedule, final_lr_factor, warmup_steps:
        full-batch Adam steps and the learning-rate schedule (``constant``, ``cosine`` or ``exp``
        decay from ``lr`` to ``lr * final_lr_factor``).
    loss_fn:
        per-network loss (:data:`LossFn`), default mean squared error; a :class:`SquaredError`
        runs on the fused engine.
    penalty:
        optional per-network penalty (:data:`PenaltyFn`) added to the Adam objective.
    post_step:
        called as ``post_step(model, lr, optimizer)`` after every Adam step, e.g.
        :func:`proximal_l1`, whose soft-threshold makes L1-penalised weights exactly zero.
    x_test, y_test:
        optional held-out data; its loss is logged and returned.
    lbfgs_steps:
        iterations of the per-network L-BFGS polish after Adam (0 = none).  The polish minimises
        ``loss_fn`` plus ``penalty`` (the penalty should then be smooth).
    progress:
        show a tqdm bar (default: on, unless ``BOOK_PROGRESS=0``).
    engine:
        ``"auto"`` (fused where it applies, else eager), ``"fused"`` or ``"eager"``.

    Returns
    -------
    History
        per-network loss curves, final train/test losses, wall time, device and engine.

    Raises
    ------
    ValueError
        on a bad argument (the message names it) or data of the wrong shape.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule {schedule!r} is unknown; choose one of {SCHEDULES}")
    if not (0 < final_lr_factor <= 1):
        raise ValueError(f"final_lr_factor must be in (0, 1], got {final_lr_factor!r}")
    p0 = next(iter(model.parameters()))
    x, y = _as_tensor(x, p0, "x"), _as_tensor(y, p0, "y")
    _check_data(model, x, y, "training data", custom_loss=_custom_targets(loss_fn))
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = _as_tensor(x_test, p0, "x_test"), _as_tensor(y_test, p0, "y_test")
        _check_data(model, x_test, y_test, "test data", custom_loss=_custom_targets(loss_fn))
    log_every = max(1, steps // 100) if log_every is None else max(1, int(log_every))
    show = progress_enabled() if progress is None else progress
    dev = p0.device

    t0 = time.perf_counter()
    compile0 = _fused.compiled_grads.compile_seconds
    objective = _objective(engine, model, x, y, loss_fn, penalty)
    log_steps: list[int] = []
    log_train: list[np.ndarray] = []
    log_test: list[np.ndarray] = []
    opt = _adam(model, lr, betas, eps)
    iterator: Any = range(steps)
    bar = None
    if show and steps > 0:
        from tqdm.auto import tqdm

        bar = tqdm(iterator, desc=desc, leave=False, mininterval=0.5)
        iterator = bar
    for step in iterator:
        lr_t = lr_at(step, steps, lr, schedule, final_lr_factor, warmup_steps)
        for pg in opt.param_groups:
            pg["lr"] = lr_t
        per = objective(with_grad=True)
        opt.step()
        if post_step is not None:
            with torch.no_grad():
                post_step(model, lr_t, opt)
        if step % log_every == 0:
            log_steps.append(step)
            log_train.append(per.cpu().numpy())
            if has_test:
                log_test.append(evaluate(model, x_test, y_test, loss_fn))
            if bar is not None:
                bar.set_postfix(median_loss=f"{float(per.median()):.3g}")
    if bar is not None:
        bar.close()
    for q in model.parameters():
        q.grad = None

    lbfgs_its = None
    if lbfgs_steps > 0:
        lbfgs_its = lbfgs_polish(model, x, y, loss_fn=loss_fn, penalty=penalty,
                                 iterations=lbfgs_steps, history=lbfgs_history,
                                 engine=objective.name)
    final_np = objective(with_grad=False, with_penalty=False).cpu().numpy()
    log_steps.append(steps + lbfgs_steps)
    log_train.append(final_np)
    final_test = None
    if has_test:
        final_test = evaluate(model, x_test, y_test, loss_fn)
        log_test.append(final_test)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    wall = time.perf_counter() - t0
    return History(
        step=np.asarray(log_steps),
        train_loss=np.stack(log_train, axis=1),
        test_loss=np.stack(log_test, axis=1) if has_test else None,
        final_train=final_np,
        final_test=final_test,
        widths=list(model.widths),
        seeds=list(model.seeds),
        wall_time_s=wall,
        device=device_name(dev),
        dtype=str(p0.dtype).replace("torch.", ""),
        adam_steps=int(steps),
        lbfgs_steps=int(lbfgs_steps),
        lbfgs_iterations=lbfgs_its,
        diverged=~np.isfinite(final_np),
        engine=objective.name,
        compile_time_s=_fused.compiled_grads.compile_seconds - compile0,
    )


def gradient_descent(model: BatchedMLP, x: Any, y: Any, *, steps: int, lr: float,
                     ntk: bool = True, loss_fn: LossFn = mse, log_every: int | None = None,
                     progress: bool | None = None, desc: str = "gradient descent",
                     engine: str = "auto") -> History:
    """Full-batch gradient descent (no momentum, constant rate) on every network at once.

    With ``ntk=True`` the rates are those of the neural-tangent parameterisation
    ``f = v . act(W x / sqrt(d_in) + b) / sqrt(N) + c`` at rate ``lr``: a standard-parameterised
    network (whose initial function has the same scale) trained with rate ``lr / fan_in`` on each
    weight matrix and ``lr`` on the biases (Jacot et al. 2018).  Wide networks then stay close
    to their linearisation: the regime in which the kernel theory describes trained networks."""
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    p0 = next(iter(model.parameters()))
    x, y = _as_tensor(x, p0, "x"), _as_tensor(y, p0, "y")
    _check_data(model, x, y, "training data", custom_loss=_custom_targets(loss_fn))
    t0 = time.perf_counter()
    objective = _objective(engine, model, x, y, loss_fn, None)
    rates = []  # one rate per parameter, in model.parameters() order
    for g in model.groups:
        dims = [model.d_in] + [g.width] * model.depth
        for l in range(model.n_layers):
            rates += [lr / dims[l] if ntk else lr, lr]
    log_every = max(1, steps // 100) if log_every is None else max(1, int(log_every))
    show = progress_enabled() if progress is None else progress
    log_steps, log_train = [], []
    iterator: Any = range(steps)
    if show:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=desc, leave=False, mininterval=0.5)
    params = [q for g in model.groups for q in model.group_params(g)]
    for step in iterator:
        per = objective(with_grad=True)
        with torch.no_grad():
            for q, r in zip(params, rates):
                q.sub_(r * q.grad)
        if step % log_every == 0:
            log_steps.append(step)
            log_train.append(per.cpu().numpy())
    for q in model.parameters():
        q.grad = None
    final = objective(with_grad=False).cpu().numpy()
    log_steps.append(steps)
    log_train.append(final)
    return History(step=np.asarray(log_steps), train_loss=np.stack(log_train, 1), test_loss=None,
                   final_train=final, final_test=None, widths=list(model.widths),
                   seeds=list(model.seeds), wall_time_s=time.perf_counter() - t0,
                   device=device_name(p0.device), dtype=str(p0.dtype).replace("torch.", ""),
                   adam_steps=0, diverged=~np.isfinite(final), engine=objective.name,
                   compile_time_s=0.0)


def _adam(model: BatchedMLP, lr: float, betas: tuple[float, float], eps: float
          ) -> torch.optim.Optimizer:
    """Adam over all parameters: the fused (single-kernel) implementation where this torch has
    it for the device and dtype, else the default one (same update rule)."""
    params = list(model.parameters())
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)


# ----------------------------------------------------------------------------- proximal L1
def _penalised(j: int, layers: Sequence[int] | None, biases: bool) -> bool:
    """Whether parameter ``j`` of a group (weights and biases alternate, layer ``j // 2``) carries
    the L1 term: the weights of ``layers`` (default all) and, with ``biases``, their biases."""
    return (layers is None or j // 2 in layers) and (j % 2 == 0 or biases)


def proximal_l1(strength: Any, layers: Sequence[int] | None = None, biases: bool = False
                ) -> Callable[[BatchedMLP, float, torch.optim.Optimizer], None]:
    """A ``post_step`` that adds an exact L1 penalty ``strength_i * sum |W|`` to network i.

    After each Adam step every weight matrix (or only ``layers``, 0-based) is soft-thresholded in
    Adam's own metric: ``w <- sign(w) max(|w| - lr * strength / (sqrt(v_hat) + eps), 0)``.  Its
    fixed points satisfy the L1 optimality conditions ``grad + strength * sign(w) = 0`` (or
    ``w = 0`` where ``|grad| <= strength``), so unused weights become exactly zero -- which
    "Adam on loss + L1" never achieves.  Biases are penalised only with ``biases`` (those of the
    same layers).
    """
    lam_all = torch.as_tensor(np.asarray(strength, dtype=float).reshape(-1))

    def step(model: BatchedMLP, lr: float, opt: torch.optim.Optimizer) -> None:
        beta2 = opt.param_groups[0]["betas"][1]
        eps = opt.param_groups[0]["eps"]
        for grp in model.groups:
            ps = model.group_params(grp)
            lam = lam_all[grp.index].to(dtype=ps[0].dtype, device=ps[0].device).view(-1, 1, 1)
            for j, p in enumerate(ps):
                if not _penalised(j, layers, biases):
                    continue
                st = opt.state.get(p)
                if not st or "exp_avg_sq" not in st:
                    continue
                t = float(st["step"])
                denom = (st["exp_avg_sq"] / (1 - beta2 ** t)).sqrt() + eps
                p.copy_(torch.sign(p) * torch.clamp(p.abs() - lr * lam / denom, min=0.0))

    return step


def weighted_mse(weights: Any) -> SquaredError:
    """Per-network loss ``sum_j weights[net, j] * MSE_j`` for multi-output tasks.

    ``weights`` is ``(M, d_out)``, e.g. two subtasks weighted ``beta`` and ``1 - beta``
    (Song et al. 2024, Fig. 3).
    """
    return SquaredError(output_weights=weights)


def width_mask(model: BatchedMLP, widths: list[int]) -> Callable[[BatchedMLP, float, Any], None]:
    """A ``post_step`` that keeps network i of a one-hidden-layer batch at width ``widths[i]``.

    Neurons beyond the width have their input weights, bias and output weights set to exactly zero
    after every step (and at the start), so a pool of equal width emulates networks of many widths.
    """
    if model.depth != 1:
        raise ValueError(f"width_mask needs a one-hidden-layer model, got depth {model.depth}")
    if len(widths) != model.M:
        raise ValueError(f"widths must give one width per network ({model.M}), got {len(widths)}")
    masks = []
    for grp in model.groups:
        n = grp.index.numel()
        W1 = model.group_params(grp)[0]
        keep = torch.zeros(n, W1.shape[-1], dtype=W1.dtype, device=W1.device)
        for k, i in enumerate(grp.index.tolist()):
            keep[k, : widths[i]] = 1.0
        masks.append(keep)

    @torch.no_grad()
    def step(model: BatchedMLP, lr: float, opt: Any) -> None:
        for grp, keep in zip(model.groups, masks):
            W1, b1, W2, _ = model.group_params(grp)
            W1.mul_(keep[:, None, :])
            b1.mul_(keep[:, None, :])
            W2.mul_(keep[:, :, None])

    step(model, 0.0, None)
    return step


def chain(*steps: Callable[[BatchedMLP, float, Any], None]) -> Callable[[BatchedMLP, float, Any], None]:
    """Several ``post_step`` functions applied in order."""

    def step(model: BatchedMLP, lr: float, opt: Any) -> None:
        for s in steps:
            s(model, lr, opt)

    return step


# ----------------------------------------------------------------------------- L-BFGS polish
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
        with torch.enable_grad():
            req = [q.detach().requires_grad_(True) for q in ps]
            val = penalty(req, grp.index)
            return val.detach(), torch.autograd.grad(val.sum(), req)

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


# ----------------------------------------------------------------------------- L1 optimum (OWL-QN)
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
    return torch.cat([torch.full((p[0].numel(),), _penalised(j, layers, biases), device=p.device)
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


# ------------------------------------------------------------------ token models (chapter 4)
def token_cross_entropy(model: torch.nn.Module, tokens: torch.Tensor, mask: torch.Tensor,
                        batch_size: int = 4096) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` over the positions where ``mask`` is
    True (``tokens[n, L]``, ``mask[n, L - 1]``)."""
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(tokens), batch_size):
            t, m = tokens[i:i + batch_size], mask[i:i + batch_size]
            logits = model(t[:, :-1])
            ce = torch.nn.functional.cross_entropy(logits[m], t[:, 1:][m], reduction="sum")
            total, count = total + float(ce), count + int(m.sum())
    model.train()
    return total / max(count, 1)


def train_tokens(model: torch.nn.Module, tokens: torch.Tensor, mask: torch.Tensor, *, steps: int,
                 batch_size: int, lr: float, weight_decay: float = 0.1, warmup_steps: int = 100,
                 seed: int = 0, progress: bool | None = None, desc: str = "training") -> float:
    """AdamW on the masked next-token cross-entropy, minibatches drawn with replacement, linear
    warm-up then cosine decay to 0.  Returns the final training cross-entropy (whole set)."""
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"steps, batch_size and lr must be positive, got {steps}, {batch_size}, {lr}")
    if mask.shape != (tokens.shape[0], tokens.shape[1] - 1):
        raise ValueError(f"mask must have shape {(tokens.shape[0], tokens.shape[1] - 1)}, "
                         f"got {tuple(mask.shape)}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95))
    bar: Any = range(steps)
    if progress_enabled() if progress is None else progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc=desc, leave=False)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, "cosine", 0.0, warmup=warmup_steps)
        idx = torch.randint(0, len(tokens), (batch_size,), generator=gen).to(tokens.device)
        t, m = tokens[idx], mask[idx]
        logits = model(t[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits[m], t[:, 1:][m])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return token_cross_entropy(model, tokens, mask)
