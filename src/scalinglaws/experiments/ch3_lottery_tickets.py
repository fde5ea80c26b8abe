"""Chapter 3: a neural scaling law from lottery-ticket ensembling (Liu & Tegmark, arXiv:2310.02258).

One-hidden-layer networks ``1 -> N -> 1`` fit ``y = x^2`` on [-2, 2].  The paper reports test MSE
``~ N^-1`` for SiLU, not the ``N^-4`` of approximation theory (Sharma & Kaplan, alpha = 4/d), and
attributes it to an ensemble of "lottery tickets": mirror-symmetric neuron pairs
``(w, b, v), (-w, b, v)`` whose sum is even in x, with errors that average out.

The experiment (all networks of one kind trained together by the batched trainer, float64):

* width sweep, SiLU and ReLU, median over seeds; SiLU again with twice the Adam budget
  (the convergence check);
* many two-neuron networks, trained to convergence (Adam, then per-network L-BFGS): the histogram of
  final losses and the fraction that reach the symmetric solution;
* the mirror-pair statistic of the widest trained SiLU networks against their initialisation;
* ensembles of K independently trained two-neuron "tickets": variance and MSE against K.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..config import (ChapterConfig, check, check_finite_positive, check_positive_ints,
                      derive_seed, device, device_name, torch_dtype)
from ..data import grid
from ..fit import bootstrap_exponent, fit_power_law
from ..models import BatchedMLP
from ..train import train


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch3_lottery_tickets"

    #: hidden widths N (paper: up to ~10^4; [unverified] exact grid)
    widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    #: activations compared (paper: SiLU and (Leaky)ReLU)
    activations: tuple[str, ...] = ("silu", "relu")
    #: input interval [-x_max, x_max] (paper, via its summaries: [-2, 2])
    x_max: float = 2.0
    #: training grid points and test grid points
    n_train: int = 96
    n_test: int = 1001
    #: full-batch Adam steps, learning rate (cosine decay to lr * 1e-3); our protocol
    steps: int = 4000
    lr: float = 1e-2
    #: the budget check (2 * steps) trains SiLU for the first `budget_seeds` seeds (None = all)
    budget_seeds: int | None = 5
    #: the exponent is fitted on N >= fit_min; "small N" local slope is fitted on [small_lo, small_hi]
    fit_min: int = 8
    small_range: tuple[int, int] = (4, 16)
    #: two-neuron study: networks, Adam steps then per-network L-BFGS iterations
    n_pairs: int = 1024
    pair_steps: int = 3000
    pair_lbfgs: int = 100
    #: a two-neuron net "is the ticket" when its loss < pair_loss_max and its relative asymmetry
    #: |w1+w2|, |b1-b2|, |v1-v2| (each over the pair's scale) < pair_sym_tol
    pair_loss_max: float = 1e-2
    pair_sym_tol: float = 0.05
    #: "near-mirror": loss < pair_loss_max, w1 = -w2 and b1 = b2 within pair_sym_tol * 2 of the
    #: pair's (w, b) scale, output weights free; the best pairs are the lowest `best_quantile` losses
    best_quantile: float = 0.05
    #: ensembles of K tickets
    ensemble_K: tuple[int, ...] = (1, 2, 4, 8, 16)
    #: an ensemble size is used only if the tickets make >= ensemble_min_groups disjoint groups;
    #: estimates are averaged over this many random partitions of the tickets
    ensemble_min_groups: int = 4
    ensemble_partitions: int = 200

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=tuple(range(10)), expected_seconds=150.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(100)), widths=(2, 4, 8, 16, 32, 64, 128, 256,
                                                                 512, 1024, 2048, 4096),
                    activations=("silu", "relu", "leaky_relu"), n_train=256, budget_seeds=None, steps=20000,
                    n_pairs=4096, pair_steps=10000, ensemble_K=(1, 2, 4, 8, 16, 32, 64),
                    expected_seconds=600.0)
        return cls(**{**base, **kw})

    def validate(self) -> None:
        super().validate()
        check_positive_ints(self.widths, "widths")
        check(list(self.widths) == sorted(set(self.widths)), "widths", "must increase")
        check(sum(w >= self.fit_min for w in self.widths) >= 3, "fit_min", "leaves < 3 widths to fit")
        check(self.small_range[0] in self.widths and self.small_range[1] in self.widths,
              "small_range", "must be two of the widths")
        check("silu" in self.activations, "activations", "must include 'silu'")
        check_finite_positive(self.x_max, "x_max")
        check(isinstance(self.steps, int) and self.steps >= 100, "steps", "must be >= 100")
        check_finite_positive(self.lr, "lr")
        check(self.budget_seeds is None or 3 <= self.budget_seeds <= len(self.seeds), "budget_seeds",
              "must be None or between 3 and the number of seeds")
        check(self.n_pairs >= 16, "n_pairs", "must be >= 16")
        check(0 < self.best_quantile <= 1, "best_quantile", "must be in (0, 1]")
        check_positive_ints(self.ensemble_K, "ensemble_K")
        check(self.ensemble_min_groups >= 2, "ensemble_min_groups", "must be >= 2")
        check(self.ensemble_partitions >= 1, "ensemble_partitions", "must be >= 1")
        check(len(self.seeds) >= 4, "seeds", "needs >= 4 seeds for medians and bands")


@dataclass
class Result(TreeResult):
    widths: np.ndarray
    params: np.ndarray                 # (W,) parameters per network, 3N + 1
    activations: np.ndarray            # (A,) names
    test_mse: np.ndarray               # (A, S, W)
    silu_double: np.ndarray            # (budget seeds, W) SiLU with twice the steps
    exponent: np.ndarray               # (A,) fitted on the seed median, N >= fit_min
    exponent_lo: np.ndarray            # bootstrap 16th percentile
    exponent_hi: np.ndarray
    exponent_params: np.ndarray        # (A,) the same against parameter count
    small_slope: np.ndarray            # (A,) log-log slope over small_range (negative)
    exponent_double: float             # SiLU exponent with twice the budget (budget seeds)
    exponent_budget_base: float        # SiLU exponent with the normal budget, same seeds
    budget_change: float               # |exponent_double - exponent_budget_base|
    pair_loss: np.ndarray              # (P,) final losses of two-neuron nets
    pair_asym: np.ndarray              # (P,) max relative asymmetry of each pair
    pair_is_ticket: np.ndarray         # (P,) bool
    pair_params: np.ndarray            # (P, 6) w1, w2, b1, b2, v1, v2
    ticket_fraction: float
    best_pair_loss: float
    near_mirror: np.ndarray            # (P,) bool: fits, and mirror in (w, b), output weights free
    near_mirror_fraction: float        # near-mirror pairs among the networks that fit (loss < max)
    best_ticket_fraction: float        # tickets among the best_quantile lowest losses
    best_near_mirror_fraction: float   # near-mirror pairs among them
    mirror_trained: np.ndarray         # (S,) pairing statistic of the widest SiLU nets, trained
    mirror_init: np.ndarray            # (S,) the same at initialisation
    ensemble_K: np.ndarray
    ensemble_var: np.ndarray           # (len K,) variance of the ensemble error
    ensemble_mse: np.ndarray           # (len K,) mean MSE of ensembles
    ensemble_var_slope: float
    ensemble_mse_slope: float
    n_tickets: int
    wall_time_s: float
    device: str


def _sweep(widths, seeds, act, x, y, xt, yt, steps, lr, dt, dev, tag):
    W = [w for w in widths for _ in seeds]
    S = [derive_seed("ch3", tag, act, w, s) % 2**62 for w in widths for s in seeds]
    model = BatchedMLP(W, activation=act, seeds=S, dtype=dt, device=dev)
    h = train(model, x, y, steps=steps, lr=lr, schedule="cosine", x_test=xt, y_test=yt,
              log_every=steps, desc=f"ch3 {act} widths")
    return model, S, h.final_test.reshape(len(widths), len(seeds)).T  # (S, W)


def mirror_statistic(W1: np.ndarray, b1: np.ndarray, v: np.ndarray) -> float:
    """How well neurons pair up as mirror images ``(w, b, v) <-> (-w, b, v)``.

    The neurons are matched one-to-one to the mirror images of *other* neurons by a minimum-cost
    assignment (each neuron has exactly one partner, so the statistic cannot be satisfied by many
    neurons crowding near one); the statistic is the median matched distance relative to the
    neuron's size.  Near 0 when the network is made of mirror pairs."""
    from scipy.optimize import linear_sum_assignment

    P = np.stack([W1, b1, v], 1)            # (N, 3)
    mirror = P * np.array([-1.0, 1.0, 1.0])
    d = np.linalg.norm(P[:, None, :] - mirror[None, :, :], axis=-1)
    np.fill_diagonal(d, 1e9)
    rows, cols = linear_sum_assignment(d)
    rel = d[rows, cols] / np.maximum(np.linalg.norm(P[rows], axis=1), 1e-12)
    return float(np.median(rel))


