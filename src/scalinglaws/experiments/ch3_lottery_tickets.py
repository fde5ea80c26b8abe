"""Chapter 3: a neural scaling law from lottery-ticket ensembling? (Liu & Tegmark, arXiv:2310.02258).

One-hidden-layer networks ``1 -> N -> 1`` fit ``y = x^2`` on [-2, 2].  The paper reports test MSE
``~ N^-1`` for SiLU and attributes it to an ensemble of "lottery tickets": mirror-symmetric neuron
pairs ``(w, b, v), (-w, b, v)`` whose sum is even in x, with errors that average out.  For SiLU a
single such pair already fits x^2 to ~1e-13 in float64 (the exact construction below), so any
N-dependence is a property of the optimiser and its budget.  One part of the result per section:

* :class:`WidthSweep` -- the width sweep (median over seeds, training data >= 10 points per
  parameter, a dense test grid) at every budget of a ladder, the fitted exponent alpha(T) and the
  local slopes, the same networks polished by per-network L-BFGS, and the exact construction;
* :class:`Relu` -- ReLU at small widths on the same ladder (approximation theory: N^-4);
* :class:`Mechanism` -- the mirror statistic against its null (the ratio of the mirror-matching to
  the same-sign-matching distance, at initialisation and trained) and how far the weights moved,
  and the ensemble test: a trained network cut into mirror-matched pairs, k of them kept with the
  trained readout rescaled by (pairs / k), beside the correlation and shared part of the
  per-ticket residuals;
* :class:`TwoNeuron` -- many two-neuron networks polished on a ladder: the share of symmetric
  tickets (a per-parameter criterion) in the lowest mode of the loss histogram, and the tickets'
  bias against the root of silu'''' (chapter 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..claims import MIN_RUNGS, Claim, Verdict, ladder_from, tolerance_from_gap
from ..config import ChapterConfig, check, check_finite_positive, check_positive_ints
from ..data import grid
from ..fit import bootstrap_exponent, local_slopes, median_interval, share_interval
from ..models import BatchedMLP
from ..theory import silu_quartic_root
from ..train import lbfgs_polish, train
from .common import Run, torch_seed

SOURCE = "Liu & Tegmark 2023, arXiv:2310.02258v2"
GAP_FRACTION = 0.2


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch3_lottery_tickets"
    ladders: ClassVar[tuple[str, ...]] = ("budgets",)

    #: hidden widths N (paper: up to ~10^4, 1,000 seeds per width with the median taken)
    widths: tuple[int, ...] = (4, 8, 16, 32, 64)
    #: input interval [-x_max, x_max] (paper, via its summaries: [-2, 2])
    x_max: float = 2.0
    #: training grid points (>= 10 per parameter of the widest network: 3N + 1) and test points
    n_train: int = 2048
    n_test: int = 4001
    #: budget ladder: Adam steps (each its own schedule, same initial weights), peak rate, and the
    #: schedules tried (cosine decay to lr * 1e-3; "constant" keeps lr)
    budgets: tuple[int, ...] = (1600, 3200, 6400, 12800)
    schedules: tuple[str, ...] = ("cosine",)
    lr: float = 1e-2
    #: ReLU at small widths on the same ladder (approximation theory's regime), and LeakyReLU
    #: beside it (the paper's architecture figure says "(Leaky)ReLU")
    relu_widths: tuple[int, ...] = (4, 8, 16)
    leaky_relu: bool = False
    #: per-network L-BFGS iterations of the polished curve (float64, from the last budget;
    #: measured after half and all of them)
    polish_iterations: int = 150
    #: the exponent is fitted on N >= fit_min
    fit_min: int = 8
    #: the mirror analysis: network width (the paper analyses one of 10^4 neurons) and how many
    #: (when wider than the sweep, trained apart at every budget)
    mirror_width: int = 64
    mirror_seeds: int = 16
    #: two-neuron study: networks, training points (7 parameters each), Adam steps, then
    #: per-network L-BFGS iterations, measured after pair_lbfgs * 2^i of them, i < pair_rungs
    #: (the study's ladder; paper: 1,000 networks)
    n_pairs: int = 1024
    pair_train: int = 256
    pair_steps: int = 2000
    pair_lbfgs: int = 100
    pair_rungs: int = 4
    #: a two-neuron net fits when its loss < pair_loss_max, and "is the ticket" when each of
    #: |w1 + w2|, |b1 - b2|, |v1 - v2| is below pair_sym_tol of that parameter's own size
    pair_loss_max: float = 1e-2
    pair_sym_tol: float = 0.05
    #: the loss histogram of the two-neuron study: bins (decades) and the smallest share of the
    #: fitting networks a mode holds
    peak_bin: float = 0.25
    peak_min_share: float = 0.05
    #: ensemble test of the widest networks: numbers of mirror pairs kept (trained readout,
    #: rescaled), from one pair to all of them (the network itself), random subsets per number
    ablate_keep: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    ablate_draws: int = 8
    #: the exact construction: input weight of the symmetric pair
    construction_w: float = 1e-3
    #: bootstrap replicates over seeds
    n_boot: int = 1000

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=tuple(range(16)), expected_seconds=200.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(1000)),
                    widths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048), n_train=65536,
                    budgets=(4000, 8000, 16000, 32000, 64000), schedules=("cosine", "constant"),
                    relu_widths=(2, 4, 8, 16, 32), leaky_relu=True, mirror_width=10000,
                    mirror_seeds=8, n_pairs=4096, pair_train=1024, pair_steps=10000,
                    pair_rungs=6, polish_iterations=1000,
                    ablate_keep=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), ablate_draws=16,
                    expected_seconds=7200.0)
        return cls(**{**base, **kw})

    @classmethod
    def smoke(cls, **kw: Any) -> "Config":
        """:meth:`full` at a size that runs on a CPU in seconds (same code path)."""
        return cls.full().replace(seeds=tuple(range(4)), widths=(2, 4, 8, 16), fit_min=4,
                                  n_train=64, n_test=101, budgets=(5, 10, 20, 40), relu_widths=(2, 4, 8),
                                  mirror_width=24, mirror_seeds=2, n_pairs=16, pair_train=32,
                                  pair_steps=20, pair_lbfgs=5, pair_rungs=4, polish_iterations=5,
                                  ablate_keep=(1, 2, 4, 8), ablate_draws=2, n_boot=50,
                                  expected_seconds=10.0, **kw)

    def _ladder_changes(self) -> dict[str, Any]:
        return {**super()._ladder_changes(), "pair_rungs": self.pair_rungs + 1}

    def validate(self) -> None:
        super().validate()
        for name in ("widths", "relu_widths"):
            check_positive_ints(getattr(self, name), name)
            check(list(getattr(self, name)) == sorted(set(getattr(self, name))), name, "must increase")
        check(len(self.relu_widths) >= 3, "relu_widths", "needs >= 3 widths to fit")
        check(isinstance(self.pair_rungs, int) and self.pair_rungs >= MIN_RUNGS, "pair_rungs",
              f"must be an integer >= {MIN_RUNGS} (a ladder that can settle)")
        check(sum(w >= self.fit_min for w in self.widths) >= 3, "fit_min", "leaves < 3 widths to fit")
        check_finite_positive(self.x_max, "x_max")
        check(isinstance(self.n_train, int) and self.n_train >= 16, "n_train", "must be >= 16")
        check_positive_ints(self.budgets, "budgets")
        check(len(self.budgets) >= MIN_RUNGS
              and all(b == 2 * a for a, b in zip(self.budgets, self.budgets[1:])),
              "budgets", f"must be a doubling ladder of >= {MIN_RUNGS} budgets")
        check(set(self.schedules) <= {"cosine", "constant"} and "cosine" in self.schedules,
              "schedules", "must include 'cosine' (and may add 'constant')")
        check_finite_positive(self.lr, "lr")
        check(isinstance(self.mirror_width, int) and self.mirror_width >= 4
              and self.mirror_width % 2 == 0, "mirror_width", "must be an even integer >= 4")
        check(isinstance(self.mirror_seeds, int) and self.mirror_seeds >= 2, "mirror_seeds",
              "must be an integer >= 2")
        check(self.n_pairs >= 16, "n_pairs", "must be >= 16")
        check(0 < self.pair_sym_tol < 1, "pair_sym_tol", "must be in (0, 1)")
        check(0 < self.peak_bin <= 1, "peak_bin", "must be in (0, 1] decades")
        check(0 < self.peak_min_share < 0.5, "peak_min_share", "must be in (0, 0.5)")
        check_positive_ints(self.ablate_keep, "ablate_keep")
        check(len(self.ablate_keep) >= 3 and max(self.ablate_keep) <= max(self.widths) // 2,
              "ablate_keep", "needs >= 3 pair counts, none above the widest network's number of "
              "pairs (half its width)")
        check(len(self.seeds) >= 4, "seeds", "needs >= 4 seeds for medians and bands")
        check(isinstance(self.n_boot, int) and self.n_boot >= 20, "n_boot", "must be >= 20")


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class WidthSweep(TreeResult):
    """The SiLU width sweep on the budget ladder, its polish, and the exact construction."""

    widths: np.ndarray
    budgets: np.ndarray
    schedules: np.ndarray
    test_mse: np.ndarray               # (schedules, R, S, W)
    train_mse: np.ndarray              # (schedules, R, S, W)
    alpha: np.ndarray                  # (schedules, R, 3) exponent over N >= fit_min, lo, hi
    polished_mse: np.ndarray           # (S, W) after the L-BFGS polish of the last budget
    polished_half_mse: np.ndarray      # (S, W) after half of its iterations
    alpha_polished: np.ndarray         # (3,)
    polish_iterations: int
    fit_min: int
    construction_mse: float            # the exact symmetric pair in float64
    construction_w: float

    def local(self, rung: int, schedule: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Local exponents (minus the log-log slopes) of the median curve between neighbouring
        widths on one rung: (geometric midpoints, exponents)."""
        x, s = local_slopes(self.widths, np.median(self.test_mse[schedule, rung], 0))
        return x, -s

    @property
    def drift(self) -> float:
        return float(abs(self.alpha[0, -1, 0] - self.alpha[0, -2, 0]))

    @property
    def peak(self) -> tuple[float, float]:
        """The largest exponent on the ladder and its budget."""
        j = int(np.argmax(self.alpha[0, :, 0]))
        return float(self.alpha[0, j, 0]), float(self.budgets[j])

    @property
    def polish_ratio(self) -> float:
        """Smallest factor by which the polish lowers the median loss at any width."""
        return float(np.min(np.median(self.test_mse[0, -1], 0) / np.median(self.polished_mse, 0)))

    @property
    def polish_drop(self) -> float:
        """Median factor by which the polish's second half lowered the median loss."""
        return float(np.median(np.median(self.polished_half_mse, 0) / np.median(self.polished_mse, 0)))

    @property
    def train_test(self) -> float:
        """Largest factor between a network's training and test error on the last rung."""
        return float(10 ** np.max(np.abs(np.log10(self.train_mse[0, -1] / self.test_mse[0, -1]))))

    @property
    def floor(self) -> float:
        """The median loss of the widest networks on the last rung."""
        return float(np.median(self.test_mse[0, -1, :, -1]))


