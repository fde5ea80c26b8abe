"""Chapter 1: a resource model for neural scaling laws (Song, Liu, Tegmark & Gore, arXiv:2402.05164).

Neurons are resources that subtasks compete for.  SiLU networks fit ``y = x^2`` on the objective
``alpha * MSE + lambda * |W|_1``; a larger task weight ``alpha`` is meant to buy more neurons, and
H1 says the loss then falls as the inverse of the neurons bought.  The L1 term is exact (a
proximal soft-threshold step after each Adam step), so unused neurons end at exactly zero, and a
neuron is *allocated* when its path strength ``|w_in| |w_out|`` exceeds ``threshold``.

H1 is a statement about the optimum of that objective, so the chapter measures where the optimum
is, not only where a training budget stops:

* the alpha-path (paper Fig. 2): Adam with the proximal step on a budget ladder T, 2T, 4T, then an
  orthant-wise quasi-Newton polish of the same networks (:func:`scalinglaws.train.owlqn_polish`)
  towards the optimum; allocated neurons, test MSE on a dense grid and the objective, per alpha;
* the best two-neuron symmetric network for every alpha, solved directly
  (:func:`scalinglaws.theory.silu_pair_optimum`): an upper bound on the optimum at any width;
* the penalty split (input and output weights, output weights only, weights and biases), whose
  form the paper leaves open;
* two subtasks in parallel (Fig. 3) with loss weights beta and 1 - beta, on a budget ladder, and
  the objective of one optimal pair per subtask beside it;
* a series task (Fig. 4), reported;
* the Chinchilla link: the exponent the resource model implies for Chinchilla's actual shapes
  (Hoffmann et al. 2022, Table A9) next to the paper's depth-proportional-to-width 1/3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..claims import MIN_RUNGS, Claim, Verdict, ladder_from, tolerance_from_gap
from ..config import ChapterConfig, check, check_finite_positive, check_positive_ints
from ..data import grid, uniform
from ..fit import bootstrap_replicates, fit_power_law
from ..models import BatchedMLP
from ..theory import shape_exponents, silu_pair_optimum
from ..train import owlqn_polish, proximal_l1, train, weighted_mse
from .common import Run, torch_seed

SOURCE = "Song, Liu, Tegmark & Gore 2024, arXiv:2402.05164v2"
#: which parameters carry the L1 term: (weight layers, biases too)
PENALTIES = {"weights": (None, False), "output": ((1,), False), "all": (None, True)}
#: the paper's Fig. 2C, digitised (N >= 4): loss ~ N^-1.10; Fig. 2B: ~70 neurons at alpha = 512;
#: Fig. 3C: neuron ratio ~4.6 at beta = 0.9 (all read off the figures, +-5 %)
PAPER_SLOPE = -1.10
PAPER_FIG2C = np.array([(2, 1.0e-4), (3.7, 5.1e-5), (5.2, 3.1e-5), (7.8, 1.9e-5), (12, 1.1e-5),
                        (20, 6.1e-6), (35, 3.7e-6), (58, 2.5e-6)])
PAPER_NEURONS_AT_512 = 70.0
PAPER_RATIO_BETA09 = 4.6


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch1_resource_model"
    ladders: ClassVar[tuple[str, ...]] = ("budgets", "parallel_budgets")

    #: L1 strength lambda (paper: [unverified]); only lambda / alpha matters (Adam is scale-free
    #: and the optimum depends on the ratio), so lambda sets the alpha axis: 1e-3 leaves the
    #: two-neuron pair at small alpha, as in the paper's Fig. 2B
    lam: float = 1e-3
    #: a neuron is allocated when |w_in| |w_out| exceeds this (paper, via its summaries: 1e-3
    #: on weights; applied here to the path strength)
    threshold: float = 1e-3
    #: which parameters the L1 term covers ("weights": input and output weights, the main
    #: choice; "output"; "all": weights and biases) and the variants of the sensitivity panel
    penalty: str = "weights"
    variants: tuple[str, ...] = ("output", "all")
    #: single subtask: hidden pool, training grid on [-1, 1] ([inferred] interval), dense test
    #: grid (>= 10x), task weights (paper: ~40 values in [1, 512])
    pool: int = 128
    n_train: int = 128
    n_test: int = 2048
    alphas: tuple[float, ...] = tuple(float(a) for a in np.geomspace(1, 512, 10))
    #: Adam + proximal steps of the budget ladder (cosine decay from lr to lr * 1e-3), and the
    #: orthant-wise quasi-Newton iterations of the polish that follows the last budget
    budgets: tuple[int, ...] = (1000, 2000, 4000)
    lr: float = 1e-2
    polish_iterations: int = 1000
    #: neurons of the networks started at the pair optimum (the pair plus small random ones)
    seeded_pool: int = 8
    #: the loss-vs-neurons exponent is fitted on per-alpha medians with at least this many neurons
    fit_min_neurons: float = 4.0
    #: parallel task: pool, random points in [-1, 1]^2 (half of them mirrored), loss weights beta
    #: of task 1, alphas, and its budget ladder (paper Fig. 3C: beta in {0.5, 0.75, 0.85, 0.9,
    #: 0.95}, alpha in {32, ..., 512})
    parallel_pool: int = 96
    parallel_points: int = 128
    betas: tuple[float, ...] = (0.5, 0.9)
    parallel_alphas: tuple[float, ...] = (128.0, 256.0, 512.0)
    parallel_budgets: tuple[int, ...] = (1000, 2000, 4000)
    #: series task (paper Fig. 4: 4 hidden layers, alpha in 10 ... 10240): depth, width, alphas,
    #: random points in [-1, 1]^4, Adam steps, lr, and how many of the seeds it uses
    series_depth: int = 4
    series_width: int = 24
    series_alphas: tuple[float, ...] = (2.0, 8.0, 32.0, 64.0)
    series_points: int = 256
    series_steps: int = 3000
    series_lr: float = 3e-3
    series_seeds: int = 2

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=(0, 1, 2, 3), precision="float64", expected_seconds=45.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(5)), precision="float64", pool=256,
                    n_train=1024, n_test=10240,
                    alphas=tuple(float(a) for a in np.geomspace(1, 512, 40)),
                    budgets=(2000, 4000, 8000, 16000), polish_iterations=8000,
                    parallel_pool=256, parallel_points=512, betas=(0.5, 0.75, 0.85, 0.9, 0.95),
                    parallel_alphas=(32.0, 64.0, 128.0, 256.0, 512.0),
                    parallel_budgets=(4000, 8000, 16000), series_width=64,
                    series_alphas=tuple(0.5 * 2.0 ** k for k in range(11)), series_points=2048,
                    series_steps=20000, series_seeds=5, expected_seconds=1800.0)
        return cls(**{**base, **kw})

    @classmethod
    def smoke(cls, **kw: Any) -> "Config":
        """:meth:`full` at a size that runs on a CPU in seconds (same code path)."""
        return cls.full().replace(seeds=(0, 1), pool=16, n_train=32, n_test=320,
                                  alphas=(1.0, 8.0, 64.0, 512.0), budgets=(10, 20, 40),
                                  polish_iterations=10, parallel_pool=8, parallel_points=16,
                                  betas=(0.5, 0.9), parallel_alphas=(64.0, 512.0),
                                  parallel_budgets=(10, 20, 40), series_width=4, series_alphas=(2.0, 8.0),
                                  series_points=16, series_steps=20, series_seeds=1,
                                  expected_seconds=20.0, **kw)

    def validate(self) -> None:
        super().validate()
        check_finite_positive(self.lam, "lam")
        check_finite_positive(self.threshold, "threshold")
        check(self.penalty in PENALTIES, "penalty", f"must be one of {sorted(PENALTIES)}")
        check(all(v in PENALTIES and v != self.penalty for v in self.variants), "variants",
              f"must be other penalties from {sorted(PENALTIES)}")
        check(isinstance(self.pool, int) and self.pool >= 8, "pool", "must be an integer >= 8")
        check(isinstance(self.n_train, int) and self.n_train >= 16, "n_train", "must be >= 16")
        check(isinstance(self.n_test, int) and self.n_test >= 10 * self.n_train, "n_test",
              "must be >= 10 x n_train (a dense held-out grid)")
        check(len(self.alphas) >= 4 and all(np.isfinite(a) and a > 0 for a in self.alphas),
              "alphas", "needs >= 4 finite positive values")
        check(list(self.alphas) == sorted(set(self.alphas)), "alphas", "must increase")
        check(max(self.alphas) / min(self.alphas) >= 64, "alphas", "must span >= 64x")
        for name in ("budgets", "parallel_budgets"):
            b = getattr(self, name)
            check_positive_ints(b, name)
            check(len(b) >= MIN_RUNGS and all(y == 2 * x for x, y in zip(b, b[1:])), name,
                  f"must be a doubling ladder of >= {MIN_RUNGS} budgets")
        check_finite_positive(self.lr, "lr")
        check(isinstance(self.polish_iterations, int) and self.polish_iterations >= 1,
              "polish_iterations", "must be a positive integer")
        check(self.fit_min_neurons >= 1, "fit_min_neurons", "must be >= 1")
        check(isinstance(self.seeded_pool, int) and self.seeded_pool >= 2, "seeded_pool",
              "must be an integer >= 2")
        check(isinstance(self.parallel_pool, int) and self.parallel_pool >= 8, "parallel_pool",
              "must be an integer >= 8")
        check(isinstance(self.parallel_points, int) and self.parallel_points >= 8
              and self.parallel_points % 2 == 0, "parallel_points", "must be an even integer >= 8")
        check(all(0 < b < 1 for b in self.betas) and 0.5 in self.betas and 0.9 in self.betas,
              "betas", "must lie in (0, 1) and include 0.5 and 0.9")
        check(len(self.parallel_alphas) >= 2 and all(a > 0 for a in self.parallel_alphas),
              "parallel_alphas", "needs >= 2 positive values")
        check(isinstance(self.series_depth, int) and self.series_depth >= 2, "series_depth",
              "must be an integer >= 2")
        check(isinstance(self.series_width, int) and self.series_width >= 2, "series_width",
              "must be an integer >= 2")
        check(len(self.series_alphas) >= 2 and all(a > 0 for a in self.series_alphas),
              "series_alphas", "needs >= 2 positive values")
        check(isinstance(self.series_steps, int) and self.series_steps >= 10, "series_steps",
              "must be an integer >= 10")
        check_finite_positive(self.series_lr, "series_lr")
        check(1 <= self.series_seeds <= len(self.seeds), "series_seeds",
              "must be between 1 and the number of seeds")
        check(len(self.seeds) >= 2, "seeds", "needs >= 2 seeds for medians and intervals")


@dataclass
class Result(TreeResult):
    alphas: np.ndarray
    budgets: np.ndarray
    # the alpha-path: (budgets + 1 polished, S, A); the last row is the polish of the last budget
    path_n: np.ndarray                 # allocated neurons
    path_mse: np.ndarray               # test MSE on the dense grid
    path_train: np.ndarray             # training MSE
    path_obj: np.ndarray               # objective / alpha = train MSE + (lam / alpha) |W|_1
    path_slope: np.ndarray             # (budgets + 1, 3) exponent of median MSE on median N, lo, hi
    path_q: np.ndarray                 # (budgets + 1,) exponent of median N in alpha (N >= fit_min)
    seeded_n: np.ndarray               # (S, A) networks started at the pair optimum, polished
    seeded_mse: np.ndarray
    seeded_obj: np.ndarray
    polish_residual: np.ndarray        # (S, A) relative optimality residual after the polish
    polish_support_changes: np.ndarray  # (S, A)
    # the two-neuron symmetric optimum, per alpha
    pair_obj: np.ndarray
    pair_mse: np.ndarray
    pair_bias: np.ndarray
    best_n: np.ndarray                 # (A,) neurons of the lowest objective found at each alpha
    best_obj: np.ndarray
    best_mse: np.ndarray
    # penalty split: the main penalty first, then the variants; at the first budget
    penalties: np.ndarray
    var_n: np.ndarray                  # (V, S, A)
    var_mse: np.ndarray
    var_obj: np.ndarray
    var_slope: np.ndarray              # (V, 3)
    var_pair_obj: np.ndarray           # (V, A)
    var_pair_mse: np.ndarray
    # parallel subtasks: (parallel budgets, B, PA, S)
    betas: np.ndarray
    parallel_alphas: np.ndarray
    parallel_budgets: np.ndarray
    par_n1: np.ndarray
    par_n2: np.ndarray
    par_mse1: np.ndarray
    par_mse2: np.ndarray
    par_obj: np.ndarray
    par_ratio: np.ndarray              # (parallel budgets, B, PA): sum over seeds of N1 / sum of N2
    par_pair_obj: np.ndarray           # (B, PA): one optimal pair per subtask
    # series task (S' seeds x SA alphas)
    series_alphas: np.ndarray
    series_neurons: np.ndarray
    series_mse: np.ndarray
    series_slope: float
    # Chinchilla shapes (estimate, lo, hi)
    shape_width: np.ndarray
    shape_depth: np.ndarray
    wall_time_s: float
    device: str
    timings: dict


# ----------------------------------------------------------------------------- measurements
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


def l1_norm(model: BatchedMLP, penalty: str) -> np.ndarray:
    """The L1 norm the objective charges each network of a one-hidden-layer batch, shape (M,)."""
    layers, biases = PENALTIES[penalty]
    out = np.zeros(model.M)
    for grp in model.groups:
        ps = model.group_params(grp)
        tot = torch.zeros(len(grp.index), dtype=ps[0].dtype, device=ps[0].device)
        for j, p in enumerate(ps):
            if (layers is None or j // 2 in layers) and (j % 2 == 0 or biases):
                tot = tot + p.detach().abs().sum((1, 2))
        out[grp.index.numpy()] = tot.cpu().numpy()
    return out


def median_slope(n: np.ndarray, mse: np.ndarray, n_min: float, n_boot: int = 1000,
                 seed: int = 0) -> np.ndarray:
    """Exponent of the per-alpha median MSE against the per-alpha median neuron count, fitted on
    alphas whose median count is >= ``n_min`` (paper Fig. 2C, N >= 4), with the 16-84 % interval
    of a bootstrap over seeds (rows of ``n`` and ``mse``).  NaN where < 3 alphas qualify."""
    def fit(rows: np.ndarray) -> float:
        N, L = np.median(n[rows], 0), np.median(mse[rows], 0)
        k = N >= n_min
        if k.sum() < 3 or np.ptp(np.log(N[k])) == 0:
            return float("nan")
        return float(fit_power_law(N[k], L[k]).exponent) * -1.0

    S = n.shape[0]
    est = fit(np.arange(S))
    reps = bootstrap_replicates(fit, S, n_boot, seed)
    reps = reps[np.isfinite(reps)]
    if not np.isfinite(est) or reps.size < n_boot // 2:
        return np.array([est, np.nan, np.nan])
    return np.array([est, *np.percentile(reps, [16, 84])])


def _allocation_exponent(alphas: np.ndarray, n: np.ndarray, n_min: float) -> float:
    N = np.median(n, 0)
    k = N >= n_min
    if k.sum() < 2:
        return float("nan")
    return float(-fit_power_law(alphas[k], N[k]).exponent)


# ----------------------------------------------------------------------------- sub-experiments
def _measure(cfg: Config, model: BatchedMLP, x, xt, mu: np.ndarray, penalty: str):
    """Allocated neurons, test MSE, train MSE and objective of a single-task batch, each (S, A)."""
    A, S = len(cfg.alphas), len(cfg.seeds)
    strength = np.stack([p[0, :, 0] for p in path_strengths(model)])
    with torch.no_grad():
        te = (model(xt) - xt ** 2).pow(2).mean((1, 2)).cpu().numpy()
        tr = (model(x) - x ** 2).pow(2).mean((1, 2)).cpu().numpy()
    obj = tr + mu * l1_norm(model, penalty)
    shape = lambda a: np.asarray(a).reshape(A, S).T  # noqa: E731
    return shape((strength > cfg.threshold).sum(1)), shape(te), shape(tr), shape(obj)


def _path(cfg: Config, run: Run, penalty: str, budget: int, tag: str):
    """The alpha-path of one penalty at one budget: one network per (alpha, seed), one program."""
    x, xt = run.tensor(grid(cfg.n_train)), run.tensor(grid(cfg.n_test))
    al = np.repeat(np.asarray(cfg.alphas), len(cfg.seeds))
    mu = cfg.lam / al
    layers, biases = PENALTIES[penalty]
    model = BatchedMLP([cfg.pool] * len(al), activation="silu", dtype=run.dtype, device=run.device,
                       seeds=[torch_seed("ch1-single", a, s) for a in cfg.alphas for s in cfg.seeds])
    train(model, x, x ** 2, steps=budget, lr=cfg.lr, schedule="cosine",
          post_step=proximal_l1(mu, layers=layers, biases=biases), log_every=budget,
          desc=f"ch1 {tag} {budget}")
    return model, (x, xt, mu)


def _single(cfg: Config, run: Run) -> dict[str, Any]:
    """The alpha-path on the budget ladder, the polish of the last budget, the pair optimum."""
    rows = []
    for T in cfg.budgets:
        model, (x, xt, mu) = _path(cfg, run, cfg.penalty, T, "alpha-path")
        rows.append(_measure(cfg, model, x, xt, mu, cfg.penalty))
    layers, biases = PENALTIES[cfg.penalty]
    pol = owlqn_polish(model, x, x ** 2, mu, layers=layers, biases=biases,
                       iterations=cfg.polish_iterations)
    rows.append(_measure(cfg, model, x, xt, mu, cfg.penalty))
    alphas = np.asarray(cfg.alphas)
    xs = grid(cfg.n_train)[:, 0]
    pairs = [silu_pair_optimum(cfg.lam / a, xs, cfg.penalty) for a in alphas]
    pair_obj = np.array([p["objective"] for p in pairs])
    # more neurons than the pair? the pair plus small random neurons, polished to the optimum
    seeded = _seeded(cfg, run, pairs, (x, xt, mu))
    rows.append(seeded)
    n, mse, trn, obj = (np.stack(r) for r in zip(*rows))
    # the lowest objective found at each alpha, over every trained network and the pair
    flat_obj = obj.transpose(2, 0, 1).reshape(len(alphas), -1)
    k = flat_obj.argmin(1)
    take = lambda a: a.transpose(2, 0, 1).reshape(len(alphas), -1)[np.arange(len(alphas)), k]  # noqa: E731
    pair_wins = pair_obj <= flat_obj.min(1)
    P = len(cfg.budgets) + 1      # the path rows (budgets and the polish), then the seeded row
    return dict(
        path_n=n[:P], path_mse=mse[:P], path_train=trn[:P], path_obj=obj[:P],
        seeded_n=n[P], seeded_mse=mse[P], seeded_obj=obj[P],
        path_slope=np.stack([median_slope(n[b], mse[b], cfg.fit_min_neurons) for b in range(P)]),
        path_q=np.array([_allocation_exponent(alphas, n[b], cfg.fit_min_neurons) for b in range(P)]),
        polish_residual=pol.residual.reshape(len(alphas), -1).T,
        polish_support_changes=pol.support_changes.reshape(len(alphas), -1).T,
        pair_obj=pair_obj, pair_mse=np.array([p["mse"] for p in pairs]),
        pair_bias=np.array([p["b"] for p in pairs]),
        best_n=np.where(pair_wins, 2, take(n)).astype(float),
        best_obj=np.where(pair_wins, pair_obj, take(obj)),
        best_mse=np.where(pair_wins, [p["mse"] for p in pairs], take(mse)))


def _seeded(cfg: Config, run: Run, pairs: list[dict], data) -> tuple:
    """Networks of ``seeded_pool`` neurons started at the pair optimum of their alpha plus small
    random neurons, polished by OWL-QN: whether extra neurons lower the objective near the pair."""
    x, xt, mu = data
    S = len(cfg.seeds)
    model = BatchedMLP([cfg.seeded_pool] * len(mu), activation="silu", dtype=run.dtype,
                       device=run.device,
                       seeds=[torch_seed("ch1-seeded", a, s) for a in cfg.alphas for s in cfg.seeds])
    W1, b1, W2, b2 = model.group_params(0)
    with torch.no_grad():
        for p in (W1, b1, W2):
            p.mul_(0.1)
        for i, pr in enumerate(np.repeat(pairs, S)):
            W1[i, 0, :2] = run.tensor([pr["w"], -pr["w"]])
            b1[i, 0, :2] = pr["b"]
            W2[i, :2, 0] = pr["v"]
            b2[i, 0, 0] = pr["c"]
    layers, biases = PENALTIES[cfg.penalty]
    owlqn_polish(model, x, x ** 2, mu, layers=layers, biases=biases, iterations=cfg.polish_iterations)
    return _measure(cfg, model, x, xt, mu, cfg.penalty)


def _variants(cfg: Config, run: Run, main: tuple) -> dict[str, Any]:
    """The penalty split at the first budget: the alpha-path and the pair optimum per variant."""
    names = (cfg.penalty,) + tuple(cfg.variants)
    ns, ms, os_, pobj, pmse = [main[0]], [main[1]], [main[2]], [], []
    xs = grid(cfg.n_train)[:, 0]
    for v in cfg.variants:
        model, (x, xt, mu) = _path(cfg, run, v, cfg.budgets[0], f"penalty {v}")
        n, mse, _, obj = _measure(cfg, model, x, xt, mu, v)
        ns.append(n), ms.append(mse), os_.append(obj)
    for v in names:
        pairs = [silu_pair_optimum(cfg.lam / a, xs, v) for a in cfg.alphas]
        pobj.append([p["objective"] for p in pairs]), pmse.append([p["mse"] for p in pairs])
    return dict(penalties=np.asarray(names), var_n=np.stack(ns), var_mse=np.stack(ms),
                var_obj=np.stack(os_),
                var_slope=np.stack([median_slope(n, m, cfg.fit_min_neurons) for n, m in zip(ns, ms)]),
                var_pair_obj=np.asarray(pobj), var_pair_mse=np.asarray(pmse))


def _parallel(cfg: Config, run: Run) -> dict[str, Any]:
    """Two subtasks in one network (Fig. 3) on a budget ladder; one optimal pair per subtask."""
    B, PA, S = len(cfg.betas), len(cfg.parallel_alphas), len(cfg.seeds)
    combos = [(b, a, s) for b in cfg.betas for a in cfg.parallel_alphas for s in cfg.seeds]
    # half the points at random, half their mirror images (x2, x1): both tasks see the same
    # input distribution, so beta = 0.5 is symmetric up to the initialisation
    half = uniform(cfg.parallel_points // 2, 2, np.random.default_rng(torch_seed("ch1-par-x")))
    pts = np.concatenate([half, half[:, ::-1]])
    x2 = run.tensor(pts)
    y2 = x2 ** 2
    w = run.tensor([[b, 1 - b] for b, _, _ in combos])
    mu = cfg.lam / np.asarray([a for _, a, _ in combos])
    layers, biases = PENALTIES[cfg.penalty]
    out = {k: [] for k in ("n1", "n2", "m1", "m2", "obj")}
    for T in cfg.parallel_budgets:
        pm = BatchedMLP([cfg.parallel_pool] * len(combos), d_in=2, d_out=2, activation="silu",
                        seeds=[torch_seed("ch1-par", b, a, s) for b, a, s in combos],
                        dtype=run.dtype, device=run.device)
        train(pm, x2, y2, steps=T, lr=cfg.lr, schedule="cosine", loss_fn=weighted_mse(w),
              post_step=proximal_l1(mu, layers=layers, biases=biases), log_every=T,
              desc=f"ch1 parallel {T}")
        alloc = np.array([task_allocation(p, cfg.threshold) for p in path_strengths(pm)])
        with torch.no_grad():
            per = (pm(x2) - y2).pow(2).mean(1).cpu().numpy()                  # (M, 2)
        wn = w.cpu().numpy()
        out["n1"].append(alloc[:, 0].reshape(B, PA, S))
        out["n2"].append(alloc[:, 1].reshape(B, PA, S))
        out["m1"].append(per[:, 0].reshape(B, PA, S))
        out["m2"].append(per[:, 1].reshape(B, PA, S))
        out["obj"].append(((wn * per).sum(1) + mu * l1_norm(pm, cfg.penalty)).reshape(B, PA, S))
    n1, n2 = np.stack(out["n1"]), np.stack(out["n2"])
    # one pair per subtask: beta * (MSE_1 + mu / beta |.|) + (1 - beta) * (MSE_2 + ...)
    pair = np.array([[b * silu_pair_optimum(cfg.lam / a / b, pts[:, 0], cfg.penalty)["objective"]
                      + (1 - b) * silu_pair_optimum(cfg.lam / a / (1 - b), pts[:, 1],
                                                    cfg.penalty)["objective"]
                      for a in cfg.parallel_alphas] for b in cfg.betas])
    return dict(betas=np.asarray(cfg.betas), parallel_alphas=np.asarray(cfg.parallel_alphas),
                parallel_budgets=np.asarray(cfg.parallel_budgets), par_n1=n1, par_n2=n2,
                par_mse1=np.stack(out["m1"]), par_mse2=np.stack(out["m2"]),
                par_obj=np.stack(out["obj"]), par_ratio=n1.sum(-1) / np.maximum(n2.sum(-1), 1),
                par_pair_obj=pair)


def _series(cfg: Config, run: Run) -> dict[str, Any]:
    """``sqrt((x1 - x2)^2 + (x3 - x4)^2)`` with four hidden layers (Fig. 4), reported only."""
    sseeds = cfg.seeds[: cfg.series_seeds]
    SS, SA = len(sseeds), len(cfg.series_alphas)
    x4 = uniform(cfg.series_points, 4, np.random.default_rng(torch_seed("ch1-series-x")))
    y4 = np.sqrt((x4[:, 0] - x4[:, 1]) ** 2 + (x4[:, 2] - x4[:, 3]) ** 2)[:, None]
    sal = np.repeat(np.asarray(cfg.series_alphas), SS)
    sm = BatchedMLP([cfg.series_width] * len(sal), d_in=4, d_out=1, depth=cfg.series_depth,
                    activation="silu", dtype=run.dtype, device=run.device,
                    seeds=[torch_seed("ch1-series", a, s) for a in cfg.series_alphas for s in sseeds])
    hs = train(sm, run.tensor(x4), run.tensor(y4), steps=cfg.series_steps, lr=cfg.series_lr,
               schedule="cosine", post_step=proximal_l1(cfg.lam / sal), log_every=cfg.series_steps,
               desc="ch1 series task")
    ps = [p.detach().abs() for p in sm.group_params(0)]
    layer_n = []
    for l in range(cfg.series_depth):  # a hidden neuron counts when it has an input and an output
        w_in, w_out = ps[2 * l], ps[2 * l + 2]
        layer_n.append(((w_in.amax(1) > cfg.threshold) & (w_out.amax(2) > cfg.threshold)).sum(1))
    n = torch.stack(layer_n, -1).sum(-1).cpu().numpy().reshape(SA, SS).T
    mse = hs.final_train.reshape(SA, SS).T
    ok = n.ravel() > 0
    fit = fit_power_law(n.ravel()[ok], mse.ravel()[ok]) if ok.sum() >= 2 else None
    return dict(series_alphas=np.asarray(cfg.series_alphas), series_neurons=n, series_mse=mse,
                series_slope=float(-fit.exponent) if fit is not None and fit.converged else float("nan"))


def run(config: Config | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring)."""
    r = Run.start(Config, config)
    cfg: Config = r.config
    t = r.elapsed
    single = _single(cfg, r)
    r.lap("single", r.t0 + t)
    t = r.elapsed
    var = _variants(cfg, r, (single["path_n"][0], single["path_mse"][0], single["path_obj"][0]))
    r.lap("variants", r.t0 + t)
    t = r.elapsed
    par = _parallel(cfg, r)
    r.lap("parallel", r.t0 + t)
    t = r.elapsed
    ser = _series(cfg, r)
    r.lap("series", r.t0 + t)
    shapes = shape_exponents()
    return Result(alphas=np.asarray(cfg.alphas), budgets=np.asarray(cfg.budgets), **single, **var,
                  **par, **ser, shape_width=shapes["width"], shape_depth=shapes["depth"],
                  wall_time_s=r.elapsed, device=r.device_name, timings=dict(r.timings))


