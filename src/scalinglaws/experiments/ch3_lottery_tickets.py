"""Chapter 3: a neural scaling law from lottery-ticket ensembling? (Liu & Tegmark, arXiv:2310.02258).

One-hidden-layer networks ``1 -> N -> 1`` fit ``y = x^2`` on [-2, 2].  The paper reports test MSE
``~ N^-1`` for SiLU and attributes it to an ensemble of "lottery tickets": mirror-symmetric neuron
pairs ``(w, b, v), (-w, b, v)`` whose sum is even in x, with errors that average out.  For SiLU a
single such pair already fits x^2 to ~1e-13 in float64 (the exact construction below), so any
N-dependence is a property of the optimiser and its budget.  The chapter is therefore a budget
study:

* the width sweep (median over many seeds, training data >= 10 points per parameter, a dense test
  grid) at every budget of a ladder T, 2T, 4T, the fitted exponent alpha(T), and the
  polished curve (the same networks run further by per-network L-BFGS in float64, measured after
  half and all of its iterations: a ladder that shows how far below Adam the optimum lies);
* ReLU on the same grid (approximation theory: N^-4 at small N);
* the exact SiLU construction (one pair, tiny w) and its float64 error;
* mechanism tests that can fail: the mirror statistic against its null (the ratio of the
  mirror-matching to the same-sign-matching distance, at initialisation and trained), ablation of
  random subsets of a trained network's neurons with only the readout refitted (an ensemble of
  tickets predicts an error ~ 1/#kept), and which solution holds the lowest peak of the
  two-neuron loss histogram.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..claims import Claim, Ladder, Verdict, tolerance_from_gap
from ..config import ChapterConfig, check, check_finite_positive, check_positive_ints
from ..data import grid
from ..fit import bootstrap_exponent, fit_median, fit_power_law, median_interval
from ..models import BatchedMLP
from ..train import lbfgs_polish, train
from .common import Run, torch_seed

SOURCE = "Liu & Tegmark 2023, arXiv:2310.02258v2"
GAP_FRACTION = 0.2


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch3_lottery_tickets"

    #: hidden widths N (paper: up to ~10^4; [unverified] exact grid)
    widths: tuple[int, ...] = (4, 8, 16, 32, 64)
    #: input interval [-x_max, x_max] (paper, via its summaries: [-2, 2])
    x_max: float = 2.0
    #: training grid points (>= 10 per parameter of the widest network: 3N + 1) and test points
    n_train: int = 2048
    n_test: int = 4001
    #: budget ladder: Adam steps (each its own schedule, same initial weights), peak rate, and the
    #: schedules tried (cosine decay to lr * 1e-3; "constant" keeps lr)
    budgets: tuple[int, ...] = (400, 800, 1600)
    schedules: tuple[str, ...] = ("cosine",)
    lr: float = 1e-2
    #: ReLU on the same grid, at the first two budgets of the ladder
    relu: bool = True
    #: LeakyReLU on the same budgets (the paper's architecture figure says "(Leaky)ReLU")
    leaky_relu: bool = False
    #: per-network L-BFGS iterations of the polished curve (float64, from the last budget;
    #: measured after half and all of them)
    polish_iterations: int = 150
    #: the exponent is fitted on N >= fit_min; the small-N slope on [small_lo, small_hi]
    fit_min: int = 8
    small_range: tuple[int, int] = (4, 16)
    #: two-neuron study: networks, training points (7 parameters each), Adam steps then
    #: per-network L-BFGS iterations (the ladder doubles them)
    n_pairs: int = 1024
    pair_train: int = 256
    pair_steps: int = 2000
    pair_lbfgs: int = 100
    #: a two-neuron net "is the ticket" when its loss < pair_loss_max and its relative asymmetry
    #: |w1+w2|, |b1-b2|, |v1-v2| (each over the pair's scale) < pair_sym_tol
    pair_loss_max: float = 1e-2
    pair_sym_tol: float = 0.05
    #: the "best peak" is the lowest best_quantile of the two-neuron losses
    best_quantile: float = 0.05
    #: ablation of the widest networks: numbers of neurons kept, random subsets per number
    ablate_keep: tuple[int, ...] = (2, 4, 8, 16, 32)
    ablate_draws: int = 8
    #: the exact construction: input weight of the symmetric pair
    construction_w: float = 1e-3

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=tuple(range(32)), expected_seconds=45.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(128)),
                    widths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048), n_train=65536,
                    budgets=(4000, 8000, 16000, 32000, 64000), schedules=("cosine", "constant"),
                    leaky_relu=True,
                    n_pairs=4096, pair_train=1024, pair_steps=10000, polish_iterations=1000,
                    ablate_keep=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), ablate_draws=16,
                    expected_seconds=3600.0)
        return cls(**{**base, **kw})

    @classmethod
    def smoke(cls, **kw: Any) -> "Config":
        """:meth:`full` at a size that runs on a CPU in seconds (same code path)."""
        return cls.full().replace(seeds=tuple(range(4)), widths=(2, 4, 8, 16), fit_min=4, n_train=64,
                                  n_test=101, budgets=(10, 20), n_pairs=16, pair_train=32, pair_steps=20,
                                  pair_lbfgs=5, polish_iterations=5, ablate_keep=(2, 4, 8),
                                  ablate_draws=2, expected_seconds=10.0, **kw)

    def validate(self) -> None:
        super().validate()
        check_positive_ints(self.widths, "widths")
        check(list(self.widths) == sorted(set(self.widths)), "widths", "must increase")
        check(sum(w >= self.fit_min for w in self.widths) >= 3, "fit_min", "leaves < 3 widths to fit")
        check(self.small_range[0] in self.widths and self.small_range[1] in self.widths,
              "small_range", "must be two of the widths")
        check_finite_positive(self.x_max, "x_max")
        check(isinstance(self.n_train, int) and self.n_train >= 16, "n_train", "must be >= 16")
        check_positive_ints(self.budgets, "budgets")
        check(len(self.budgets) >= 2 and all(b == 2 * a for a, b in zip(self.budgets, self.budgets[1:])),
              "budgets", "must be a doubling ladder of >= 2 budgets")
        check(set(self.schedules) <= {"cosine", "constant"} and "cosine" in self.schedules,
              "schedules", "must include 'cosine' (and may add 'constant')")
        check_finite_positive(self.lr, "lr")
        check(self.n_pairs >= 16, "n_pairs", "must be >= 16")
        check(0 < self.best_quantile <= 1, "best_quantile", "must be in (0, 1]")
        check_positive_ints(self.ablate_keep, "ablate_keep")
        check(max(self.ablate_keep) <= max(self.widths), "ablate_keep", "cannot keep more than the width")
        check(len(self.seeds) >= 4, "seeds", "needs >= 4 seeds for medians and bands")


@dataclass
class Result(TreeResult):
    widths: np.ndarray
    budgets: np.ndarray
    schedules: np.ndarray
    test_mse: np.ndarray               # (schedules, budgets, S, W) SiLU
    train_mse: np.ndarray              # (schedules, budgets, S, W)
    polished_mse: np.ndarray           # (S, W) test MSE after the L-BFGS polish of the last budget
    polished_half_mse: np.ndarray      # (S, W) the same after half of its iterations
    alpha: np.ndarray                  # (schedules, budgets, 3) exponent, lo, hi
    alpha_polished: np.ndarray         # (3,)
    relu_budgets: np.ndarray
    leaky_mse: np.ndarray              # (relu budgets, S, W) LeakyReLU, or empty
    relu_mse: np.ndarray               # (relu budgets, S, W)
    relu_small_slope: np.ndarray       # (relu budgets,) local exponent over small_range
    silu_small_slope: float            # the same for SiLU at the last budget
    construction_mse: float            # the exact symmetric pair in float64
    pair_loss: np.ndarray              # (P,) final losses of two-neuron nets
    pair_is_ticket: np.ndarray         # (P,) bool
    pair_params: np.ndarray            # (P, 6) w1, w2, b1, b2, v1, v2
    fits_fraction: float               # two-neuron nets below pair_loss_max
    ticket_base_rate: float            # tickets among the nets that fit
    best_ticket_fraction: float        # tickets among the best_quantile lowest losses
    pair_ladder: np.ndarray            # (2,) L-BFGS iterations of the two-neuron ladder
    best_ticket_ladder: np.ndarray     # (2,) best_ticket_fraction at each
    mirror_ratio_init: np.ndarray      # (S,) mirror / same-sign matching distance at init
    mirror_ratio: np.ndarray           # (budgets, S) the same, trained
    ablate_keep: np.ndarray
    ablate_mse: np.ndarray             # (budgets, K) median test MSE with k neurons kept
    ablate_slope: np.ndarray           # (budgets, 3) exponent of MSE in k, lo, hi
    wall_time_s: float
    device: str


def _data(cfg: Config, run: Run):
    x = run.tensor(grid(cfg.n_train, -cfg.x_max, cfg.x_max))
    xt = run.tensor(grid(cfg.n_test, -cfg.x_max, cfg.x_max))
    return x, x ** 2, xt, xt ** 2


def _sweep(cfg: Config, run: Run, act: str, steps: int, schedule: str, data) -> tuple:
    """All widths x seeds of one activation at one budget (the same initial weights at every
    budget): the trained model, its test and training MSE (S, W)."""
    x, y, xt, yt = data
    W = [w for w in cfg.widths for _ in cfg.seeds]
    init = [torch_seed("ch3", act, w, s) for w in cfg.widths for s in cfg.seeds]
    model = BatchedMLP(W, activation=act, seeds=init, dtype=run.dtype, device=run.device)
    h = train(model, x, y, steps=steps, lr=cfg.lr, schedule=schedule, x_test=xt, y_test=yt,
              log_every=steps, desc=f"ch3 {act} {schedule} {steps}")
    S = len(cfg.seeds)
    return model, h.final_test.reshape(-1, S).T, h.final_train.reshape(-1, S).T


def _exponent(cfg: Config, mse: np.ndarray) -> np.ndarray:
    b = bootstrap_exponent(np.asarray(cfg.widths, float), mse, n_boot=1000, x_min=cfg.fit_min)
    return np.asarray([b.exponent, b.lo, b.hi])


def mirror_ratio(w: np.ndarray, b: np.ndarray) -> float:
    """How much better neurons pair up as mirror images ``(w, b) <-> (-w, b)`` than as copies
    ``(w, b) <-> (w, b)`` of other neurons: the ratio of the median one-to-one matching distances
    (minimum-cost assignments, a neuron never matched to itself).  Near 0 for a network of mirror
    pairs.  Without mirror structure it is somewhat above 1 (matching a point set to its mirror
    image is a bipartite matching, which costs more than pairing nearest neighbours within one
    set), so the null is the ratio of the same networks at initialisation."""
    from scipy.optimize import linear_sum_assignment

    P = np.stack([w, b], 1)
    out = []
    for sign in (-1.0, 1.0):
        Q = P * np.array([sign, 1.0])
        d = np.linalg.norm(P[:, None, :] - Q[None, :, :], axis=-1)
        np.fill_diagonal(d, np.inf)
        d[~np.isfinite(d)] = 1e9
        r, c = linear_sum_assignment(d)
        out.append(np.median(d[r, c]))
    return float(out[0] / max(out[1], 1e-300))


def _mirror(model: BatchedMLP, width: int) -> np.ndarray:
    grp = next(g for g in model.groups if g.width == width)
    W1, b1 = (p.detach().cpu().numpy() for p in model.group_params(grp)[:2])
    return np.asarray([mirror_ratio(W1[k, 0], b1[k, 0]) for k in range(W1.shape[0])])


def _ablate(cfg: Config, run: Run, model: BatchedMLP, data, seed: int) -> np.ndarray:
    """Keep k random neurons of each widest network, refit only the readout (least squares on
    the training data) and measure the test MSE; median over networks and draws, per k."""
    x, y, xt, yt = data
    wmax = max(cfg.widths)
    grp = next(g for g in model.groups if g.width == wmax)
    W1, b1 = (p.detach() for p in model.group_params(grp)[:2])
    act = model.act
    H, Ht = act(x[None] * W1 + b1), act(xt[None] * W1 + b1)          # (G, n, N)
    rs = np.random.default_rng(seed)
    out = np.empty(len(cfg.ablate_keep))
    for j, k in enumerate(cfg.ablate_keep):
        errs = []
        for _ in range(cfg.ablate_draws):
            idx = torch.as_tensor(np.stack([rs.choice(wmax, k, replace=False)
                                            for _ in range(H.shape[0])]), device=run.device)
            Hk = torch.take_along_dim(H, idx[:, None, :], 2)
            Htk = torch.take_along_dim(Ht, idx[:, None, :], 2)
            ones = torch.ones_like(Hk[..., :1])
            A, At = torch.cat([Hk, ones], -1), torch.cat([Htk, ones[:, :1].expand(-1, Htk.shape[1], -1)], -1)
            coef = _lstsq(A, y[None].expand(A.shape[0], -1, -1).contiguous())
            errs.append(((At @ coef) - yt[None]).pow(2).mean((1, 2)).cpu().numpy())
        out[j] = float(np.median(np.concatenate(errs)))
    return out


def _lstsq(A: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Batched least squares that survives rank-deficient columns (duplicated neurons): the SVD
    driver on CPU (the batched pivoted-QR driver returns garbage for them); on other devices the
    only driver assumes full rank, so rank-deficient batches are solved on the CPU."""
    if A.device.type == "cpu":
        return torch.linalg.lstsq(A, Y, driver="gelsd").solution
    if torch.all(torch.linalg.matrix_rank(A) == A.shape[-1]):
        return torch.linalg.lstsq(A, Y).solution
    return torch.linalg.lstsq(A.cpu(), Y.cpu(), driver="gelsd").solution.to(A.device)


