"""Chapter 1: a resource model for neural scaling laws (Song, Liu, Tegmark & Gore, arXiv:2402.05164).

Neurons are resources that subtasks compete for.  Toy tasks are learned by SiLU networks trained
on the paper's objective ``alpha * task loss + lambda * (|W_1|_1 + |W_2|_1 + ...)``: a larger task
weight ``alpha`` buys more neurons.  The L1 term is applied exactly, by a proximal soft-threshold
step in Adam's metric (:func:`scalinglaws.train.proximal_l1`), so unused neurons end with exactly
zero weights and "allocated" is unambiguous: a hidden neuron is allocated to output ``j`` when its
path strength ``|w_in| |w_out|`` from input ``j`` to output ``j`` exceeds ``threshold`` (the
paper's 1e-3).

Experiments (each one batched into a single training program):

* single subtask ``y = x^2`` (paper Fig. 2): loss against allocated neurons over an alpha sweep
  (hypothesis H1, ``loss ~ N^-1``);
* two subtasks in parallel, outputs ``x1^2`` and ``x2^2`` with loss weights ``beta`` and
  ``1 - beta`` (Fig. 3): neurons per task and their ratio against alpha and beta (H2: constant
  ratio), total loss against total neurons;
* a series task, ``sqrt((x1 - x2)^2 + (x3 - x4)^2)`` with four hidden layers (Fig. 4);
* pool width instead of alpha: the parallel task at a fixed penalty in pools of growing width
  (H2 as the paper states it, for model size);
* the Chinchilla link (paper Sec. 4): loss ~ N^-1 per layer and N_p ~ N^3 give N_p^-1/3, computed
  by :func:`scalinglaws.theory.resource_model_parameter_exponent`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.stats import spearmanr

from ..cache import TreeResult
from ..config import (ChapterConfig, check, check_finite_positive, check_positive_ints,
                      derive_seed, device, device_name, torch_dtype)
from ..data import grid, uniform
from ..fit import fit_power_law
from ..models import BatchedMLP
from ..theory import resource_model_parameter_exponent
from ..train import chain, proximal_l1, train, weighted_mse, width_mask

_SEED_MOD = 2 ** 62


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch1_resource_model"

    #: L1 strength lambda of the objective alpha * loss + lambda * sum |W| (paper: [unverified];
    #: chosen so that small alpha leaves the minimal symmetric pair, N = 2, as in the paper's Fig. 2)
    lam: float = 1e-3
    #: a neuron is allocated when its path strength |w_in| |w_out| exceeds this (paper: 1e-3)
    threshold: float = 1e-3
    #: full-batch Adam steps and peak learning rate (cosine decay to lr * 1e-3); [unverified]
    #: in the paper.  The allocation is a property of this budget (see the chapter).
    steps: int = 8000
    lr: float = 1e-2
    #: Adam steps of the single-subtask sweep (its allocation keeps pruning with the budget; see
    #: the chapter's "Differences")
    single_steps: int = 8000
    #: single subtask y = x^2: hidden neurons in the pool (allocated must stay <= pool / 2),
    #: grid points on [-1, 1] ([inferred] interval) and task weights alpha
    #: (paper: ~40 values in [1, 512])
    pool: int = 128
    n_points: int = 64
    alphas: tuple[float, ...] = tuple(float(a) for a in np.geomspace(2, 512, 8))
    #: the loss-vs-neurons exponent is fitted on networks with at least this many neurons
    #: (N = 2 is the floor: the symmetric pair that any alpha buys)
    fit_min_neurons: int = 4
    #: parallel task: pool, random points in [-1, 1]^2, loss weights beta of task 1 and alphas
    #: (paper Fig. 3C: beta in {0.5, 0.75, 0.85, 0.9, 0.95}, alpha in {32, ..., 512})
    parallel_pool: int = 160
    parallel_points: int = 64
    betas: tuple[float, ...] = (0.5, 0.9)
    parallel_alphas: tuple[float, ...] = (128.0, 256.0, 512.0)
    #: pool widths scanned at fixed alpha and beta (H2 as stated, by model size)
    width_scan: tuple[int, ...] = (8, 16, 32, 64, 128)
    width_scan_alpha: float = 512.0
    width_scan_beta: float = 0.9
    #: series task: hidden layers and their width, alphas, random points in [-1, 1]^4, steps, lr
    #: and how many of the seeds it uses (paper Fig. 4: 4 layers, alpha in 10 ... 10240)
    series_depth: int = 4
    series_width: int = 24
    series_alphas: tuple[float, ...] = (2.0, 8.0, 32.0, 64.0)
    series_points: int = 256
    series_steps: int = 6000
    series_lr: float = 3e-3
    series_seeds: int = 2

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=(0, 1, 2), precision="float32", expected_seconds=130.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(5)), precision="float64", pool=256,
                    n_points=256, alphas=tuple(float(a) for a in np.geomspace(1, 1024, 40)),
                    parallel_pool=256, parallel_points=256, betas=(0.5, 0.75, 0.85, 0.9, 0.95),
                    parallel_alphas=(32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0),
                    width_scan=(8, 16, 32, 64, 128, 256), series_width=64,
                    series_alphas=tuple(0.5 * 2.0 ** k for k in range(11)), series_points=2048,
                    series_steps=20000, series_seeds=5, single_steps=8000, expected_seconds=600.0)
        return cls(**{**base, **kw})

    def validate(self) -> None:
        super().validate()
        check_finite_positive(self.lam, "lam")
        check_finite_positive(self.threshold, "threshold")
        check(isinstance(self.steps, int) and self.steps >= 100, "steps", "must be an integer >= 100")
        check_finite_positive(self.lr, "lr")
        check(isinstance(self.single_steps, int) and self.single_steps >= 100, "single_steps",
              "must be an integer >= 100")
        check(isinstance(self.pool, int) and self.pool >= 8, "pool", "must be an integer >= 8")
        check(isinstance(self.n_points, int) and self.n_points >= 8, "n_points", "must be >= 8")
        check(len(self.alphas) >= 4 and all(np.isfinite(a) and a > 0 for a in self.alphas),
              "alphas", "needs >= 4 finite positive values")
        check(list(self.alphas) == sorted(set(self.alphas)), "alphas", "must increase")
        check(max(self.alphas) / min(self.alphas) >= 100, "alphas", "must span >= 2 decades")
        check(self.fit_min_neurons >= 1, "fit_min_neurons", "must be >= 1")
        check(isinstance(self.parallel_pool, int) and self.parallel_pool >= 8, "parallel_pool",
              "must be an integer >= 8")
        check(isinstance(self.parallel_points, int) and self.parallel_points >= 8
              and self.parallel_points % 2 == 0, "parallel_points", "must be an even integer >= 8")
        check(all(0 < b < 1 for b in self.betas) and 0.5 in self.betas, "betas",
              "must lie in (0, 1) and include 0.5")
        check(len(self.parallel_alphas) >= 2 and all(a > 0 for a in self.parallel_alphas),
              "parallel_alphas", "needs >= 2 positive values")
        check_positive_ints(self.width_scan, "width_scan", minimum=2)
        check_finite_positive(self.width_scan_alpha, "width_scan_alpha")
        check(0 < self.width_scan_beta < 1, "width_scan_beta", "must lie in (0, 1)")
        check(isinstance(self.series_depth, int) and self.series_depth >= 2, "series_depth",
              "must be an integer >= 2")
        check(isinstance(self.series_width, int) and self.series_width >= 2, "series_width",
              "must be an integer >= 2")
        check(len(self.series_alphas) >= 2 and all(a > 0 for a in self.series_alphas),
              "series_alphas", "needs >= 2 positive values")
        check(isinstance(self.series_steps, int) and self.series_steps >= 100, "series_steps",
              "must be an integer >= 100")
        check_finite_positive(self.series_lr, "series_lr")
        check(1 <= self.series_seeds <= len(self.seeds), "series_seeds",
              "must be between 1 and the number of seeds")


@dataclass
class Result(TreeResult):
    # single subtask (S seeds x A alphas)
    alphas: np.ndarray
    single_neurons: np.ndarray        # (S, A) allocated neurons
    single_mse: np.ndarray            # (S, A) task MSE (without the penalty)
    single_sensitivity: np.ndarray    # (3, S, A) neurons at threshold x {0.1, 1, 10}
    single_exponent: float            # fitted slope of log MSE on log N (negative), N >= fit_min
    single_exponent_lo: float         # the same, +- its standard error
    single_exponent_hi: float
    single_fit_points: int
    single_prefactor: float
    single_alloc_exponent: float      # q in N ~ alpha^q, fitted on networks with N >= fit_min
    single_spearman: float            # rank correlation of alpha and N over all networks
    single_drops: int                 # median-N drops between neighbouring alphas beyond seed spread
    single_max_fraction: float        # largest N / pool
    single_wb: np.ndarray             # (S, A, pool, 3) w_in, b, w_out of every neuron
    # parallel subtasks (B betas x PA alphas x S seeds)
    betas: np.ndarray
    parallel_alphas: np.ndarray
    par_n1: np.ndarray
    par_n2: np.ndarray
    par_mse1: np.ndarray              # unweighted MSE of task 1
    par_mse2: np.ndarray
    par_ratio: np.ndarray             # (B, PA) sum over seeds of N1 / sum of N2
    par_ratio_spread: np.ndarray      # (B,) max / min of par_ratio across alpha
    par_ratio_beta: np.ndarray        # (B,) N1 / N2 pooled over all alphas and seeds (H2's constant)
    par_loss_ratio: np.ndarray        # (B, PA) median over seeds of MSE2 / MSE1
    par_total_exponent: np.ndarray    # (B,) slope of weighted loss vs N1 + N2 (negative)
    par_shared: np.ndarray            # (B, PA, S) neurons with above-threshold paths to both tasks
    # width scan (W widths x S seeds) at fixed alpha, beta
    width_scan: np.ndarray
    width_n1: np.ndarray
    width_n2: np.ndarray
    width_ratio: np.ndarray           # (W,) median N1 / N2
    width_loss: np.ndarray            # (W, S) weighted loss
    # series task (S' seeds x SA alphas)
    series_alphas: np.ndarray
    series_layers: np.ndarray         # (S', SA, depth) allocated neurons per hidden layer
    series_neurons: np.ndarray        # (S', SA) summed over layers
    series_mse: np.ndarray
    series_exponent: float            # slope of log MSE on log N (negative)
    # Chinchilla link
    chinchilla_exponent: float        # computed: -1/3
    chinchilla_exponent_all: float    # computed when all N L neurons count: -2/3
    wall_time_s: float
    device: str
    timings: dict


def path_strengths(model: BatchedMLP) -> list[np.ndarray]:
    """``|W1[i, n]| |W2[n, j]|`` for each network of a one-hidden-layer batch, shape (d_in, N, d_out).

    Returned as a list in network order (widths may differ between networks).
    """
    out: list[np.ndarray | None] = [None] * model.M
    for grp in model.groups:
        W1, _, W2, _ = (p.detach().abs().cpu().double().numpy() for p in model.group_params(grp))
        paths = W1[:, :, :, None] * W2[:, None, :, :]
        for k, i in enumerate(grp.index.tolist()):
            out[i] = paths[k]
    return out  # type: ignore[return-value]


def task_allocation(paths: np.ndarray, threshold: float) -> tuple[int, int, int]:
    """Neurons allocated to task 1 and task 2 of a two-task network, and those shared by both.

    Neuron n serves task j when its path input j -> output j exceeds ``threshold``; a neuron that
    serves both is given to the task with the stronger path (and counted in ``shared``).
    """
    own = np.stack([paths[0, :, 0], paths[1, :, 1]], -1)
    active = own > threshold
    first = active[:, 0] & (own[:, 0] >= own[:, 1])
    second = active[:, 1] & ~first
    return int(first.sum()), int(second.sum()), int((active[:, 0] & active[:, 1]).sum())


def _seed(*parts: Any) -> int:
    return derive_seed(*parts) % _SEED_MOD


def run_single(cfg: Config, dev: Any = None) -> dict[str, Any]:
    """The single-subtask sweep (paper Fig. 2) alone: allocated neurons and MSE per (seed, alpha)."""
    dev = device() if dev is None else dev
    dt = torch_dtype(cfg.precision)
    S = len(cfg.seeds)
    T = lambda a: torch.as_tensor(np.asarray(a), dtype=dt, device=dev)  # noqa: E731
    # ---- single subtask: one network per (alpha, seed), alpha-major
    A = len(cfg.alphas)
    al = np.repeat(np.asarray(cfg.alphas), S)
    model = BatchedMLP([cfg.pool] * len(al), activation="silu", dtype=dt, device=dev,
                       seeds=[_seed("ch1-single", a, s) for a in cfg.alphas for s in cfg.seeds])
    x = T(grid(cfg.n_points))
    h = train(model, x, x ** 2, steps=cfg.single_steps, lr=cfg.lr, schedule="cosine",
              post_step=proximal_l1(cfg.lam / al), log_every=cfg.single_steps,
              desc="ch1 single task")
    strength = np.stack([p[0, :, 0] for p in path_strengths(model)])        # (M, pool)
    single_n = (strength > cfg.threshold).sum(1).reshape(A, S).T
    sens = np.stack([(strength > cfg.threshold * f).sum(1).reshape(A, S).T for f in (0.1, 1, 10)])
    single_mse = h.final_train.reshape(A, S).T
    keep = single_n.ravel() >= cfg.fit_min_neurons
    fit = fit_power_law(single_n.ravel()[keep], single_mse.ravel()[keep])
    qfit = fit_power_law(np.broadcast_to(np.asarray(cfg.alphas), (S, A)).ravel()[keep],
                         single_n.ravel()[keep]) if keep.sum() >= 2 else None
    med = np.median(single_n, 0)
    spread = single_n.max(0) - single_n.min(0)
    drops = int(sum(med[k + 1] < med[k] - max(spread[k], spread[k + 1]) for k in range(A - 1)))
    rho = float(spearmanr(al, single_n.T.ravel()).statistic) if np.ptp(single_n) > 0 else 0.0
    W1, b1, W2, _ = (p.detach().cpu().double().numpy() for p in model.group_params(0))
    wb = np.stack([W1[:, 0, :], b1[:, 0, :], W2[:, :, 0]], -1)               # (M, pool, 3)
    wb = wb.reshape(A, S, cfg.pool, 3).transpose(1, 0, 2, 3)
    return dict(single_neurons=single_n, single_mse=single_mse, single_sensitivity=sens,
                single_exponent=-fit.exponent, single_exponent_lo=-fit.exponent - fit.stderr,
                single_exponent_hi=-fit.exponent + fit.stderr, single_fit_points=fit.n_points,
                single_prefactor=fit.prefactor, single_spearman=rho,
                single_alloc_exponent=-qfit.exponent if qfit is not None else 0.0,
                single_drops=drops, single_max_fraction=float(single_n.max() / cfg.pool),
                single_wb=wb)


def run(config: Config | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring)."""
    cfg = config or Config.for_mode()
    t0 = time.perf_counter()
    dev = device()
    dt = torch_dtype(cfg.precision)
    S = len(cfg.seeds)
    T = lambda a: torch.as_tensor(np.asarray(a), dtype=dt, device=dev)  # noqa: E731
    timings: dict[str, float] = {}

    single = run_single(cfg, dev)
    timings["single"] = time.perf_counter() - t0

    # ---- two subtasks in parallel: one network per (beta, alpha, seed)
    t1 = time.perf_counter()
    B, PA = len(cfg.betas), len(cfg.parallel_alphas)
    combos = [(b, a, s) for b in cfg.betas for a in cfg.parallel_alphas for s in cfg.seeds]
    # half the points drawn at random, the other half their mirror images (x2, x1): both tasks see
    # the same input distribution, so beta = 0.5 is exactly symmetric up to the initialisation
    half = uniform(cfg.parallel_points // 2, 2, np.random.default_rng(_seed("ch1-par-x", cfg.seeds[0])))
    x2 = T(np.concatenate([half, half[:, ::-1]]))
    y2 = x2 ** 2
    pm = BatchedMLP([cfg.parallel_pool] * len(combos), d_in=2, d_out=2, activation="silu",
                    seeds=[_seed("ch1-par", b, a, s) for b, a, s in combos], dtype=dt, device=dev)
    train(pm, x2, y2, steps=cfg.steps, lr=cfg.lr, schedule="cosine",
          loss_fn=weighted_mse(T([[b, 1 - b] for b, _, _ in combos])),
          post_step=proximal_l1(cfg.lam / np.asarray([a for _, a, _ in combos])),
          log_every=cfg.steps, desc="ch1 parallel tasks")
    alloc = np.array([task_allocation(p, cfg.threshold) for p in path_strengths(pm)])
    n1, n2, shared = (alloc[:, k].reshape(B, PA, S) for k in range(3))
    with torch.no_grad():
        per = (pm(x2) - y2).pow(2).mean(1).double().cpu().numpy()             # (M, 2)
    m1, m2 = per[:, 0].reshape(B, PA, S), per[:, 1].reshape(B, PA, S)
    ratio = n1.sum(2) / np.maximum(n2.sum(2), 1)                              # pooled over seeds
    spread_r = ratio.max(1) / np.maximum(ratio.min(1), 1e-12)
    ratio_beta = n1.sum((1, 2)) / np.maximum(n2.sum((1, 2)), 1)
    loss_ratio = np.median(m2 / m1, axis=2)
    tot_exp = np.zeros(B)
    for i, b in enumerate(cfg.betas):
        tot_n = (n1[i] + n2[i]).ravel()
        ok = tot_n > 0
        f = fit_power_law(tot_n[ok], (b * m1[i] + (1 - b) * m2[i]).ravel()[ok])
        tot_exp[i] = -f.exponent
    timings["parallel"] = time.perf_counter() - t1

    # ---- pool width instead of alpha: the parallel task at fixed alpha and beta.  Every width is
    # a prefix of one pool of max(width_scan) neurons (the rest held at exactly zero), so the whole
    # scan is one batched program instead of one per width.
    t1 = time.perf_counter()
    Wn, Wmax = len(cfg.width_scan), max(cfg.width_scan)
    ws = [w for w in cfg.width_scan for _ in cfg.seeds]
    wm = BatchedMLP([Wmax] * len(ws), d_in=2, d_out=2, activation="silu", dtype=dt, device=dev,
                    seeds=[_seed("ch1-width", w, s) for w in cfg.width_scan for s in cfg.seeds])
    bw = cfg.width_scan_beta
    hw = train(wm, x2, y2, steps=cfg.steps, lr=cfg.lr, schedule="cosine",
               loss_fn=weighted_mse(T([[bw, 1 - bw]] * len(ws))),
               post_step=chain(proximal_l1(np.full(len(ws), cfg.lam / cfg.width_scan_alpha)),
                               width_mask(wm, ws)),
               log_every=cfg.steps, desc="ch1 width scan")
    walloc = np.array([task_allocation(p, cfg.threshold) for p in path_strengths(wm)])
    wn1, wn2 = walloc[:, 0].reshape(Wn, S), walloc[:, 1].reshape(Wn, S)
    timings["width"] = time.perf_counter() - t1

    # ---- subtasks in series: f(g(x)), g = (x1 - x2)^2 + (x3 - x4)^2, f = sqrt; deep network
    t1 = time.perf_counter()
    sseeds = cfg.seeds[: cfg.series_seeds]
    SS, SA = len(sseeds), len(cfg.series_alphas)
    x4 = uniform(cfg.series_points, 4, np.random.default_rng(_seed("ch1-series-x", cfg.seeds[0])))
    y4 = np.sqrt((x4[:, 0] - x4[:, 1]) ** 2 + (x4[:, 2] - x4[:, 3]) ** 2)[:, None]
    sal = np.repeat(np.asarray(cfg.series_alphas), SS)
    sm = BatchedMLP([cfg.series_width] * len(sal), d_in=4, d_out=1, depth=cfg.series_depth,
                    activation="silu", dtype=dt, device=dev,
                    seeds=[_seed("ch1-series", a, s) for a in cfg.series_alphas for s in sseeds])
    hs = train(sm, T(x4), T(y4), steps=cfg.series_steps, lr=cfg.series_lr, schedule="cosine",
               post_step=proximal_l1(cfg.lam / sal), log_every=cfg.series_steps,
               desc="ch1 series task")
    ps = [p.detach().abs() for p in sm.group_params(0)]
    layer_n = []
    for l in range(cfg.series_depth):  # a hidden neuron counts when it has an input and an output
        w_in, w_out = ps[2 * l], ps[2 * l + 2]
        layer_n.append(((w_in.amax(1) > cfg.threshold) & (w_out.amax(2) > cfg.threshold)).sum(1))
    series_layers = torch.stack(layer_n, -1).cpu().numpy().reshape(SA, SS, -1).transpose(1, 0, 2)
    series_n = series_layers.sum(-1)
    series_mse = hs.final_train.reshape(SA, SS).T
    ok = series_n.ravel() > 0
    sfit = fit_power_law(series_n.ravel()[ok], series_mse.ravel()[ok])
    timings["series"] = time.perf_counter() - t1

    return Result(
        alphas=np.asarray(cfg.alphas), **single,
        betas=np.asarray(cfg.betas), parallel_alphas=np.asarray(cfg.parallel_alphas),
        par_n1=n1, par_n2=n2, par_mse1=m1, par_mse2=m2, par_ratio=ratio, par_ratio_spread=spread_r,
        par_ratio_beta=ratio_beta,
        par_loss_ratio=loss_ratio, par_total_exponent=tot_exp, par_shared=shared,
        width_scan=np.asarray(cfg.width_scan), width_n1=wn1, width_n2=wn2,
        width_ratio=np.median(wn1 / np.maximum(wn2, 1), 1), width_loss=hw.final_train.reshape(Wn, S),
        series_alphas=np.asarray(cfg.series_alphas), series_layers=series_layers,
        series_neurons=series_n, series_mse=series_mse, series_exponent=-sfit.exponent,
        chinchilla_exponent=resource_model_parameter_exponent(),
        chinchilla_exponent_all=resource_model_parameter_exponent(count_all_neurons=True),
        wall_time_s=time.perf_counter() - t0, device=device_name(dev), timings=timings,
    )