# ----------------------------------------------------------------------------- claims
def h2_stats(par_ratio: np.ndarray, betas: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """H2's statistic at ``beta``, per rung of the parallel ladder: the median over alphas of the
    neuron ratio N1/N2 and its range over alphas (H2: flat in alpha), shape (budgets, 3).
    ``par_ratio`` is (budgets, betas, alphas)."""
    i = int(np.argmin(np.abs(np.asarray(betas) - beta)))
    r = np.asarray(par_ratio, float)[:, i, :]
    return np.stack([np.median(r, 1), r.min(1), r.max(1)], 1)


#: the tests that hold each claim's two controls (planted inputs through the chapter's statistic)
#: the chapter's title, as its page heads it (tests/test_book.py checks the two agree)
TITLE = 'A resource model for neural scaling laws'

CONTROLS = {"h1_slope": "tests/test_controls.py::test_ch1_h1_slope",
            "h2_ratio": "tests/test_controls.py::test_ch1_h2_ratio"}


def claims(result: Result, config: Config) -> list[Claim]:
    """H1's exponent on the alpha-path and H2's ratio at beta = 0.9, each on its budget ladder
    against its named alternative; the allocation at the optimum and the Chinchilla exponent of
    the actual shapes as consistency checks (neither can be failed by a planted input)."""
    ch = config.chapter
    B = len(result.budgets)
    rungs = result.path_slope[:B]                        # (budgets, 3): the slope on each rung
    last, first = rungs[-1], float(rungs[0, 0])
    tol = tolerance_from_gap(PAPER_SLOPE, first, 0.4)
    out = [Claim(
        key="h1_slope", statement="H1: a subtask's loss falls as ℓ ∝ N^(−1) in the neurons the "
        "α-sweep allocates to it", source=SOURCE + ", Fig. 2C (digitised, N ≥ 4)",
        paper_value=PAPER_SLOPE, measured=float(last[0]), interval=(float(last[1]), float(last[2])),
        interval_source="16–84 % bootstrap over seeds",
        alternative=f"budget-limited: the slope stays where the ladder's first rung "
        f"({int(result.budgets[0])} steps) puts it", alternative_value=first,
        tolerance=tol, tolerance_source="0.4 × the gap", chapter=ch,
        quantity=f"exponent of median test MSE on median N (N ≥ {config.fit_min_neurons:g}), "
                 f"{int(result.budgets[-1])} steps",
        expected=Verdict.INCONCLUSIVE, trained=True,
        ladder=ladder_from("slope of MSE on N", tuple(int(b) for b in result.budgets), rungs),
        figure="fig-ch1-path")]
    best = float(np.log2(result.best_n[-1]))
    gap_tol = tolerance_from_gap(np.log2(PAPER_NEURONS_AT_512), 1.0, 0.4)
    out.append(Claim(
        key="allocation_at_optimum", statement="a larger task weight buys more neurons: about 70 at "
        "α = 512, where small α leaves a pair", source=SOURCE + ", Fig. 2B (digitised)",
        paper_value=float(np.log2(PAPER_NEURONS_AT_512)), measured=best, interval=(best, best),
        interval_source="the network with the lowest objective found (every trained network and "
        "the exact pair optimum)",
        alternative="the optimum stays a two-neuron ticket whose weights, not its neuron count, "
        "grow with α", alternative_value=1.0, tolerance=gap_tol, tolerance_source="0.4 × the gap",
        chapter=ch, quantity=f"log2 of the neurons at the lowest objective, α = {result.alphas[-1]:g}",
        expected=Verdict.NOT_REPRODUCED, figure="fig-ch1-optimum", kind="consistency",
        notes="the pair optimum enters the minimum, so the count is 2 wherever the pair is lowest: "
        "a finding of this chapter, not a test of the paper's trained path"))
    h2 = h2_stats(result.par_ratio, result.betas)
    rt = tolerance_from_gap(PAPER_RATIO_BETA09, 1.0, 0.4)
    out.append(Claim(
        key="h2_ratio", statement="H2: the neuron ratio of two subtasks is set by their weights "
        "(about 4.6 at β = 0.9) and constant in α", source=SOURCE + ", Fig. 3C (digitised)",
        paper_value=PAPER_RATIO_BETA09, measured=float(h2[-1, 0]),
        interval=(float(h2[-1, 1]), float(h2[-1, 2])),
        interval_source="range over the α values (H2: flat in α)",
        alternative="equal allocation (one pair per subtask, the optimum's form)", alternative_value=1.0,
        tolerance=rt, tolerance_source="0.4 × the gap", chapter=ch,
        quantity=f"N₁/N₂ at β = 0.9, {int(result.parallel_budgets[-1])} steps",
        expected=Verdict.INCONCLUSIVE, trained=True,
        ladder=ladder_from("median N₁/N₂ at β = 0.9", tuple(int(b) for b in result.parallel_budgets),
                           h2),
        figure="fig-ch1-parallel"))
    w = result.shape_width
    out.append(Claim(
        key="chinchilla", statement="with ℓ ∝ 1/width, Chinchilla's shapes give its parameter "
        "exponent 0.34", source=SOURCE + ", Sec. 4; Hoffmann et al. 2022, Eq. 10 and Table A9",
        paper_value=0.34, measured=float(w[0]), interval=(float(w[1]), float(w[2])),
        interval_source="16–84 % bootstrap over the 50 shapes of Table A9",
        alternative="width scaling at fixed depth: N_p ∝ width², exponent 1/2", alternative_value=0.5,
        tolerance=tolerance_from_gap(0.34, 0.5, 0.4), tolerance_source="0.4 × the gap",
        chapter=ch, quantity="exponent of d_model in N_p (= the implied loss exponent)",
        expected=Verdict.REPRODUCED, figure="fig-ch1-chinchilla", kind="consistency",
        notes="arithmetic on a published table: no planted input can make it fail for the right "
        "reason"))
    return out