def _pair_stats(cfg: Config, pairs: BatchedMLP, xt: torch.Tensor, yt: torch.Tensor):
    ps = pairs.group_params(0)
    W1 = ps[0].detach()[:, 0, :].cpu().numpy()
    b1 = ps[1].detach()[:, 0, :].cpu().numpy()
    v = ps[2].detach()[:, :, 0].cpu().numpy()
    scale = np.abs(np.stack([W1, b1, v], 1)).max(axis=(1, 2)) + 1e-12
    asym = np.max(np.stack([np.abs(W1.sum(1)), np.abs(b1[:, 0] - b1[:, 1]),
                            np.abs(v[:, 0] - v[:, 1])], 1), axis=1) / scale
    with torch.no_grad():
        loss = (pairs(xt) - yt).pow(2).mean((1, 2)).cpu().numpy()
    fits = loss < cfg.pair_loss_max   # excludes the dead solutions (both w ~ 0, loss ~ 1)
    ticket = fits & (asym < cfg.pair_sym_tol)
    best = np.argsort(loss)[:max(1, int(round(cfg.best_quantile * len(loss))))]
    return (loss, ticket, np.concatenate([W1, b1, v], 1), float(fits.mean()),
            float(ticket.sum() / max(1, fits.sum())), float(ticket[best].mean()))