def run(config: Config | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring)."""
    cfg = config or Config.for_mode()
    t0 = time.perf_counter()
    dev = device()
    dt = torch_dtype(cfg.precision)
    x = torch.as_tensor(grid(cfg.n_train, -cfg.x_max, cfg.x_max), dtype=dt, device=dev)
    xt = torch.as_tensor(grid(cfg.n_test, -cfg.x_max, cfg.x_max), dtype=dt, device=dev)
    y, yt = x ** 2, xt ** 2  # the target y = x^2
    widths = np.asarray(cfg.widths, float)
    A = len(cfg.activations)
    mse = np.empty((A, len(cfg.seeds), len(cfg.widths)))
    exps, lo, hi, exp_p, small = (np.empty(A) for _ in range(5))
    params = 3 * widths + 1
    mirror_tr = mirror_in = np.zeros(0)
    for a, act in enumerate(cfg.activations):
        model, init_seeds, mse[a] = _sweep(cfg.widths, cfg.seeds, act, x, y, xt, yt, cfg.steps,
                                           cfg.lr, dt, dev, "main")
        b = bootstrap_exponent(widths, mse[a], n_boot=1000, x_min=cfg.fit_min)
        exps[a], lo[a], hi[a] = b.exponent, b.lo, b.hi
        exp_p[a] = fit_power_law(params, np.median(mse[a], 0), x_min=3 * cfg.fit_min + 1).exponent
        small[a] = -fit_power_law(widths, np.median(mse[a], 0), *cfg.small_range).exponent
        if act == "silu":  # mirror pairs in the widest trained networks vs their initialisation
            wmax = max(cfg.widths)
            idx = [i for i, w in enumerate(model.widths) if w == wmax]
            fresh = BatchedMLP([wmax] * len(idx), activation=act,
                               seeds=[init_seeds[i] for i in idx], dtype=dt)
            mt, mi = [], []
            for k, i in enumerate(idx):
                (W1, b1), (W2, _) = model.network_params(i)
                mt.append(mirror_statistic(W1[0].cpu().numpy(), b1.cpu().numpy(), W2[:, 0].cpu().numpy()))
                (W1, b1), (W2, _) = fresh.network_params(k)
                mi.append(mirror_statistic(W1[0].numpy(), b1.numpy(), W2[:, 0].numpy()))
            mirror_tr, mirror_in = np.asarray(mt), np.asarray(mi)
    bseeds = cfg.seeds[:cfg.budget_seeds] if cfg.budget_seeds else cfg.seeds
    _, _, double = _sweep(cfg.widths, bseeds, "silu", x, y, xt, yt, 2 * cfg.steps, cfg.lr, dt,
                          dev, "main")
    exp_double = fit_power_law(widths, np.median(double, 0), x_min=cfg.fit_min).exponent
    exp_base = fit_power_law(widths, np.median(mse[0, :len(bseeds)], 0), x_min=cfg.fit_min).exponent

    # two-neuron networks, trained to convergence
    seeds2 = [derive_seed("ch3-pairs", cfg.seeds[0], i) % 2**62 for i in range(cfg.n_pairs)]
    pairs = BatchedMLP([2] * cfg.n_pairs, activation="silu", seeds=seeds2, dtype=dt, device=dev)
    h2 = train(pairs, x, y, steps=cfg.pair_steps, lr=cfg.lr, schedule="cosine", x_test=xt,
               y_test=yt, lbfgs_steps=cfg.pair_lbfgs, log_every=cfg.pair_steps, desc="ch3 pairs")
    ps = pairs.group_params(0)
    W1 = ps[0].detach()[:, 0, :].cpu().numpy()
    b1 = ps[1].detach()[:, 0, :].cpu().numpy()
    v = ps[2].detach()[:, :, 0].cpu().numpy()
    scale = np.abs(np.stack([W1, b1, v], 1)).max(axis=(1, 2)) + 1e-12
    asym = np.max(np.stack([np.abs(W1.sum(1)), np.abs(b1[:, 0] - b1[:, 1]),
                            np.abs(v[:, 0] - v[:, 1])], 1), axis=1) / scale
    loss2 = h2.final_test
    ticket = (loss2 < cfg.pair_loss_max) & (asym < cfg.pair_sym_tol)
    wb_scale = np.abs(np.concatenate([W1, b1], 1)).max(axis=1) + 1e-12
    fits = loss2 < cfg.pair_loss_max   # excludes the dead solutions (both w ~ 0, loss ~ 1)
    near = fits & (np.maximum(np.abs(W1.sum(1)), np.abs(b1[:, 0] - b1[:, 1])) / wb_scale
                   < 2 * cfg.pair_sym_tol)
    best = np.argsort(loss2)[:max(1, int(round(cfg.best_quantile * len(loss2))))]

    # ensembles of K independent tickets.  Each ensemble is a disjoint group of K tickets, so its
    # error is the mean of K independent draws: E[MSE] = bias^2 + var / K exactly.  The estimate is
    # averaged over `ensemble_partitions` random partitions of the tickets into groups, and K is
    # limited to sizes that leave at least `ensemble_min_groups` groups.
    with torch.no_grad():
        pred = pairs(xt)[..., 0].cpu().numpy()  # (P, n_test)
    err = pred[ticket] - yt[:, 0].cpu().numpy()[None, :]
    n_t = int(ticket.sum())
    Ks = [K for K in cfg.ensemble_K if n_t // K >= cfg.ensemble_min_groups]
    prng = np.random.default_rng(derive_seed("ch3-ensembles", cfg.seeds[0]))
    perms = [prng.permutation(n_t) for _ in range(cfg.ensemble_partitions)]
    ens_var, ens_mse = [], []
    for K in Ks:
        g = n_t // K
        v_, m_ = [], []
        for perm in perms:
            E = err[perm[:g * K]].reshape(g, K, -1).mean(1)       # (groups, n_test)
            v_.append(E.var(axis=0, ddof=1).mean())
            m_.append((E ** 2).mean())
        ens_var.append(float(np.mean(v_)))
        ens_mse.append(float(np.mean(m_)))
    Ks_a = np.asarray(Ks, float)
    var_slope = -fit_power_law(Ks_a, ens_var).exponent if len(Ks) >= 2 else 0.0
    mse_slope = -fit_power_law(Ks_a, ens_mse).exponent if len(Ks) >= 2 else 0.0

    return Result(
        widths=widths, params=params, activations=np.asarray(cfg.activations), test_mse=mse,
        silu_double=double, exponent=exps, exponent_lo=lo, exponent_hi=hi, exponent_params=exp_p,
        small_slope=small, exponent_double=exp_double, exponent_budget_base=exp_base,
        budget_change=abs(exp_double - exp_base),
        pair_loss=loss2, pair_asym=asym, pair_is_ticket=ticket,
        pair_params=np.concatenate([W1, b1, v], 1), ticket_fraction=float(ticket.mean()),
        near_mirror=near, best_ticket_fraction=float(ticket[best].mean()),
        best_near_mirror_fraction=float(near[best].mean()),
        near_mirror_fraction=float(near.sum() / max(1, fits.sum())),
        best_pair_loss=float(loss2.min()), mirror_trained=mirror_tr, mirror_init=mirror_in,
        ensemble_K=Ks_a, ensemble_var=np.asarray(ens_var), ensemble_mse=np.asarray(ens_mse),
        ensemble_var_slope=var_slope, ensemble_mse_slope=mse_slope, n_tickets=n_t,
        wall_time_s=time.perf_counter() - t0, device=device_name(dev),
    )