@dataclass(frozen=True)
class Relu(TreeResult):
    """ReLU (and LeakyReLU) at small widths on the same ladder."""

    widths: np.ndarray
    budgets: np.ndarray
    mse: np.ndarray                    # (R, S, W)
    slope: np.ndarray                  # (R, 3)
    leaky_mse: np.ndarray              # (R, S, W), or empty
    leaky_slope: np.ndarray            # (R, 3), or empty


@dataclass(frozen=True)
class Mechanism(TreeResult):
    """The mirror statistic and the ensemble test, on each rung of the ladder."""

    budgets: np.ndarray
    mirror_width: int
    mirror_init: np.ndarray            # (S',) mirror ratio at initialisation
    mirror: np.ndarray                 # (R, S') trained
    weight_move: np.ndarray            # (2,) median |W1 - W1_init|, |b1 - b1_init| on the last rung
    ensemble_width: int
    keep: np.ndarray                   # (K,)
    ensemble_mse: np.ndarray           # (R, S, K)
    ensemble_slope: np.ndarray         # (R, 3)
    residual_corr: np.ndarray          # (R,) median over networks: mean pairwise correlation of
                                       # the per-ticket residuals
    residual_shared: np.ndarray        # (R,) median over networks: the shared (mean) part of the
                                       # residual power, 1/M if independent, 1 if one bias

    @property
    def mirror_stats(self) -> np.ndarray:
        """(R, 3): median mirror ratio over networks with its bootstrap interval, per rung."""
        return np.stack([median_interval(np.asarray(m, float), 1000, 1) for m in self.mirror])

    @property
    def null(self) -> float:
        return float(np.median(self.mirror_init))

    @property
    def pairs(self) -> int:
        return int(self.ensemble_width // 2)


@dataclass(frozen=True)
class TwoNeuron(TreeResult):
    """The two-neuron study on its polish ladder (the statistics per rung; parameters and losses
    of the last)."""

    iterations: np.ndarray             # (R,) L-BFGS iterations
    loss: np.ndarray                   # (P,) last rung
    params: np.ndarray                 # (P, 6) w1, w2, b1, b2, v1, v2, last rung
    ticket: np.ndarray                 # (P,) bool, last rung
    in_peak: np.ndarray                # (P,) bool, last rung: in the lowest mode
    share: np.ndarray                  # (R, 3) tickets among the lowest mode, lo, hi
    base_rate: np.ndarray              # (R,) tickets among the networks that fit
    peak_size: np.ndarray              # (R,) networks in the lowest mode
    peak_loss: np.ndarray              # (R,) their median loss
    fits: float                        # share of networks that fit (last rung)

    @property
    def ticket_bias(self) -> float:
        """Median |b| of the tickets in the lowest mode (NaN when it holds none)."""
        k = self.ticket & self.in_peak
        return float(np.median(np.abs(self.params[k, 2:4]))) if k.any() else float("nan")

    @property
    def quartic_root(self) -> float:
        """The bias at which silu'''' vanishes (chapter 1): a pair centred there has no x^4 term."""
        return silu_quartic_root()

    @property
    def drift(self) -> float:
        return float(abs(self.share[-1, 0] - self.share[-2, 0]))


@dataclass(frozen=True)
class Result(TreeResult):
    """Chapter 3's result: one part per section."""

    sweep: WidthSweep
    relu: Relu
    mechanism: Mechanism
    pairs: TwoNeuron
    wall_time_s: float
    device: str
    timings: dict


def _data(cfg: Config, run: Run):
    x = run.tensor(grid(cfg.n_train, -cfg.x_max, cfg.x_max))
    xt = run.tensor(grid(cfg.n_test, -cfg.x_max, cfg.x_max))
    return x, x ** 2, xt, xt ** 2


def _sweep(cfg: Config, run: Run, act: str, steps: int, schedule: str, data,
           widths: tuple[int, ...] | None = None, seeds: tuple[int, ...] | None = None) -> tuple:
    """All widths x seeds of one activation at one budget (the same initial weights at every
    budget): the trained model, its test and training MSE (S, W)."""
    x, y, xt, yt = data
    widths, seeds = widths or cfg.widths, seeds or cfg.seeds
    W = [w for w in widths for _ in seeds]
    init = [torch_seed("ch3", act, w, s) for w in widths for s in seeds]
    model = BatchedMLP(W, activation=act, seeds=init, dtype=run.dtype, device=run.device)
    h = train(model, x, y, steps=steps, lr=cfg.lr, schedule=schedule, x_test=xt, y_test=yt,
              log_every=steps, desc=f"ch3 {act} {schedule} {steps}")
    S = len(seeds)
    return model, h.final_test.reshape(-1, S).T, h.final_train.reshape(-1, S).T


def _exponent(cfg: Config, mse: np.ndarray) -> np.ndarray:
    """The width-sweep statistic: exponent of the seed-median test MSE over N >= fit_min with its
    16-84 % bootstrap interval over seeds; ``mse`` is (seeds, widths)."""
    b = bootstrap_exponent(np.asarray(cfg.widths, float), mse, n_boot=cfg.n_boot, x_min=cfg.fit_min)
    return np.asarray([b.exponent, b.lo, b.hi])


def small_exponent(cfg: Config, mse: np.ndarray) -> np.ndarray:
    """The same over ``relu_widths`` (approximation theory's regime for ReLU); ``mse`` is
    (seeds, len(relu_widths))."""
    b = bootstrap_exponent(np.asarray(cfg.relu_widths, float), mse, n_boot=cfg.n_boot)
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


def _first_layer(model: BatchedMLP, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Input weights and biases (G, width) of a batch's networks of ``width``."""
    grp = next(g for g in model.groups if g.width == width)
    W1, b1 = (p.detach().cpu().double().numpy() for p in model.group_params(grp)[:2])
    return W1[:, 0], b1[:, 0]


def mirror_pairs(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cut ``N`` neurons (N even) into N/2 disjoint pairs, each neuron with the one nearest its
    mirror image ``(-w, b)`` (greedy on the mirror distance), shape (N/2, 2)."""
    P = np.stack([np.asarray(w, float), np.asarray(b, float)], 1)
    d = np.linalg.norm(P[:, None, :] - (P * np.array([-1.0, 1.0]))[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    free = np.ones(len(P), bool)
    out = []
    for flat in np.argsort(d, axis=None):
        i, j = divmod(int(flat), len(P))
        if free[i] and free[j] and i != j:
            out.append((i, j))
            free[i] = free[j] = False
    return np.asarray(out, dtype=int)


def ticket_outputs(W1: np.ndarray, b1: np.ndarray, v: np.ndarray, act, x: np.ndarray) -> np.ndarray:
    """Each mirror pair's contribution ``v_i act(w_i x + b_i) + v_j act(w_j x + b_j)`` to the output
    of a one-hidden-layer network on the points ``x``, shape (N/2, n)."""
    pairs = mirror_pairs(W1, b1)
    h = act(np.asarray(x, float)[None, :] * np.asarray(W1, float)[:, None] + np.asarray(b1, float)[:, None])
    contrib = np.asarray(v, float)[:, None] * h                      # (N, n)
    return contrib[pairs[:, 0]] + contrib[pairs[:, 1]]


def ensemble_mse(P: np.ndarray, c: float, y: np.ndarray, keep, draws: int,
                 rng: np.random.Generator) -> np.ndarray:
    """The ensemble test's statistic for one network: the test MSE of ``c + (M / k) * (sum of k
    of its M pair outputs P)``, k pairs drawn without replacement, mean over ``draws`` subsets,
    for each k in ``keep`` (k = M is the network itself).  If the network is an average of M
    tickets ``T_m = M P_m + c`` with independent zero-mean errors this is sigma^2 / k at every
    k up to M (the finite-population terms cancel to O(1/M)); if its tickets share a bias it
    stays at the bias; if its pairs are no tickets and only their sum fits (errors that cancel
    rather than average), it falls far faster than 1/k towards k = M."""
    P = np.asarray(P, float)
    M = P.shape[0]
    out = np.empty(len(keep))
    for j, k in enumerate(keep):
        idx = np.stack([rng.choice(M, int(k), replace=False) for _ in range(draws)])  # (draws, k)
        f = c + (M / k) * P[idx].sum(1)                                               # (draws, n)
        out[j] = float(np.mean((f - y[None]) ** 2))
    return out


def ticket_residual_stats(P: np.ndarray, c: float, y: np.ndarray) -> tuple[float, float]:
    """The CLT's premise for one network cut into M pair outputs ``P`` (M, n): each ticket
    ``T_m = M P_m + c`` has the residual ``r_m = T_m - y``; returns the mean pairwise correlation
    of the residuals (uncentred, over the points: 0 for independent zero-mean errors, 1 for one
    shared bias, -1/(M-1) for errors that cancel exactly) and the shared part of their power,
    ``|mean_m r_m|^2 / mean_m |r_m|^2`` (1/M if independent, 1 if shared, 0 if they cancel)."""
    P = np.asarray(P, float)
    M = P.shape[0]
    r = M * P + c - np.asarray(y, float)[None]
    G = r @ r.T                                                    # (M, M)
    norm = np.sqrt(np.outer(np.diag(G), np.diag(G)))
    off = ~np.eye(M, dtype=bool)
    corr = float(np.mean(G[off] / np.maximum(norm[off], 1e-300)))
    shared = float(np.sum(r.mean(0) ** 2) / max(np.mean(np.sum(r ** 2, 1)), 1e-300))
    return corr, shared


def _ensemble(cfg: Config, model: BatchedMLP, data, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble test on each widest network (:func:`ensemble_mse`), shape (S, K), and the
    residual statistics of its tickets (:func:`ticket_residual_stats`), shape (S, 2)."""
    _, _, xt, yt = data
    wmax = max(cfg.widths)
    grp = next(g for g in model.groups if g.width == wmax)
    W1, b1, W2, b2 = (p.detach().cpu().double().numpy() for p in model.group_params(grp))
    act = lambda z: model.act(torch.as_tensor(z)).numpy()  # noqa: E731
    x, y = xt.detach().cpu().double().numpy()[:, 0], yt.detach().cpu().double().numpy()[:, 0]
    rs = np.random.default_rng(seed)
    mse, res = [], []
    for g in range(W1.shape[0]):
        P = ticket_outputs(W1[g, 0], b1[g, 0], W2[g, :, 0], act, x)
        mse.append(ensemble_mse(P, float(b2[g, 0, 0]), y, cfg.ablate_keep, cfg.ablate_draws, rs))
        res.append(ticket_residual_stats(P, float(b2[g, 0, 0]), y))
    return np.stack(mse), np.asarray(res)


def ensemble_slope(keep, mse: np.ndarray) -> np.ndarray:
    """Exponent of the median over networks of :func:`ensemble_mse` in k, with its 16-84 %
    bootstrap interval over networks (rows of ``mse``)."""
    b = bootstrap_exponent(np.asarray(keep, float), mse, n_boot=1000)
    return np.asarray([b.exponent, b.lo, b.hi])


# ----------------------------------------------------------------------------- two neurons
def pair_asymmetry(params: np.ndarray) -> np.ndarray:
    """How far each two-neuron network ``(w1, w2, b1, b2, v1, v2)`` is from a mirror pair
    ``(w, b, v), (-w, b, v)``: the largest of |w1 + w2|, |b1 - b2| and |v1 - v2|, each relative to
    the size of that parameter in the pair (so a large output weight does not hide a mismatch of
    the small ones, nor the reverse)."""
    p = np.asarray(params, float)
    w1, w2, b1, b2, v1, v2 = p.T

    def rel(diff, a, b):
        return np.abs(diff) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)

    return np.max(np.stack([rel(w1 + w2, w1, w2), rel(b1 - b2, b1, b2), rel(v1 - v2, v1, v2)]), 0)


def lowest_peak(loss: np.ndarray, fits: np.ndarray, bin_width: float, min_share: float
                ) -> np.ndarray:
    """The networks in the lowest mode of the histogram of log10(loss) over those that fit: the
    leftmost bin that is a local maximum of the histogram and holds at least ``min_share`` of the
    fitting networks; the mode runs right from there down its slope to the valley (the last bin
    before an empty one or before the counts rise again) and left to the smallest loss.  Returns
    a mask."""
    loss, fits = np.asarray(loss, float), np.asarray(fits, bool)
    h = np.log10(np.maximum(loss, 1e-300))
    if not fits.any():
        return np.zeros(len(loss), bool)
    lo, hi = h[fits].min(), h[fits].max()
    edges = np.arange(lo, hi + 2 * bin_width, bin_width)
    counts, _ = np.histogram(h[fits], edges)
    need = max(2, int(np.ceil(min_share * fits.sum())))
    mode = None
    for i, c in enumerate(counts):
        left = counts[i - 1] if i > 0 else -1
        right = counts[i + 1] if i + 1 < len(counts) else -1
        if c >= need and c >= left and c >= right:
            mode = i
            break
    if mode is None:                       # no mode big enough: the single most common bin
        mode = int(np.argmax(counts))
    j = mode
    while j + 1 < len(counts) and 0 < counts[j + 1] <= counts[j]:
        j += 1
    return fits & (h < edges[j + 1])


def _pair_stats(cfg: Config, pairs: BatchedMLP, xt: torch.Tensor, yt: torch.Tensor) -> dict:
    ps = pairs.group_params(0)
    W1 = ps[0].detach()[:, 0, :].cpu().numpy()
    b1 = ps[1].detach()[:, 0, :].cpu().numpy()
    v = ps[2].detach()[:, :, 0].cpu().numpy()
    params = np.concatenate([W1, b1, v], 1)
    with torch.no_grad():
        loss = (pairs(xt) - yt).pow(2).mean((1, 2)).cpu().numpy()
    fits = loss < cfg.pair_loss_max   # excludes the dead solutions (both w ~ 0, loss ~ 1)
    ticket = fits & (pair_asymmetry(params) < cfg.pair_sym_tol)
    peak = lowest_peak(loss, fits, cfg.peak_bin, cfg.peak_min_share)
    return dict(loss=loss, params=params, ticket=ticket, in_peak=peak,
                share=best_ticket_share(ticket, peak, cfg.n_boot),
                base=float(ticket.sum() / max(1, fits.sum())), size=int(peak.sum()),
                peak_loss=float(np.median(loss[peak])) if peak.any() else float("nan"),
                fits=float(fits.mean()))


def best_ticket_share(ticket: np.ndarray, peak: np.ndarray, n_boot: int) -> np.ndarray:
    """The best-peak statistic: the share of tickets among the networks of the lowest mode, with
    its 16-84 % bootstrap interval over those networks, ``[share, lo, hi]``."""
    k = np.asarray(peak, bool)
    if not k.any():
        return np.full(3, np.nan)
    return share_interval(np.asarray(ticket)[k], n_boot, 7)


def two_neuron(cfg: Config, run: Run, data) -> TwoNeuron:
    """Many two-neuron networks trained (Adam, then per-network L-BFGS), with the statistics
    after pair_lbfgs * 2^i L-BFGS iterations, i < pair_rungs (the ladder)."""
    _, _, xt, yt = data
    x = run.tensor(grid(cfg.pair_train, -cfg.x_max, cfg.x_max))
    y = x ** 2
    seeds = [torch_seed("ch3-pairs", cfg.seeds[0], i) for i in range(cfg.n_pairs)]
    pairs = BatchedMLP([2] * cfg.n_pairs, activation="silu", seeds=seeds, dtype=run.dtype,
                       device=run.device)
    train(pairs, x, y, steps=cfg.pair_steps, lr=cfg.lr, schedule="cosine",
          lbfgs_steps=cfg.pair_lbfgs, log_every=cfg.pair_steps, desc="ch3 pairs")
    rungs = [_pair_stats(cfg, pairs, xt, yt)]
    for i in range(1, cfg.pair_rungs):   # pair_lbfgs * 2^(i-1) more: 2^i in all
        lbfgs_polish(pairs, x, y, iterations=cfg.pair_lbfgs * 2 ** (i - 1))
        rungs.append(_pair_stats(cfg, pairs, xt, yt))
    last = rungs[-1]
    return TwoNeuron(iterations=np.asarray([cfg.pair_lbfgs * 2 ** i for i in range(cfg.pair_rungs)]),
                     loss=last["loss"], params=last["params"], ticket=last["ticket"],
                     in_peak=last["in_peak"], share=np.stack([r["share"] for r in rungs]),
                     base_rate=np.asarray([r["base"] for r in rungs]),
                     peak_size=np.asarray([r["size"] for r in rungs]),
                     peak_loss=np.asarray([r["peak_loss"] for r in rungs]), fits=last["fits"])


# ----------------------------------------------------------------------------- the run
def exact_pair_mse(cfg: Config) -> float:
    """The exact construction in float64: ``v (silu(w x) + silu(-w x)) + c`` with tiny ``w``,
    ``v = 2 / w^2`` and ``c = -2 v silu(0) = 0`` fits x^2 up to its x^4 term (``-w^2 x^4 / 12``):
    the MSE on the test grid."""
    x = grid(cfg.n_test, -cfg.x_max, cfg.x_max)[:, 0]
    w = cfg.construction_w
    silu = lambda z: z / (1.0 + np.exp(-z))  # noqa: E731
    f = (2.0 / w ** 2) * (silu(w * x) + silu(-w * x))
    return float(np.mean((f - x ** 2) ** 2))


def _mirror_nets(cfg: Config, run: Run, sweep_model: BatchedMLP, T: int, data) -> tuple:
    """Input weights and biases of the mirror analysis's networks after budget ``T``: the sweep's
    widest when ``mirror_width`` is its width, else networks of that width trained apart."""
    if cfg.mirror_width == max(cfg.widths):
        return _first_layer(sweep_model, cfg.mirror_width)
    m, _, _ = _sweep(cfg, run, "silu", T, "cosine", data, widths=(cfg.mirror_width,),
                     seeds=tuple(cfg.seeds[:cfg.mirror_seeds]))
    return _first_layer(m, cfg.mirror_width)


def run(config: Config | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring)."""
    r = Run.start(Config, config)
    cfg: Config = r.config
    data = _data(cfg, r)
    x, y, xt, yt = data
    S, B, Sc = len(cfg.seeds), len(cfg.budgets), len(cfg.schedules)
    test = np.empty((Sc, B, S, len(cfg.widths)))
    trn = np.empty_like(test)
    mirror, abl, res = [], [], []
    t = r.elapsed
    model = None
    for i, sched in enumerate(cfg.schedules):
        for j, T in enumerate(cfg.budgets):
            model, test[i, j], trn[i, j] = _sweep(cfg, r, "silu", T, sched, data)
            if i == 0:
                W1, b1 = _mirror_nets(cfg, r, model, T, data)
                mirror.append([mirror_ratio(w, b) for w, b in zip(W1, b1)])
                e, rs = _ensemble(cfg, model, data, torch_seed("ch3-ablate", T))
                abl.append(e)
                res.append(rs)
            if i == 0 and j == B - 1:
                last = model
    r.lap("sweep", r.t0 + t)
    t = r.elapsed
    # the polished curve: the last cosine budget's networks run further per network, measured
    # after half and all of the iterations
    pols = []
    for its in (cfg.polish_iterations // 2, cfg.polish_iterations - cfg.polish_iterations // 2):
        lbfgs_polish(last, x, y, iterations=its)
        with torch.no_grad():
            pols.append((last(xt) - yt).pow(2).mean((1, 2)).cpu().numpy().reshape(-1, S).T)
    half, pol = pols
    r.lap("polish", r.t0 + t)
    ms = tuple(cfg.seeds[:cfg.mirror_seeds]) if cfg.mirror_width != max(cfg.widths) else cfg.seeds
    init = BatchedMLP([cfg.mirror_width] * len(ms), activation="silu", dtype=r.dtype,
                      seeds=[torch_seed("ch3", "silu", cfg.mirror_width, s) for s in ms])
    W0, b0 = _first_layer(init, cfg.mirror_width)
    sweep = WidthSweep(widths=np.asarray(cfg.widths, float), budgets=np.asarray(cfg.budgets),
                       schedules=np.asarray(cfg.schedules), test_mse=test, train_mse=trn,
                       alpha=np.stack([[_exponent(cfg, test[i, j]) for j in range(B)]
                                       for i in range(Sc)]),
                       polished_mse=pol, polished_half_mse=half,
                       alpha_polished=_exponent(cfg, pol), polish_iterations=cfg.polish_iterations,
                       fit_min=cfg.fit_min, construction_mse=exact_pair_mse(cfg),
                       construction_w=cfg.construction_w)
    t = r.elapsed
    relu_mse = np.stack([_sweep(cfg, r, "relu", T, "cosine", data, widths=cfg.relu_widths)[1]
                         for T in cfg.budgets])
    leaky = (np.stack([_sweep(cfg, r, "leaky_relu", T, "cosine", data, widths=cfg.relu_widths)[1]
                       for T in cfg.budgets]) if cfg.leaky_relu else np.zeros((0, S, 0)))
    relu = Relu(widths=np.asarray(cfg.relu_widths, float), budgets=np.asarray(cfg.budgets),
                mse=relu_mse, slope=np.stack([small_exponent(cfg, m) for m in relu_mse]),
                leaky_mse=leaky, leaky_slope=(np.stack([small_exponent(cfg, m) for m in leaky])
                                              if len(leaky) else np.zeros((0, 3))))
    r.lap("relu", r.t0 + t)
    keep = np.asarray(cfg.ablate_keep, float)
    res = np.asarray(res)                                               # (R, S, 2)
    mech = Mechanism(budgets=np.asarray(cfg.budgets), mirror_width=int(cfg.mirror_width),
                     mirror_init=np.asarray([mirror_ratio(w, b) for w, b in zip(W0, b0)]),
                     mirror=np.asarray(mirror),
                     weight_move=np.asarray([np.median(np.abs(W1 - W0)), np.median(np.abs(b1 - b0))]),
                     ensemble_width=int(max(cfg.widths)), keep=keep, ensemble_mse=np.asarray(abl),
                     ensemble_slope=np.stack([ensemble_slope(keep, a) for a in abl]),
                     residual_corr=np.median(res[..., 0], 1),
                     residual_shared=np.median(res[..., 1], 1))
    t = r.elapsed
    pairs = two_neuron(cfg, r, data)
    r.lap("two-neuron", r.t0 + t)
    return Result(sweep=sweep, relu=relu, mechanism=mech, pairs=pairs, wall_time_s=r.elapsed,
                  device=r.device_name, timings=dict(r.timings))


# ----------------------------------------------------------------------------- claims
#: the chapter's title, as its page heads it (tests/test_book.py checks the two agree)
TITLE = 'A scaling law from lottery-ticket ensembling?'

#: the tests that hold each claim's two controls (planted inputs through the chapter's statistic)
CONTROLS = {k: f"tests/test_controls.py::test_ch3_{k}"
            for k in ("silu_exponent", "relu_small_n", "mirror_pairs", "ensemble", "best_peak")}


def claims(result: Result, config: Config) -> list[Claim]:
    """The N^-1 law and ReLU's small-N exponent on their budget ladders, and the three mechanism
    tests, each against its named alternative."""
    ch, sw, re, me, tn = config.chapter, result.sweep, result.relu, result.mechanism, result.pairs
    a = sw.alpha[0]
    tol = tolerance_from_gap(1.0, 0.0, GAP_FRACTION)
    rungs = tuple(int(b) for b in sw.budgets)
    out = [Claim(
        key="silu_exponent", statement="SiLU networks fitting x² reach test MSE ∝ N^(−1)",
        source=SOURCE + ", abstract and width-sweep figure", paper_value=1.0,
        measured=float(a[-1, 0]), interval=(float(a[-1, 1]), float(a[-1, 2])),
        alternative="capacity, not optimisation, sets the loss: no N-dependence (one SiLU pair "
        "already fits x²)", alternative_value=0.0, tolerance=tol,
        tolerance_source=f"{GAP_FRACTION} × the gap", expected=Verdict.INCONCLUSIVE, chapter=ch,
        quantity=f"exponent α over N ≥ {sw.fit_min}, {rungs[-1]} Adam steps",
        trained=True, ladder=ladder_from("SiLU exponent α", rungs, a), figure="fig-ch3-budget")]
    s = re.slope
    out.append(Claim(
        key="relu_small_n", statement="ReLU networks follow approximation theory at small N: "
        "MSE ∝ N^(−4) (4/d with d = 1)", source=SOURCE + ", width-sweep figure; Sharma & "
        "Kaplan 2020", paper_value=4.0, measured=float(s[-1, 0]),
        interval=(float(s[-1, 1]), float(s[-1, 2])),
        alternative="the SiLU-like N^(−1)", alternative_value=1.0,
        tolerance=tolerance_from_gap(4.0, 1.0, 0.2), tolerance_source="0.2 × the gap",
        expected=Verdict.INCONCLUSIVE, chapter=ch,
        quantity=f"exponent over N = {int(re.widths[0])}–{int(re.widths[-1])}, {rungs[-1]} steps",
        trained=True, ladder=ladder_from("ReLU small-N exponent", rungs, s), figure="fig-ch3-budget"))
    mr = me.mirror_stats
    out.append(Claim(
        key="mirror_pairs", statement="wide trained SiLU networks are made of mirror pairs "
        "(w, b) ↔ (−w, b)", source=SOURCE + ", symmetric-neuron figure (N = 10⁴)",
        paper_value=0.0, measured=float(mr[-1, 0]), interval=(float(mr[-1, 1]), float(mr[-1, 2])),
        alternative="no mirror structure: the ratio at initialisation", alternative_value=me.null,
        tolerance=tolerance_from_gap(0.0, me.null, 0.2), tolerance_source="0.2 × the gap",
        expected=Verdict.INCONCLUSIVE, chapter=ch,
        quantity=f"mirror / same-sign matching distance, width {me.mirror_width}",
        trained=True, ladder=ladder_from("mirror ratio", rungs, mr), figure="fig-ch3-mechanism",
        notes=f"first-layer weights moved a median {me.weight_move[0]:.2f} from their "
              f"initialisation: near-initial networks, not the paper's long-trained one"))
    sl = me.ensemble_slope
    out.append(Claim(
        key="ensemble", statement="a wide network is an ensemble of tickets whose errors average "
        "out: with k of its mirror pairs kept (trained readout rescaled), the error falls as 1/k",
        source=SOURCE + ", the central-limit argument", paper_value=1.0,
        measured=float(sl[-1, 0]), interval=(float(sl[-1, 1]), float(sl[-1, 2])),
        alternative="the tickets share their error: no averaging, the error independent of k",
        alternative_value=0.0, tolerance=tolerance_from_gap(1.0, 0.0, 0.2),
        tolerance_source="0.2 × the gap", interval_source="16–84 % bootstrap over networks",
        expected=Verdict.INCONCLUSIVE, chapter=ch,
        quantity=f"exponent in k of the error of k of the {me.pairs} pairs",
        trained=True, ladder=ladder_from("ensemble exponent", rungs, sl), figure="fig-ch3-mechanism"))
    base = float(tn.base_rate[-1])
    out.append(Claim(
        key="best_peak", statement="the lowest-loss peak of two-neuron networks is the symmetric "
        "ticket", source=SOURCE + ", two-neuron histogram", paper_value=1.0,
        measured=float(tn.share[-1, 0]), interval=(float(tn.share[-1, 1]), float(tn.share[-1, 2])),
        alternative="tickets are no more common in the lowest peak than among all that fit",
        alternative_value=base, tolerance=tolerance_from_gap(1.0, base, 0.4),
        tolerance_source="0.4 × the gap", interval_source="16–84 % bootstrap over the peak's networks",
        expected=Verdict.INCONCLUSIVE, chapter=ch,
        quantity=f"tickets in the lowest mode of the loss histogram of {len(tn.loss)} networks",
        trained=True, ladder=ladder_from("ticket share of the lowest peak",
                                         tuple(int(i) for i in tn.iterations), tn.share,
                                         unit="L-BFGS iterations"),
        figure="fig-ch3-pairs"))
    return out


# ----------------------------------------------------------------------------- prose
def prose_numbers(result: Result, config: Config) -> dict[str, float]:
    """Every number the chapter's prose quotes, by name (glued as ``ch3_<name>``): reads of the
    result's parts and of the configs."""
    sw, re, me, tn = result.sweep, result.relu, result.mechanism, result.pairs
    fast, full = Config.fast(), Config.full()
    med = np.median(sw.test_mse[0, -1], 0)
    pol = np.median(sw.polished_mse, 0)
    out = {
        "seconds": result.wall_time_s, "fast_minutes": fast.expected_seconds / 60,
        "fast_w_lo": min(fast.widths), "fast_w_hi": max(fast.widths), "fast_seeds": len(fast.seeds),
        "fast_pairs": fast.n_pairs, "full_w_hi": max(full.widths), "full_seeds": len(full.seeds),
        "full_t_hi": full.budgets[-1], "full_minutes": full.expected_seconds / 60,
        "full_mirror": full.mirror_width, "full_pairs": full.n_pairs,
        "ntrain": config.n_train, "ntest": config.n_test, "lr": config.lr,
        "construction": sw.construction_mse, "construction_w": sw.construction_w,
        "fitmin": sw.fit_min, "n_rungs": len(sw.budgets), "t_lo": sw.budgets[0],
        "t_hi": sw.budgets[-1], "alpha_drift": sw.drift, "alpha_peak": sw.peak[0],
        "t_peak": sw.peak[1], "alpha_lo": sw.alpha[0, -1, 1], "alpha_hi": sw.alpha[0, -1, 2],
        "floor": sw.floor, "pol_its": sw.polish_iterations, "pol_ratio": sw.polish_ratio,
        "pol_drop": sw.polish_drop, "pol_min": float(pol.min()), "pol_max": float(pol.max()),
        "alpha_pol": sw.alpha_polished[0], "train_test": sw.train_test,
        "mse_small": float(med[0]), "w_small": sw.widths[0],
        "relu_lo": re.widths[0], "relu_hi": re.widths[-1],
        "wmax": me.mirror_width, "mirror_init": me.null,
        "mirror_last": float(np.median(me.mirror[-1])), "move_w": me.weight_move[0],
        "move_b": me.weight_move[1], "pairs": me.pairs, "ens_width": me.ensemble_width,
        "ens_one": float(np.median(me.ensemble_mse[-1], 0)[0]),
        "ens_all": float(np.median(me.ensemble_mse[-1], 0)[-1]),
        "corr_last": float(me.residual_corr[-1]), "shared_last": float(me.residual_shared[-1]),
        "ind_shared": 1.0 / me.pairs,
        "npairs": len(tn.loss), "pair_max": config.pair_loss_max, "sym_tol": config.pair_sym_tol,
        "fits": 100 * tn.fits, "base_rate": 100 * float(tn.base_rate[-1]),
        "peak_size": float(tn.peak_size[-1]), "peak_loss": float(tn.peak_loss[-1]),
        "ticket_bias": tn.ticket_bias, "quartic_root": tn.quartic_root,
        "pair_drift": 100 * tn.drift, "pair_lo": tn.iterations[0], "pair_hi": tn.iterations[-1],
    }
    for r in range(len(sw.budgets)):
        out[f"alpha_{r}"] = sw.alpha[0, r, 0]
        out[f"relu_{r}"] = re.slope[r, 0]
        out[f"mirror_{r}"] = me.mirror_stats[r, 0]
        out[f"ens_{r}"] = me.ensemble_slope[r, 0]
    for r in range(len(tn.iterations)):
        out[f"share_{r}"] = 100 * tn.share[r, 0]
    return {k: float(v) for k, v in out.items()}


def summary(result: Result) -> str:
    """The run in a few lines of text."""
    sw, re, me, tn = result.sweep, result.relu, result.mechanism, result.pairs
    at = lambda v, b: ", ".join(f"{x:.2f}" for x in v) + f" at {', '.join(str(int(t)) for t in b)}"  # noqa: E731
    return "\n".join([
        f"ran in {result.wall_time_s:.0f} s on {result.device}: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result.timings.items()),
        f"SiLU exponent α(T): {at(sw.alpha[0, :, 0], sw.budgets)} steps; polished "
        f"{sw.alpha_polished[0]:.2f}",
        f"ReLU small-N exponent: {at(re.slope[:, 0], re.budgets)} steps",
        f"mirror ratio (null {me.null:.2f}): {at(me.mirror_stats[:, 0], me.budgets)} steps",
        f"ensemble exponent: {at(me.ensemble_slope[:, 0], me.budgets)} steps; residual "
        f"correlation {me.residual_corr[-1]:.3f}, shared part {me.residual_shared[-1]:.3f}",
        f"two-neuron: tickets in the lowest peak {at(100 * tn.share[:, 0], tn.iterations)} "
        f"L-BFGS iterations (%), base rate {100 * tn.base_rate[-1]:.0f} %, peak of "
        f"{int(tn.peak_size[-1])} networks; ticket |b| {tn.ticket_bias:.3f} "
        f"(silu'''' root {tn.quartic_root:.3f})"])