def _pairs(cfg: Config, run: Run, data):
    """Many two-neuron networks trained to convergence (Adam, then per-network L-BFGS), with the
    statistics after pair_lbfgs and after twice as many L-BFGS iterations (the ladder)."""
    _, _, xt, yt = data
    x = run.tensor(grid(cfg.pair_train, -cfg.x_max, cfg.x_max))
    y = x ** 2
    seeds = [torch_seed("ch3-pairs", cfg.seeds[0], i) for i in range(cfg.n_pairs)]
    pairs = BatchedMLP([2] * cfg.n_pairs, activation="silu", seeds=seeds, dtype=run.dtype,
                       device=run.device)
    train(pairs, x, y, steps=cfg.pair_steps, lr=cfg.lr, schedule="cosine",
          lbfgs_steps=cfg.pair_lbfgs, log_every=cfg.pair_steps, desc="ch3 pairs")
    first = _pair_stats(cfg, pairs, xt, yt)
    lbfgs_polish(pairs, x, y, iterations=cfg.pair_lbfgs)
    return first, _pair_stats(cfg, pairs, xt, yt)


def exact_pair_mse(cfg: Config) -> float:
    """The exact construction in float64: ``v (silu(w x) + silu(-w x)) + c`` with tiny ``w``,
    ``v = 2 / w^2`` and ``c = -2 v silu(0) = 0`` fits x^2 up to its x^4 term (``-w^2 x^4 / 12``):
    the MSE on the test grid."""
    x = grid(cfg.n_test, -cfg.x_max, cfg.x_max)[:, 0]
    w = cfg.construction_w
    silu = lambda z: z / (1.0 + np.exp(-z))  # noqa: E731
    f = (2.0 / w ** 2) * (silu(w * x) + silu(-w * x))
    return float(np.mean((f - x ** 2) ** 2))


