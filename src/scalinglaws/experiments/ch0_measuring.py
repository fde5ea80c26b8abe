"""Chapter 0: how this book measures a scaling law.

A teacher-student regression with a known answer.  The teacher maps K discrete inputs (one-hot
"skills", Zipf-distributed with ``p_k ∝ k^-(1+a)``) to random orthogonal targets.  A student MLP
of hidden width N is an affine map of rank <= N of its inputs, so by Eckart-Young its
frequency-weighted loss is bounded below by the tail of the teacher's weighted singular values,
which falls like ``N^-a`` (the quanta argument of Michaud et al. 2023).  The exponent is therefore
*predicted before any training*, from the teacher alone, exactly for the finite K; the experiment
trains a width sweep of MLPs x seeds in one batched call at the budgets of a ladder (T/4, T/2,
T), checks that the exponent has settled (``claims.Ladder``), and compares it with the prediction, against the
asymptotic exponent ``a`` as the alternative.  Then it shows the three classic ways the
measurement lies: a noise floor, under-training, and the fitting range.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..claims import Claim, Verdict, ladder_from, tolerance_from_gap
from ..config import ChapterConfig, check, check_finite_positive, check_positive_ints, derive_seed
from ..data import ZipfTeacher
from ..fit import bootstrap_exponent, fit_median, fit_power_law_offset, local_slopes
from ..models import BatchedMLP
from ..train import SquaredError, train
from .common import Run, torch_seed

#: the exponent claim's tolerance, as a fraction of the gap between prediction and asymptote
GAP_FRACTION = 0.4


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch0_measuring"
    ladders: ClassVar[tuple[str, ...]] = ("ladder",)

    #: number of discrete teacher inputs ("skills"); fast 256, full 2048 (our choice; no paper)
    K: int = 256
    #: Zipf tail exponent a: p_k ∝ k^-(1+a); the predicted asymptotic loss exponent (our choice)
    zipf_exponent: float = 0.75
    #: hidden widths N of the student MLPs (1 hidden layer)
    widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    #: widths used for the exponent fit, inclusive [min, max]; keep max <= K/8 (finite-K cut-off)
    fit_range: tuple[int, int] = (4, 32)
    #: student activation (registry name)
    activation: str = "silu"
    #: full-batch Adam steps on the population loss (all K inputs, weighted by p_k); the budget
    #: ladder trains the same networks at each of ``ladder`` (doubling, ending at ``steps``)
    steps: int = 6400
    ladder: tuple[int, ...] = (1600, 3200, 6400)
    #: Adam learning rate (cosine decay to lr * 1e-3)
    lr: float = 1e-2
    #: the "under-trained" measurement reads the loss after this fraction of the steps
    undertrained_fraction: float = 0.1
    #: label-noise standard deviation of the noisy test set (the noise-floor lie), per output
    noise_std: float = 0.2
    #: samples in the noisy test set (drawn from p_k)
    n_test: int = 4096
    #: bootstrap replicates over seeds
    n_boot: int = 1000
    #: width of the sliding window of the fitting-range panel (number of widths)
    window: int = 3

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=(0, 1, 2, 3), expected_seconds=90.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(16)), K=2048,
                    widths=(1, 2, 4, 8, 16, 32, 64, 128, 256), fit_range=(4, 256), steps=8000,
                    ladder=(2000, 4000, 8000), n_test=65536, expected_seconds=300.0)
        return cls(**{**base, **kw})

    @classmethod
    def smoke(cls, **kw: Any) -> "Config":
        """:meth:`full` at a size that runs on a CPU in seconds (same code path)."""
        return cls.full().replace(seeds=(0, 1), K=64, widths=(1, 2, 4, 8), fit_range=(2, 8),
                                  steps=40, ladder=(10, 20, 40), n_test=256, n_boot=50,
                                  expected_seconds=5.0, **kw)

    def _ladder_changes(self) -> dict[str, Any]:
        out = super()._ladder_changes()
        return {**out, "steps": out["ladder"][-1]}     # the ladder ends at the trained budget

    def validate(self) -> None:
        super().validate()
        check(isinstance(self.K, int) and self.K >= 8, "K", f"must be an integer >= 8, got {self.K!r}")
        check_finite_positive(self.zipf_exponent, "zipf_exponent")
        check_positive_ints(self.widths, "widths")
        check(list(self.widths) == sorted(set(self.widths)), "widths", "must be increasing")
        check(max(self.widths) < self.K, "widths", f"must stay below K={self.K} (rank limit)")
        check(len(self.fit_range) == 2 and self.fit_range[0] < self.fit_range[1], "fit_range",
              f"must be (min, max) with min < max, got {self.fit_range!r}")
        n_fit = sum(self.fit_range[0] <= w <= self.fit_range[1] for w in self.widths)
        check(n_fit >= 3, "fit_range", f"covers {n_fit} widths; at least 3 are needed")
        check(isinstance(self.steps, int) and self.steps >= 10, "steps", "must be an integer >= 10")
        check_positive_ints(self.ladder, "ladder")
        check(len(self.ladder) >= 3 and self.ladder[-1] == self.steps
              and all(b == 2 * a for a, b in zip(self.ladder, self.ladder[1:])), "ladder",
              f"must double and end at steps={self.steps}, got {self.ladder!r}")
        check_finite_positive(self.lr, "lr")
        check(0 < self.undertrained_fraction < 1, "undertrained_fraction", "must be in (0, 1)")
        check_finite_positive(self.noise_std, "noise_std", allow_zero=True)
        check(isinstance(self.n_test, int) and self.n_test >= 100, "n_test", "must be >= 100")
        check(len(self.seeds) >= 2, "seeds", "needs at least 2 seeds for a bootstrap")
        check(2 <= self.window <= len(self.widths), "window", "must be in [2, number of widths]")


@dataclass(frozen=True)
class Prediction(TreeResult):
    """Setup: the prediction made from the teachers alone, before any training."""

    widths: np.ndarray            # (W,)
    optimal: np.ndarray           # (S, W) Eckart-Young optimum of each seed's teacher
    predicted: float              # exponent of the median optimum over fit_range
    predicted_first: float        # the same for the first seed's teacher alone
    asymptotic: float             # the Zipf exponent a (N -> infinity, K -> infinity)
    fit_range: np.ndarray         # (2,) widths of the fit, inclusive

    def describe(self) -> str:
        lo, hi = self.fit_range
        return (f"predicted exponent over widths {lo}..{hi}: {self.predicted:.4f} (first seed's "
                f"teacher: {self.predicted_first:.4f}; asymptotic value a = {self.asymptotic})")

    @property
    def n_fit(self) -> int:
        """Widths inside the fitting range."""
        lo, hi = self.fit_range
        return int(np.sum((self.widths >= lo) & (self.widths <= hi)))


@dataclass(frozen=True)
class Scaling(TreeResult):
    """Experiment and fit: the trained width sweep, its exponent and its budget ladder."""

    widths: np.ndarray            # (W,)
    seeds: np.ndarray             # (S,)
    loss: np.ndarray              # (S, W) final population loss
    exponent: float               # fitted on the seed median over fit_range
    exponent_lo: float            # bootstrap 16th percentile
    exponent_hi: float            # bootstrap 84th percentile
    ladder_steps: np.ndarray      # (R,) budgets of the ladder
    ladder_exponents: np.ndarray  # (R, 3) the exponent at each budget (same seeds): value and
                                  # its 16-84 % bootstrap interval over seeds
    gap_to_optimum: np.ndarray    # (W,) median loss / median optimum - 1
    slopes_x: np.ndarray          # geometric midpoints of local slopes
    slopes: np.ndarray            # local log-log slopes of the median loss
    slopes_optimal: np.ndarray    # the same for the optimum

    @property
    def n_networks(self) -> int:
        return len(self.widths) * len(self.seeds)

    @property
    def gap_max_pct(self) -> float:
        """The largest distance of a width's median loss from its optimum, in per cent."""
        return 100 * float(np.max(np.abs(self.gap_to_optimum)))

    @property
    def drift(self) -> float:
        """How far the last doubling of the budget moved the exponent."""
        return float(abs(self.ladder_exponents[-1, 0] - self.ladder_exponents[-2, 0]))


