"""One trainer for M independent networks at once.

:func:`train` trains every network of a :class:`~scalinglaws.models.BatchedMLP` with Adam.  The
objective summed over networks has block-diagonal structure and Adam is elementwise, so each
network gets exactly its own gradient and its own Adam state: a batched run equals M separate runs
(tested to rtol 1e-6 in float64).  An optional L-BFGS polish then runs *per network* (batched
two-loop recursion and a per-network Armijo line search; no line search is shared between networks,
which a plain ``torch.optim.LBFGS`` on the summed loss would do).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

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


def mse(pred: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each network, averaged over points and outputs: shape (G,)."""
    return (pred - select(y, index)).pow(2).mean(dim=(1, 2))


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        d = dict(d)
        for k in ("step", "train_loss", "test_loss", "final_train", "final_test",
                  "lbfgs_iterations", "diverged"):
            if d.get(k) is not None:
                d[k] = np.asarray(d[k], dtype=bool if k == "diverged" else None)
        return cls(**d)

    @classmethod
    def from_json(cls, s: str) -> "History":
        return cls.from_dict(json.loads(s))


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


def evaluate(model: BatchedMLP, x: Any, y: Any, loss_fn: LossFn = mse) -> np.ndarray:
    """Per-network loss (M,) without gradients."""
    p = next(iter(model.parameters()))
    x, y = _as_tensor(x, p, "x"), _as_tensor(y, p, "y")
    _check_data(model, x, y, "evaluate", custom_loss=loss_fn is not mse)
    out = torch.empty(model.M, dtype=p.dtype, device=p.device)
    with torch.no_grad():
        for grp in model.groups:
            out[grp.index.to(p.device)] = loss_fn(model.group_forward(grp, select(x, grp.index)),
                                                  y, grp.index)
    return out.cpu().numpy()


