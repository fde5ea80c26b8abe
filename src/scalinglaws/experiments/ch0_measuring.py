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


@dataclass
class Result(TreeResult):
    widths: np.ndarray            # (W,)
    seeds: np.ndarray             # (S,)
    loss: np.ndarray              # (S, W) final population loss
    optimal: np.ndarray           # (S, W) Eckart-Young optimum for each seed's teacher
    undertrained: np.ndarray      # (S, W) loss after undertrained_step
    undertrained_step: int
    noisy: np.ndarray             # (S, W) loss on a finite test set with label noise
    noise_var: float
    curve_steps: np.ndarray       # (T,)
    curves: np.ndarray            # (S, W, T) training loss curves
    snapshot_steps: np.ndarray    # (F,) steps of the under-training panel
    snapshot_exponents: np.ndarray  # (F,) exponent of the median loss at each of them
    exponent: float               # fitted on the seed median over fit_range
    exponent_lo: float            # bootstrap 16th percentile
    exponent_hi: float            # bootstrap 84th percentile
    predicted: float              # fit of the Eckart-Young optimum over the same range
    asymptotic: float             # the Zipf exponent a (N -> infinity, K -> infinity)
    ladder_steps: np.ndarray      # (R,) budgets of the ladder
    ladder_exponents: np.ndarray  # (R, 3) the exponent at each budget (same seeds): value and its
                                  # 16-84 % bootstrap interval over seeds
    exponent_undertrained: float
    exponent_noisy: float         # pure power law fitted to the noisy measurement
    exponent_noisy_offset: float  # power law + constant fitted to the noisy measurement (NaN
    noisy_offset_status: str      # when that fit failed: see its status)
    noisy_offset: float           # the fitted constant (compare with noise_var)
    exponent_small: float         # fit over the widths below fit_range
    small_range: np.ndarray       # (2,) that range
    slopes_x: np.ndarray          # geometric midpoints of local slopes
    slopes: np.ndarray            # local log-log slopes of the median loss
    slopes_optimal: np.ndarray    # the same for the optimum
    window_centres: np.ndarray    # (V,) geometric centre of each sliding window of widths
    window_measured: np.ndarray   # (V,) exponent of the median loss in each window
    window_predicted: np.ndarray  # (V,) exponent of the optimum in the same window
    gap_to_optimum: np.ndarray    # (W,) median loss / optimum - 1
    wall_time_s: float
    device: str


def prediction(config: Config) -> tuple[np.ndarray, np.ndarray, float]:
    """The prediction made before training, from the first seed's teacher alone: widths, the
    Eckart-Young optimum at each, and its exponent over ``fit_range``."""
    teacher = ZipfTeacher.make(config.K, config.zipf_exponent,
                               derive_seed("ch0-teacher", config.seeds[0]))
    widths = np.asarray(config.widths, float)
    optimum = teacher.optimal_loss(np.asarray(config.widths))
    return widths, optimum, fit_median(widths, optimum, *config.fit_range).require().exponent


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
    teachers = [ZipfTeacher.make(cfg.K, cfg.zipf_exponent, derive_seed("ch0-teacher", s))
                for s in cfg.seeds]
    optimal = np.stack([t.optimal_loss(np.asarray(cfg.widths)) for t in teachers])
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
        widths=wa, seeds=np.asarray(cfg.seeds), loss=loss, optimal=optimal,
        undertrained=curves[:, :, j], undertrained_step=int(hist.step[j]), noisy=noisy,
        noise_var=cfg.noise_std ** 2, curve_steps=hist.step, curves=curves,
        snapshot_steps=hist.step[snaps],
        snapshot_exponents=np.asarray([fit_median(wa, curves[:, :, k], lo, hi).require().exponent
                                       for k in snaps]),
        exponent=ladder[-1][0], exponent_lo=ladder[-1][1], exponent_hi=ladder[-1][2],
        predicted=fit_median(wa, optimal, lo, hi).require().exponent, asymptotic=cfg.zipf_exponent,
        ladder_steps=np.asarray(cfg.ladder), ladder_exponents=np.asarray(ladder),
        exponent_undertrained=fit_median(wa, curves[:, :, j], lo, hi).require().exponent,
        exponent_noisy=fit_median(wa, noisy, lo, hi).require().exponent,
        exponent_noisy_offset=noisy_off.exponent, noisy_offset_status=str(noisy_off.status),
        noisy_offset=noisy_off.offset,
        exponent_small=fit_median(wa, loss, *small).require().exponent,
        small_range=np.asarray(small), slopes_x=sx, slopes=sl, slopes_optimal=sl_opt,
        window_centres=centres, window_measured=w_meas, window_predicted=w_pred,
        gap_to_optimum=np.median(loss, 0) / np.median(optimal, 0) - 1.0,
        wall_time_s=r.elapsed, device=r.device_name,
    )


#: the tests that hold each claim's two controls (planted inputs through the chapter's statistic)
#: the chapter's title, as its page heads it (tests/test_book.py checks the two agree)
TITLE = 'How this book measures a scaling law'

CONTROLS = {"exponent": "tests/test_controls.py::test_ch0_exponent"}


def claims(result: Result, config: Config) -> list[Claim]:
    """The chapter's claim: the measured exponent is the exact finite-K prediction, not the
    asymptote, at a budget where it no longer moves."""
    tol = tolerance_from_gap(result.predicted, result.asymptotic, GAP_FRACTION)
    lo, hi = config.fit_range
    return [Claim(
        key="exponent",
        statement="the loss of width-N students falls with the exponent of the exact "
                  "Eckart–Young optimum of the finite teacher",
        source="this book's prediction from the teacher's spectrum (quanta model of Michaud et "
               "al. 2023, arXiv:2303.13506)",
        paper_value=result.predicted, measured=result.exponent,
        interval=(result.exponent_lo, result.exponent_hi),
        alternative="the asymptotic Zipf exponent a (the quanta argument for infinite K)",
        alternative_value=result.asymptotic, tolerance=tol,
        tolerance_source=f"{GAP_FRACTION} × the gap between prediction and asymptote",
        expected=Verdict.REPRODUCED, chapter=config.chapter,
        quantity=f"exponent α over widths {lo}–{hi}", trained=True,
        ladder=ladder_from("exponent α", tuple(result.ladder_steps), result.ladder_exponents),
        figure="fig-ch0-scaling")]
