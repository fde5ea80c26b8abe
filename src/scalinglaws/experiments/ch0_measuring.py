"""Chapter 0: how this book measures a scaling law.

A teacher-student regression with a known answer.  The teacher maps K discrete inputs (one-hot
"skills", Zipf-distributed with ``p_k ∝ k^-(1+a)``) to random orthogonal targets.  A student MLP
of hidden width N is an affine map of rank <= N of its inputs, so by Eckart-Young its
frequency-weighted loss is bounded below by the tail of the teacher's weighted singular values,
which falls like ``N^-a`` (the quanta argument of Michaud et al. 2023).  The exponent is therefore
*predicted before any training*, from the teacher alone; the experiment trains a width sweep of
MLPs x seeds in one batched call and checks whether the measurement recovers it, then shows the
three classic ways the measurement lies: a noise floor, under-training, and the fitting range.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..config import (ChapterConfig, check, check_finite_positive, check_positive_ints,
                      derive_seed, device, device_name, torch_dtype)
from ..data import ZipfTeacher
from ..fit import bootstrap_exponent, fit_power_law, fit_power_law_offset, local_slopes
from ..models import BatchedMLP
from ..train import SquaredError, train


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch0_measuring"

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
    #: full-batch Adam steps on the population loss (all K inputs, weighted by p_k)
    steps: int = 1200
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

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=(0, 1, 2, 3), expected_seconds=45.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(16)), K=2048,
                    widths=(1, 2, 4, 8, 16, 32, 64, 128, 256), fit_range=(4, 256), steps=4000,
                    n_test=65536, expected_seconds=240.0)
        return cls(**{**base, **kw})

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
        check_finite_positive(self.lr, "lr")
        check(0 < self.undertrained_fraction < 1, "undertrained_fraction", "must be in (0, 1)")
        check_finite_positive(self.noise_std, "noise_std", allow_zero=True)
        check(isinstance(self.n_test, int) and self.n_test >= 100, "n_test", "must be >= 100")
        check(len(self.seeds) >= 2, "seeds", "needs at least 2 seeds for a bootstrap")


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
    exponent: float               # fitted on the seed median over fit_range
    exponent_lo: float            # bootstrap 16th percentile
    exponent_hi: float            # bootstrap 84th percentile
    predicted: float              # fit of the Eckart-Young optimum over the same range
    asymptotic: float             # the Zipf exponent a (N -> infinity, K -> infinity)
    exponent_undertrained: float
    exponent_noisy: float         # pure power law fitted to the noisy measurement
    exponent_noisy_offset: float  # power law + constant fitted to the noisy measurement
    noisy_offset: float           # the fitted constant (compare with noise_var)
    exponent_small: float         # fit over the two smallest decades below fit_range
    small_range: np.ndarray       # (2,) that range
    slopes_x: np.ndarray          # geometric midpoints of local slopes
    slopes: np.ndarray            # local log-log slopes of the median loss
    slopes_optimal: np.ndarray    # the same for the optimum
    gap_to_optimum: np.ndarray    # (W,) median loss / optimum - 1
    wall_time_s: float
    device: str
    extras: dict = field(default_factory=dict)


def run(config: Config | None = None) -> Result:
    """Train the width sweep x seeds in one batched call and measure the exponent (see module doc)."""
    cfg = config or Config.for_mode()
    dev = device()
    dtype = torch_dtype(cfg.precision)
    t0 = time.perf_counter()
    S, W = len(cfg.seeds), len(cfg.widths)
    teachers = [ZipfTeacher.make(cfg.K, cfg.zipf_exponent, derive_seed("ch0-teacher", s))
                for s in cfg.seeds]
    optimal = np.stack([t.optimal_loss(np.asarray(cfg.widths)) for t in teachers])

    widths = [w for s in range(S) for w in cfg.widths]
    seed_of = torch.tensor([s for s in range(S) for _ in cfg.widths], device=dev)
    init = [derive_seed("ch0-student", cfg.seeds[s], w) % 2**62 for s in range(S) for w in cfg.widths]
    model = BatchedMLP(widths, d_in=cfg.K, d_out=cfg.K, depth=1, activation=cfg.activation,
                       seeds=init, dtype=dtype, device=dev)
    Y = torch.tensor(np.stack([t.Y for t in teachers]), dtype=dtype, device=dev)
    P = torch.tensor(np.stack([t.p for t in teachers]), dtype=dtype, device=dev)
    x = torch.eye(cfg.K, dtype=dtype, device=dev)
    # each network learns its own seed's teacher, inputs weighted by that teacher's frequencies
    loss_fn = SquaredError(point_weights=P, target_index=seed_of)
    log_every = max(1, cfg.steps // 50)
    hist = train(model, x, Y, steps=cfg.steps, lr=cfg.lr, schedule="cosine", loss_fn=loss_fn,
                 log_every=log_every, desc="ch0 width sweep")
    loss = hist.final_train.reshape(S, W)
    curves = hist.train_loss.reshape(S, W, -1)
    target_step = cfg.undertrained_fraction * cfg.steps
    j = int(np.argmin(np.abs(hist.step - target_step)))
    undertrained = curves[:, :, j]

    # noise floor: evaluate on a finite test set whose labels carry Gaussian noise
    noisy = np.empty((S, W))
    with torch.no_grad():
        out = model(x)  # (M, K, d_out): every network's prediction for every input
        for s, teacher in enumerate(teachers):
            idx, y_noisy = teacher.sample(cfg.n_test, derive_seed("ch0-test", cfg.seeds[s]),
                                          noise=cfg.noise_std)
            ii = torch.as_tensor(idx, device=dev)
            yi = torch.as_tensor(y_noisy, dtype=dtype, device=dev)
            for w in range(W):
                noisy[s, w] = float(((out[s * W + w, ii] - yi) ** 2).mean())
        del out

    lo, hi = cfg.fit_range
    wa = np.asarray(cfg.widths, float)
    boot = bootstrap_exponent(wa, loss, n_boot=cfg.n_boot, x_min=lo, x_max=hi)
    pred = fit_power_law(wa, np.median(optimal, 0), lo, hi)
    under = fit_power_law(wa, np.median(undertrained, 0), lo, hi)
    noisy_med = np.median(noisy, 0)
    noisy_pl = fit_power_law(wa, noisy_med, lo, hi)
    noisy_off = fit_power_law_offset(wa, noisy_med, lo, hi)
    small = (float(wa.min()), float(lo))
    small_fit = fit_power_law(wa, np.median(loss, 0), *small)
    sx, sl = local_slopes(wa, np.median(loss, 0))
    _, sl_opt = local_slopes(wa, np.median(optimal, 0))
    return Result(
        widths=wa, seeds=np.asarray(cfg.seeds), loss=loss, optimal=optimal,
        undertrained=undertrained, undertrained_step=int(hist.step[j]), noisy=noisy,
        noise_var=cfg.noise_std ** 2, curve_steps=hist.step, curves=curves,
        exponent=boot.exponent, exponent_lo=boot.lo, exponent_hi=boot.hi,
        predicted=pred.exponent, asymptotic=cfg.zipf_exponent,
        exponent_undertrained=under.exponent, exponent_noisy=noisy_pl.exponent,
        exponent_noisy_offset=noisy_off.exponent if noisy_off.converged else float("nan"),
        noisy_offset=noisy_off.offset, exponent_small=small_fit.exponent,
        small_range=np.asarray(small), slopes_x=sx, slopes=sl, slopes_optimal=sl_opt,
        gap_to_optimum=np.median(loss, 0) / np.median(optimal, 0) - 1.0,
        wall_time_s=time.perf_counter() - t0, device=device_name(dev),
        extras={"noisy_offset_status": noisy_off.status},
    )