def train(model: BatchedMLP, x: Any, y: Any, *, steps: int, lr: float = 1e-2,
          schedule: str = "cosine", final_lr_factor: float = 1e-3, warmup_steps: int = 0,
          loss_fn: LossFn = mse, penalty: PenaltyFn | None = None,
          post_step: Callable[[BatchedMLP, float, torch.optim.Optimizer], None] | None = None,
          x_test: Any = None, y_test: Any = None, log_every: int | None = None,
          lbfgs_steps: int = 0, lbfgs_history: int = 20, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, progress: bool | None = None, desc: str = "training") -> History:
    """Train all M networks of ``model`` at once with Adam, then optionally polish with L-BFGS.

    Parameters
    ----------
    x, y:
        training data, shared ``(n, d_in)``/``(n, d_out)`` or per network ``(M, n, ·)``.
    steps, lr, schedule, final_lr_factor, warmup_steps:
        full-batch Adam steps and the learning-rate schedule (``constant``, ``cosine`` or ``exp``
        decay from ``lr`` to ``lr * final_lr_factor``).
    loss_fn:
        per-network loss (:data:`LossFn`), default mean squared error.
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

    Returns
    -------
    History
        per-network loss curves, final train/test losses, wall time and device.
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
    _check_data(model, x, y, "training data", custom_loss=loss_fn is not mse)
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = _as_tensor(x_test, p0, "x_test"), _as_tensor(y_test, p0, "y_test")
        _check_data(model, x_test, y_test, "test data", custom_loss=loss_fn is not mse)
    log_every = max(1, steps // 100) if log_every is None else max(1, int(log_every))
    show = progress_enabled() if progress is None else progress

    dev = p0.device
    groups = model.groups
    gidx = [g.index.to(dev) for g in groups]
    xs = [select(x, g.index) for g in groups]

    def objective(with_penalty: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        per = torch.empty(model.M, dtype=p0.dtype, device=dev)
        total = p0.new_zeros(())
        for g, ix, xg in zip(groups, gidx, xs):
            lg = loss_fn(model.group_forward(g, xg), y, g.index)
            per[ix] = lg.detach()
            obj = lg
            if with_penalty and penalty is not None:
                obj = obj + penalty(model.group_params(g), g.index)
            total = total + obj.sum()
        return total, per

    def test_losses() -> np.ndarray:
        return evaluate(model, x_test, y_test, loss_fn)

    log_steps: list[int] = []
    log_train: list[np.ndarray] = []
    log_test: list[np.ndarray] = []
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps)
    t0 = time.perf_counter()
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
        opt.zero_grad(set_to_none=True)
        total, per = objective()
        total.backward()
        opt.step()
        if post_step is not None:
            with torch.no_grad():
                post_step(model, lr_t, opt)
        if step % log_every == 0:
            log_steps.append(step)
            log_train.append(per.cpu().numpy())
            if has_test:
                log_test.append(test_losses())
            if bar is not None:
                bar.set_postfix(median_loss=f"{float(per.median()):.3g}")
    if bar is not None:
        bar.close()

    lbfgs_its = None
    if lbfgs_steps > 0:
        lbfgs_its = lbfgs_polish(model, x, y, loss_fn=loss_fn, penalty=penalty,
                                 iterations=lbfgs_steps, history=lbfgs_history)
    with torch.no_grad():
        _, final = objective(with_penalty=False)
    final_np = final.cpu().numpy()
    log_steps.append(steps + lbfgs_steps)
    log_train.append(final_np)
    final_test = None
    if has_test:
        final_test = test_losses()
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
    )


# ----------------------------------------------------------------------------- proximal L1
def proximal_l1(strength: Any, layers: Sequence[int] | None = None
                ) -> Callable[[BatchedMLP, float, torch.optim.Optimizer], None]:
    """A ``post_step`` that adds an exact L1 penalty ``strength_i * sum |W|`` to network i.

    After each Adam step every weight matrix (or only ``layers``, 0-based) is soft-thresholded in
    Adam's own metric: ``w <- sign(w) max(|w| - lr * strength / (sqrt(v_hat) + eps), 0)``.  Its
    fixed points satisfy the L1 optimality conditions ``grad + strength * sign(w) = 0`` (or
    ``w = 0`` where ``|grad| <= strength``), so unused weights become exactly zero -- which
    "Adam on loss + L1" never achieves.  Biases are not penalised.
    """
    lam_all = torch.as_tensor(np.asarray(strength, dtype=float).reshape(-1))

    def step(model: BatchedMLP, lr: float, opt: torch.optim.Optimizer) -> None:
        beta2 = opt.param_groups[0]["betas"][1]
        eps = opt.param_groups[0]["eps"]
        for grp in model.groups:
            ps = model.group_params(grp)
            lam = lam_all[grp.index].to(dtype=ps[0].dtype, device=ps[0].device).view(-1, 1, 1)
            for l, p in enumerate(ps[0::2]):
                if layers is not None and l not in layers:
                    continue
                st = opt.state.get(p)
                if not st or "exp_avg_sq" not in st:
                    continue
                t = float(st["step"])
                denom = (st["exp_avg_sq"] / (1 - beta2 ** t)).sqrt() + eps
                p.copy_(torch.sign(p) * torch.clamp(p.abs() - lr * lam / denom, min=0.0))

    return step


def weighted_mse(weights: torch.Tensor) -> LossFn:
    """Per-network loss ``sum_j weights[net, j] * MSE_j`` for multi-output tasks.

    ``weights`` is ``(M, d_out)``, e.g. two subtasks weighted ``beta`` and ``1 - beta``
    (Song et al. 2024, Fig. 3).
    """

    def loss_fn(pred: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        per_out = (pred - select(y, index)).pow(2).mean(dim=1)
        return (per_out * weights[index.to(weights.device)]).sum(-1)

    return loss_fn


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
                 max_line_search: int = 30, c1: float = 1e-4) -> np.ndarray:
    """Per-network L-BFGS with an Armijo backtracking line search, batched over each width group.

    Every network keeps its own curvature pairs, its own initial scaling and its own step length;
    a network stops when its line search cannot decrease its loss any more (numerical precision).
    Returns the number of iterations each network took, shape (M,).
    """
    p0 = next(iter(model.parameters()))
    dev = p0.device
    its = np.zeros(model.M, dtype=np.int64)
    tiny = torch.finfo(p0.dtype).tiny
    for grp in model.groups:
        params = model.group_params(grp)
        xg = select(x, grp.index)

        def f_only(theta: torch.Tensor) -> torch.Tensor:
            ps = _unflatten(theta, params)
            val = loss_fn(model.group_forward(grp, xg, ps), y, grp.index)
            if penalty is not None:
                val = val + penalty(ps, grp.index)
            return val

        def f_and_g(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            th = theta.detach().requires_grad_(True)
            val = f_only(th)
            (g,) = torch.autograd.grad(val.sum(), th)
            return val.detach(), g

        theta = _flatten(params)
        G = theta.shape[0]
        f, g = f_and_g(theta)
        S: list[torch.Tensor] = []
        Y: list[torch.Tensor] = []
        R: list[torch.Tensor] = []
        gamma = torch.clamp(1.0 / g.abs().sum(1).clamp_min(tiny), max=1.0)
        active = torch.isfinite(f)
        count = torch.zeros(G, dtype=torch.long, device=dev)
        for _ in range(iterations):
            if not bool(active.any()):
                break
            # two-loop recursion, one direction per network
            q = g.clone()
            alphas = []
            for s, yv, rho in zip(reversed(S), reversed(Y), reversed(R)):
                a = rho * (s * q).sum(1)
                q -= a[:, None] * yv
                alphas.append(a)
            r = gamma[:, None] * q
            for (s, yv, rho), a in zip(zip(S, Y, R), reversed(alphas)):
                b = rho * (yv * r).sum(1)
                r += s * (a - b)[:, None]
            d = -r
            gd = (g * d).sum(1)
            bad = ~(gd < 0) | ~torch.isfinite(gd)
            if bool(bad.any()):  # fall back to steepest descent for those networks
                d[bad] = -g[bad] * gamma[bad, None]
                gd = (g * d).sum(1)
            # per-network Armijo backtracking
            t = torch.ones(G, dtype=p0.dtype, device=dev)
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
            s = theta_new - theta
            yv = g_new - g
            sy = (s * yv).sum(1)
            yy = (yv * yv).sum(1)
            good = moved & (sy > 1e-12 * torch.sqrt(yy * (s * s).sum(1)).clamp_min(tiny))
            rho = torch.where(good, 1.0 / torch.where(good, sy, torch.ones_like(sy)),
                              torch.zeros_like(sy))
            S.append(s * good[:, None])
            Y.append(yv * good[:, None])
            R.append(rho)
            if len(S) > history:
                S.pop(0), Y.pop(0), R.pop(0)
            gamma = torch.where(good, sy / yy.clamp_min(tiny), gamma)
            count += moved.long()
            theta = torch.where(moved[:, None], theta_new, theta)
            f = torch.where(moved, f_new, f)
            g = torch.where(moved[:, None], g_new, g)
            active = moved
        with torch.no_grad():
            for p, new in zip(params, _unflatten(theta, params)):
                p.copy_(new)
        its[grp.index.numpy()] = count.cpu().numpy()
    return its