def run(config: Config | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring)."""
    r = Run.start(Config, config)
    cfg: Config = r.config
    data = _data(cfg, r)
    wmax = max(cfg.widths)
    S, B = len(cfg.seeds), len(cfg.budgets)
    test = np.empty((len(cfg.schedules), B, S, len(cfg.widths)))
    trn = np.empty_like(test)
    mirror = np.empty((B, S))
    abl = np.empty((B, len(cfg.ablate_keep)))
    model = None
    for i, sched in enumerate(cfg.schedules):
        for j, T in enumerate(cfg.budgets):
            model, test[i, j], trn[i, j] = _sweep(cfg, r, "silu", T, sched, data)
            if i == 0:
                mirror[j] = _mirror(model, wmax)
                abl[j] = _ablate(cfg, r, model, data, torch_seed("ch3-ablate", T))
    init = BatchedMLP([wmax] * S, activation="silu", dtype=r.dtype,
                      seeds=[torch_seed("ch3", "silu", wmax, s) for s in cfg.seeds])
    # the polished curve: the last cosine budget's networks run further per network, measured
    # after half and all of the iterations (a two-rung ladder)
    x, y, xt, yt = data
    pols = []
    for its in (cfg.polish_iterations // 2, cfg.polish_iterations - cfg.polish_iterations // 2):
        lbfgs_polish(model, x, y, iterations=its)
        with torch.no_grad():
            pols.append((model(xt) - yt).pow(2).mean((1, 2)).cpu().numpy().reshape(-1, S).T)
    half, pol = pols
    relu_b = np.asarray(cfg.budgets[:2]) if cfg.relu else np.zeros(0, dtype=int)
    relu = np.stack([_sweep(cfg, r, "relu", int(T), "cosine", data)[1] for T in relu_b]) \
        if cfg.relu else np.zeros((0, S, len(cfg.widths)))
    leaky = np.stack([_sweep(cfg, r, "leaky_relu", int(T), "cosine", data)[1] for T in relu_b]) \
        if cfg.leaky_relu and len(relu_b) else np.zeros((0, S, len(cfg.widths)))
    first, pairs = _pairs(cfg, r, data)
    wa = np.asarray(cfg.widths, float)
    keep = np.asarray(cfg.ablate_keep, float)
    return Result(
        widths=wa, budgets=np.asarray(cfg.budgets), schedules=np.asarray(cfg.schedules),
        test_mse=test, train_mse=trn, polished_mse=pol, polished_half_mse=half,
        alpha=np.stack([[_exponent(cfg, test[i, j]) for j in range(B)]
                        for i in range(len(cfg.schedules))]),
        alpha_polished=_exponent(cfg, pol), relu_budgets=relu_b, relu_mse=relu, leaky_mse=leaky,
        relu_small_slope=np.asarray([fit_median(wa, m, *cfg.small_range).require().exponent
                                     for m in relu]),
        silu_small_slope=fit_median(wa, test[0, -1], *cfg.small_range).require().exponent,
        construction_mse=exact_pair_mse(cfg),
        pair_loss=pairs[0], pair_is_ticket=pairs[1], pair_params=pairs[2],
        fits_fraction=pairs[3], ticket_base_rate=pairs[4], best_ticket_fraction=pairs[5],
        pair_ladder=np.asarray([cfg.pair_lbfgs, 2 * cfg.pair_lbfgs]),
        best_ticket_ladder=np.asarray([first[5], pairs[5]]),
        mirror_ratio_init=_mirror(init, wmax), mirror_ratio=mirror, ablate_keep=keep,
        ablate_mse=abl, ablate_slope=np.stack([_slope(keep, a) for a in abl]),
        wall_time_s=r.elapsed, device=r.device_name,
    )


def _slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exponent of y in x (power law) with the spread of leave-one-out refits as its interval."""
    f = fit_power_law(x, y).require().exponent
    loo = [fit_power_law(np.delete(x, i), np.delete(y, i)).require().exponent for i in range(len(x))]
    return np.asarray([f, min(loo), max(loo)])


