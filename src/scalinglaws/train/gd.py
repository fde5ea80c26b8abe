"""Full-batch gradient descent, in the neural-tangent parameterisation by default."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from ..config import device_name, progress_enabled
from ..models import BatchedMLP
from .engines import History, _as_tensor, _check_data, _custom_targets, _objective
from .losses import LossFn, mse


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

