"""The batched first-order trainer (:func:`train`, Adam by default) and its post-steps: the
proximal L1 step in Adam's metric, width masks."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .. import fused as _fused
from ..config import device_name, progress_enabled
from ..models import BatchedMLP
from .engines import History, _as_tensor, _check_data, _custom_targets, _objective, evaluate
from .lbfgs import lbfgs_polish
from .losses import LossFn, PenaltyFn, mse, penalised
from .schedules import SCHEDULES, lr_at

#: ``factory(params, lr) -> torch.optim.Optimizer``: any optimiser :func:`train` should run
OptimizerFactory = Callable[[list, float], torch.optim.Optimizer]
#: the optimisers :func:`train` knows by name (anything else: an :data:`OptimizerFactory`)
OPTIMIZERS = ("adam", "sgd")


def make_optimizer(optimizer: str | OptimizerFactory, params: list, lr: float,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
                   ) -> torch.optim.Optimizer:
    """The optimiser :func:`train` steps: ``"adam"`` (the fused single-kernel Adam where this
    torch has it for the device and dtype, else the default one; same update rule), ``"sgd"``
    (plain gradient descent), or ``optimizer(params, lr)`` for a factory."""
    if callable(optimizer):
        opt = optimizer(params, lr)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"optimizer factory returned {type(opt).__name__}, not a "
                            "torch.optim.Optimizer")
        return opt
    if optimizer == "adam":
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"optimizer {optimizer!r} is unknown; choose one of {OPTIMIZERS} or pass a "
                     "factory (params, lr) -> torch.optim.Optimizer")


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


def train(model: BatchedMLP, x: Any, y: Any, *, steps: int, lr: float = 1e-2,
          schedule: str = "cosine", final_lr_factor: float = 1e-3, warmup_steps: int = 0,
          loss_fn: LossFn = mse, penalty: PenaltyFn | None = None,
          post_step: Callable[[BatchedMLP, float, torch.optim.Optimizer], None] | None = None,
          x_test: Any = None, y_test: Any = None, log_every: int | None = None,
          lbfgs_steps: int = 0, lbfgs_history: int = 20, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, progress: bool | None = None, desc: str = "training",
          engine: str = "auto", optimizer: str | OptimizerFactory = "adam") -> History:
    """Train all M networks of ``model`` at once (Adam by default), then optionally polish with
    L-BFGS.

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
        optional per-network penalty (:data:`PenaltyFn`) added to the objective, e.g.
        :func:`~scalinglaws.train.losses.l1_penalty` (L1 in the loss).
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
    optimizer:
        ``"adam"`` (default; ``betas``, ``eps``), ``"sgd"``, or a factory
        ``(params, lr) -> torch.optim.Optimizer`` (:func:`make_optimizer`).  The schedule sets
        its learning rate every step.

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
    opt = make_optimizer(optimizer, list(model.parameters()), lr, betas, eps)
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
        group = opt.param_groups[0]
        for grp in model.groups:
            ps = model.group_params(grp)
            lam = lam_all[grp.index].to(dtype=ps[0].dtype, device=ps[0].device).view(-1, 1, 1)
            for j, p in enumerate(ps):
                if not penalised(j, layers, biases):
                    continue
                st = opt.state.get(p)
                if not st or "exp_avg_sq" not in st or "betas" not in group:
                    raise ValueError(
                        f"proximal_l1 soft-thresholds in Adam's metric and needs Adam's "
                        f"second-moment state ('exp_avg_sq'), which {type(opt).__name__} does not "
                        f"keep: train with optimizer='adam', or put the L1 term in the loss "
                        f"(penalty=l1_penalty(...))")
                beta2, eps = group["betas"][1], group["eps"]
                t = float(st["step"])
                denom = (st["exp_avg_sq"] / (1 - beta2 ** t)).sqrt() + eps
                p.copy_(torch.sign(p) * torch.clamp(p.abs() - lr * lam / denom, min=0.0))

    return step


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