@dataclass(frozen=True)
class Lies(TreeResult):
    """Three ways the measurement lies: a noise floor, under-training, the fitting range."""

    noisy: np.ndarray             # (S, W) loss on a finite test set with label noise
    noise_var: float
    n_test: int                   # samples in that test set
    exponent_noisy: float         # pure power law fitted to the noisy measurement
    exponent_noisy_offset: float  # power law + constant fitted to the noisy measurement (NaN
    noisy_offset_status: str      # when that fit failed: see its status)
    noisy_offset: float           # the fitted constant (compare with noise_var)
    undertrained: np.ndarray      # (S, W) loss after undertrained_step
    undertrained_step: int
    exponent_undertrained: float
    curve_steps: np.ndarray       # (T,)
    curves: np.ndarray            # (S, W, T) training loss curves
    snapshot_steps: np.ndarray    # (F,) steps of the under-training panel
    snapshot_exponents: np.ndarray  # (F,) exponent of the median loss at each of them
    exponent_small: float         # fit over the widths below fit_range
    small_range: np.ndarray       # (2,) that range
    window_centres: np.ndarray    # (V,) geometric centre of each sliding window of widths
    window_measured: np.ndarray   # (V,) exponent of the median loss in each window
    window_predicted: np.ndarray  # (V,) exponent of the optimum in the same window