def claims(result: Result, config: Config) -> list[Claim]:
    """The N^-1 law at a stated budget and its ladder, ReLU against approximation theory, and the
    three mechanism tests, each against its named alternative."""
    ch = config.chapter
    a = result.alpha[0]
    tol = tolerance_from_gap(1.0, 0.0, GAP_FRACTION)
    out = [Claim(
        key="silu_exponent", statement="SiLU networks fitting x² reach test MSE ∝ N^(−1)",
        source=SOURCE + ", abstract and width-sweep figure", paper_value=1.0,
        measured=float(a[-1, 0]), interval=(float(a[-1, 1]), float(a[-1, 2])),
        alternative="capacity, not optimisation, sets the loss: no N-dependence (one SiLU pair "
        "already fits x²)", alternative_value=0.0, tolerance=tol,
        tolerance_source=f"{GAP_FRACTION} × the gap",
        # across blocks of 32 seeds the fast mode's exponent at its last budget ranges over
        # 0.55-0.85 and its drift per doubling over 0.03-0.17: it cannot decide between these
        expected=(Verdict.NOT_REPRODUCED, Verdict.INCONCLUSIVE), chapter=ch,
        quantity=f"exponent α over N ≥ {config.fit_min}, {result.budgets[-1]} Adam steps",
        trained=True, ladder=Ladder("SiLU exponent α", tuple(result.budgets), tuple(a[:, 0]), tol),
        figure="fig-ch3-budget")]
    if len(result.relu_budgets):
        s = result.relu_small_slope
        rl = Ladder("ReLU small-N exponent", tuple(result.relu_budgets), tuple(s),
                    tolerance_from_gap(4.0, 1.0, 0.2))
        out.append(Claim(
            key="relu_small_n", statement="ReLU networks follow approximation theory at small N: "
            "MSE ∝ N^(−4) (4/d with d = 1)", source=SOURCE + ", width-sweep figure; Sharma & "
            "Kaplan 2020", paper_value=4.0, measured=float(s[-1]), interval=(float(s.min()), float(s.max())),
            alternative="the SiLU-like N^(−1)", alternative_value=1.0,
            tolerance=tolerance_from_gap(4.0, 1.0, 0.2), tolerance_source="0.2 × the gap",
            interval_source="range over the ladder's budgets", expected=Verdict.NOT_REPRODUCED,
            chapter=ch, quantity=f"exponent over N = {config.small_range[0]}–{config.small_range[1]}",
            trained=True, ladder=rl, figure="fig-ch3-budget"))
    m, lo, hi = median_interval(result.mirror_ratio[-1], 1000, 1)
    null = float(np.median(result.mirror_ratio_init))
    ml = Ladder("mirror ratio", tuple(result.budgets), tuple(np.median(result.mirror_ratio, 1)),
                tolerance_from_gap(0.0, null, 0.2))
    out.append(Claim(
        key="mirror_pairs", statement="wide trained SiLU networks are made of mirror pairs "
        "(w, b) ↔ (−w, b)", source=SOURCE + ", symmetric-neuron figure (N = 10⁴)",
        paper_value=0.0, measured=m, interval=(lo, hi),
        alternative="no mirror structure: the ratio at initialisation", alternative_value=null,
        tolerance=tolerance_from_gap(0.0, null, 0.2), tolerance_source="0.2 × the gap",
        expected=Verdict.NOT_REPRODUCED, chapter=ch,
        quantity=f"mirror / same-sign matching distance, width {int(max(result.widths))}",
        trained=True, ladder=ml, figure="fig-ch3-mechanism"))
    sl = result.ablate_slope
    # the ablated error falls like k^-15: the ladder asks whether that moves by more than a tenth
    # per doubling of the budget, relative to its size
    al = Ladder("ablation exponent", tuple(result.budgets), tuple(sl[:, 0]), 0.1, relative=True)
    out.append(Claim(
        key="ensemble", statement="a wide network is an ensemble of tickets: with k of its neurons "
        "kept (readout refitted), the error falls as 1/k", source=SOURCE + ", Sec. on ensembling "
        "(the CLT argument)", paper_value=1.0, measured=float(sl[-1, 0]),
        interval=(float(sl[-1, 1]), float(sl[-1, 2])),
        alternative="no averaging: the error independent of k", alternative_value=0.0,
        tolerance=tolerance_from_gap(1.0, 0.0, 0.2), tolerance_source="0.2 × the gap",
        interval_source="leave-one-out over the kept counts", expected=Verdict.NOT_REPRODUCED,
        chapter=ch, quantity="exponent of the ablated error in the number kept", trained=True,
        ladder=al, figure="fig-ch3-mechanism"))
    base = result.ticket_base_rate
    out.append(Claim(
        key="best_peak", statement="the lowest-loss peak of two-neuron networks is the symmetric "
        "ticket", source=SOURCE + ", two-neuron histogram", paper_value=1.0,
        measured=result.best_ticket_fraction,
        interval=(result.best_ticket_fraction, result.best_ticket_fraction),
        alternative="tickets are no more common among the best than among all that fit",
        alternative_value=base, tolerance=tolerance_from_gap(1.0, base, 0.4),
        tolerance_source="0.4 × the gap", interval_source="one run of many networks",
        expected=Verdict.NOT_REPRODUCED, chapter=ch,
        quantity=f"tickets among the lowest {config.best_quantile:.0%} of {config.n_pairs} losses",
        trained=True, ladder=Ladder("ticket share of the best", tuple(result.pair_ladder),
                                    tuple(result.best_ticket_ladder),
                                    tolerance_from_gap(1.0, base, 0.4), unit="L-BFGS iterations"),
        figure="fig-ch3-pairs"))
    return out