@dataclass(frozen=True)
class Result(TreeResult):
    """Chapter 0's result: one part per section."""

    prediction: Prediction
    scaling: Scaling
    lies: Lies
    wall_time_s: float
    device: str


def teachers_of(config: Config) -> list[ZipfTeacher]:
    """Each seed's teacher."""
    return [ZipfTeacher.make(config.K, config.zipf_exponent, derive_seed("ch0-teacher", s))
            for s in config.seeds]


def prediction(config: Config) -> Prediction:
    """The prediction made before any training, from the teachers alone: the Eckart-Young
    optimum at each width and its exponent over ``fit_range`` (median over the seeds'
    teachers, and the first seed's teacher alone)."""
    widths = np.asarray(config.widths, float)
    optimal = np.stack([t.optimal_loss(np.asarray(config.widths)) for t in teachers_of(config)])
    lo, hi = config.fit_range
    return Prediction(widths=widths, optimal=optimal,
                      predicted=fit_median(widths, optimal, lo, hi).require().exponent,
                      predicted_first=fit_median(widths, optimal[:1], lo, hi).require().exponent,
                      asymptotic=config.zipf_exponent, fit_range=np.asarray(config.fit_range))


def _train_sweep(cfg: Config, run: Run, teachers: list[ZipfTeacher], steps: int):
    """Every width x seed as one batched program; each network learns its own seed's teacher."""
    S = len(cfg.seeds)
    widths = [w for _ in range(S) for w in cfg.widths]
    init = [torch_seed("ch0-student", s, w) for s in cfg.seeds for w in cfg.widths]
    model = BatchedMLP(widths, d_in=cfg.K, d_out=cfg.K, depth=1, activation=cfg.activation,
                       seeds=init, dtype=run.dtype, device=run.device)
    Y = run.tensor(np.stack([t.Y for t in teachers]))
    P = run.tensor(np.stack([t.p for t in teachers]))
    seed_of = torch.tensor([s for s in range(S) for _ in cfg.widths], device=run.device)
    # inputs weighted by their teacher's frequencies: the population loss with infinite data
    loss_fn = SquaredError(point_weights=P, target_index=seed_of)
    hist = train(model, torch.eye(cfg.K, dtype=run.dtype, device=run.device), Y, steps=steps,
                 lr=cfg.lr, schedule="cosine", loss_fn=loss_fn, log_every=max(1, steps // 50),
                 desc=f"ch0 width sweep, {steps} steps")
    return model, hist


def _noisy_losses(cfg: Config, run: Run, model: BatchedMLP, teachers: list[ZipfTeacher]):
    """Loss on a finite test set whose labels carry Gaussian noise (the noise-floor lie)."""
    S, W = len(cfg.seeds), len(cfg.widths)
    noisy = np.empty((S, W))
    with torch.no_grad():
        out = model(torch.eye(cfg.K, dtype=run.dtype, device=run.device))  # (M, K, K)
        for s, teacher in enumerate(teachers):
            idx, y_noisy = teacher.sample(cfg.n_test, derive_seed("ch0-test", cfg.seeds[s]),
                                          noise=cfg.noise_std)
            ii = torch.as_tensor(idx, device=run.device)
            yi = run.tensor(y_noisy)
            for w in range(W):
                noisy[s, w] = float(((out[s * W + w, ii] - yi) ** 2).mean())
    return noisy


def _windows(cfg: Config, widths: np.ndarray, loss: np.ndarray, optimal: np.ndarray):
    """Exponents of the measurement and of the optimum over sliding windows of widths."""
    lw = np.log(widths)
    k = cfg.window
    spans = [slice(i, i + k) for i in range(len(widths) - k + 1)]
    centres = np.asarray([np.exp(lw[sl].mean()) for sl in spans])
    meas = np.asarray([fit_median(widths[sl], loss[:, sl]).require().exponent for sl in spans])
    pred = np.asarray([fit_median(widths[sl], optimal[:, sl]).require().exponent for sl in spans])
    return centres, meas, pred


def exponent_stats(cfg: Config, widths: np.ndarray, loss: np.ndarray) -> tuple[float, float, float]:
    """The chapter's statistic: the exponent of the seed-median loss over ``fit_range`` and its
    16-84 % bootstrap interval over seeds; ``loss`` is ``(seeds, widths)``."""
    b = bootstrap_exponent(widths, loss, n_boot=cfg.n_boot, x_min=cfg.fit_range[0],
                           x_max=cfg.fit_range[1])
    return b.exponent, b.lo, b.hi


def run(config: Config | None = None) -> Result:
    """Train the width sweep x seeds at every budget of the ladder and measure (module doc)."""
    r = Run.start(Config, config)
    cfg: Config = r.config
    teachers = teachers_of(cfg)
    pred = prediction(cfg)
    optimal = pred.optimal
    wa = np.asarray(cfg.widths, float)
    lo, hi = cfg.fit_range
    S, W = len(cfg.seeds), len(cfg.widths)
    ladder = []
    for steps in cfg.ladder:
        model, hist = _train_sweep(cfg, r, teachers, steps)
        loss = hist.final_train.reshape(S, W)
        ladder.append(exponent_stats(cfg, wa, loss))
    curves = hist.train_loss.reshape(S, W, -1)
    snaps = [int(np.argmin(np.abs(hist.step - f * cfg.steps)))
             for f in (0.03, cfg.undertrained_fraction, 0.3, 1.0)]
    j = snaps[1]
    noisy = _noisy_losses(cfg, r, model, teachers)
    noisy_off = fit_power_law_offset(wa, np.median(noisy, 0), lo, hi)
    small = (float(wa.min()), float(lo))
    sx, sl = local_slopes(wa, np.median(loss, 0))
    _, sl_opt = local_slopes(wa, np.median(optimal, 0))
    centres, w_meas, w_pred = _windows(cfg, wa, loss, optimal)
    return Result(
        prediction=pred,
        scaling=Scaling(widths=wa, seeds=np.asarray(cfg.seeds), loss=loss,
                        exponent=ladder[-1][0], exponent_lo=ladder[-1][1],
                        exponent_hi=ladder[-1][2], ladder_steps=np.asarray(cfg.ladder),
                        ladder_exponents=np.asarray(ladder),
                        gap_to_optimum=np.median(loss, 0) / np.median(optimal, 0) - 1.0,
                        slopes_x=sx, slopes=sl, slopes_optimal=sl_opt),
        lies=Lies(noisy=noisy, noise_var=cfg.noise_std ** 2, n_test=cfg.n_test,
                  exponent_noisy=fit_median(wa, noisy, lo, hi).require().exponent,
                  exponent_noisy_offset=noisy_off.exponent,
                  noisy_offset_status=str(noisy_off.status), noisy_offset=noisy_off.offset,
                  undertrained=curves[:, :, j], undertrained_step=int(hist.step[j]),
                  exponent_undertrained=fit_median(wa, curves[:, :, j], lo, hi).require().exponent,
                  curve_steps=hist.step, curves=curves, snapshot_steps=hist.step[snaps],
                  snapshot_exponents=np.asarray(
                      [fit_median(wa, curves[:, :, k], lo, hi).require().exponent for k in snaps]),
                  exponent_small=fit_median(wa, loss, *small).require().exponent,
                  small_range=np.asarray(small), window_centres=centres,
                  window_measured=w_meas, window_predicted=w_pred),
        wall_time_s=r.elapsed, device=r.device_name,
    )


#: the tests that hold each claim's two controls (planted inputs through the chapter's statistic)
#: the chapter's title, as its page heads it (tests/test_book.py checks the two agree)
TITLE = 'How this book measures a scaling law'

CONTROLS = {"exponent": "tests/test_controls.py::test_ch0_exponent"}


def claims(result: Result, config: Config) -> list[Claim]:
    """The chapter's claim: the measured exponent is the exact finite-K prediction, not the
    asymptote, at a budget where it no longer moves."""
    pr, sc = result.prediction, result.scaling
    tol = tolerance_from_gap(pr.predicted, pr.asymptotic, GAP_FRACTION)
    lo, hi = config.fit_range
    return [Claim(
        key="exponent",
        statement="the loss of width-N students falls with the exponent of the exact "
                  "Eckart–Young optimum of the finite teacher",
        source="this book's prediction from the teacher's spectrum (quanta model of Michaud et "
               "al. 2023, arXiv:2303.13506)",
        paper_value=pr.predicted, measured=sc.exponent,
        interval=(sc.exponent_lo, sc.exponent_hi),
        alternative="the asymptotic Zipf exponent a (the quanta argument for infinite K)",
        alternative_value=pr.asymptotic, tolerance=tol,
        tolerance_source=f"{GAP_FRACTION} × the gap between prediction and asymptote",
        expected=Verdict.REPRODUCED, chapter=config.chapter,
        quantity=f"exponent α over widths {lo}–{hi}", trained=True,
        ladder=ladder_from("exponent α", tuple(sc.ladder_steps), sc.ladder_exponents),
        figure="fig-ch0-scaling")]


def prose_numbers(result: Result, config: Config) -> dict[str, float]:
    """Every number the chapter's prose quotes, by name (glued as ``ch0_<name>``): reads of the
    result's parts and of the config."""
    pr, sc, li = result.prediction, result.scaling, result.lies
    fast, full = Config.fast(), Config.full()
    return {k: float(v) for k, v in {
        "fast_minutes": fast.expected_seconds / 60, "fast_K": fast.K, "full_K": full.K,
        "full_wmax": max(full.widths), "full_seeds": len(full.seeds),
        "full_ladder_lo": full.ladder[0], "full_ladder_hi": full.ladder[-1],
        "full_minutes": full.expected_seconds / 60,
        "predicted_first": pr.predicted_first, "a": pr.asymptotic, "predicted": pr.predicted,
        "fit_lo": pr.fit_range[0], "fit_hi": pr.fit_range[1], "n_fit": pr.n_fit,
        "ladder_lo": sc.ladder_steps[0], "n_rungs": len(sc.ladder_steps),
        "steps": sc.ladder_steps[-1], "gap_max": sc.gap_max_pct, "drift": sc.drift,
        "exponent": sc.exponent, "exponent_lo": sc.exponent_lo, "exponent_hi": sc.exponent_hi,
        "networks": sc.n_networks, "seconds": result.wall_time_s,
        "ntest": li.n_test, "noise_var": li.noise_var, "exp_noisy": li.exponent_noisy,
        "exp_noisy_offset": li.exponent_noisy_offset, "noisy_offset": li.noisy_offset,
        "under_step": li.undertrained_step, "exp_under": li.exponent_undertrained,
        "small_lo": li.small_range[0], "small_hi": li.small_range[1],
        "exp_small": li.exponent_small}.items()}


def summary(result: Result) -> str:
    """The run in a few lines of text."""
    pr, sc, li = result.prediction, result.scaling, result.lies
    rungs = ", ".join(f"{s}: {e[0]:.4f} [{e[1]:.4f}, {e[2]:.4f}]"
                      for s, e in zip(sc.ladder_steps, sc.ladder_exponents))
    return "\n".join([
        f"{sc.n_networks} networks ({len(sc.widths)} widths x {len(sc.seeds)} seeds) at "
        f"{len(sc.ladder_steps)} budgets, trained in {result.wall_time_s:.0f} s on {result.device}",
        f"exponent [16-84 %] at each budget: {rungs}",
        f"measured α = {sc.exponent:.3f}, predicted α = {pr.predicted:.3f} (Eckart-Young optimum, "
        f"same widths), asymptote a = {pr.asymptotic:.3f}",
        f"noise floor α = {li.exponent_noisy:.3f} (offset fit {li.exponent_noisy_offset:.3f}); "
        f"under-trained α = {li.exponent_undertrained:.3f} at step {li.undertrained_step}; "
        f"small widths α = {li.exponent_small:.3f}"])
