"""Chapter 2: Explaining neural scaling laws (Bahri, Dyer, Kaplan, Lee & Sharma, arXiv:2102.06701).

A controlled lab in which all four scaling regimes appear in one model: a teacher-student
regression on the sphere S^(d-1), with a random-feature student (P ReLU features, closed-form
ridgeless regression, float64) whose P -> infinity limit is exact kernel regression.

* resolution-limited in data:  P = infinity, vary D       -> L ~ D^-alpha_D
* resolution-limited in model: D >> P, vary P             -> L ~ P^-alpha_P
* variance-limited in data:    P fixed, D >> P, vary D    -> L - L(inf) ~ 1/D (exact excess)
* variance-limited in model:   D fixed, P >> D, vary P    -> L - L(inf) ~ 1/P (ensemble variance)

plus the kernel's eigenvalue spectrum lambda_i ~ i^-(1 + alpha_K) (whose exponent predicts
alpha_D = alpha_P = alpha_K), the dimension law (alpha_K = 3/(d-1) for this kernel), a trained
MLP panel (variance-limited in width) and a real-data panel (scikit-learn's digits).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..config import (ChapterConfig, check, check_positive_ints, derive_seed, device,
                      device_name, torch_dtype)
from ..data import RandomFeatureTeacher, load_digits_sphere, sphere
from ..fit import fit_power_law
from ..models import BatchedMLP
from ..models.random_features import (arccos_kernel, kernel_regression_losses, kernel_spectrum,
                                      relu_features, spd_solve)
from ..train import train


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch2_explaining"

    #: ambient dimension of the input sphere S^(d-1) (intrinsic dimension d - 1); our choice
    d: int = 4
    #: teacher width M (random ReLU features of the same family as the student)
    teacher_width: int = 8192
    #: test points (common to every fit of a seed)
    n_test: int = 4096
    #: (a) resolution-limited in D: kernel regression on D points
    res_D: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
    #: (b) resolution-limited in P: P nested features trained on res_P_data points (D >> P)
    res_P: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
    res_P_data: int = 8192
    #: (c) variance-limited in D: var_D_P fixed features, D >> P; excess from a population sample
    var_D_P: int = 32
    var_D: tuple[int, ...] = (128, 256, 512, 1024, 2048)
    var_D_draws: int = 8
    n_population: int = 8192
    #: (d) variance-limited in P: var_P_D fixed points, P >> D; variance over feature draws
    var_P_D: int = 16
    var_P: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    var_P_members: int = 40
    var_P_test: int = 1024
    #: resolution-limited exponents are fitted on the upper part of each scan (x >= these)
    res_D_fit_min: int = 128
    res_P_fit_min: int = 32
    #: kernel spectrum: eigenvalues of K/n on spectrum_n points, fitted on ranks in spectrum_range
    spectrum_n: int = 3000
    spectrum_range: tuple[int, int] = (10, 600)
    #: dimension law: ambient dimensions scanned with kernel regression (intrinsic = d - 1)
    dims: tuple[int, ...] = (3, 4, 5, 7)
    dim_D: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    dim_spectrum_n: int = 2000
    #: trained MLP panel: widths x nn_seeds ReLU networks on nn_D teacher points (Adam)
    nn_widths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    nn_D: int = 64
    nn_seeds: int = 6
    nn_steps: int = 2000
    nn_lr: float = 3e-3
    #: real data: scikit-learn digits, kernel regression on D of the 1797 images
    digits_D: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=(0, 1, 2), expected_seconds=90.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(10)), teacher_width=65536, n_test=16384,
                    res_D=tuple(2 ** k for k in range(5, 17)), res_P=tuple(2 ** k for k in range(3, 13)),
                    res_P_data=65536, var_D=tuple(2 ** k for k in range(7, 15)), var_D_draws=32,
                    n_population=65536, var_P=tuple(2 ** k for k in range(7, 17)),
                    var_P_members=100, res_D_fit_min=1024, res_P_fit_min=128, spectrum_n=16384,
                    spectrum_range=(30, 3000), dims=(2, 3, 4, 5, 6, 7, 8),
                    dim_D=tuple(2 ** k for k in range(6, 15)), dim_spectrum_n=8192,
                    nn_widths=(32, 64, 128, 256, 512, 1024, 2048, 4096), nn_seeds=32,
                    nn_steps=10000, expected_seconds=600.0)
        return cls(**{**base, **kw})

    def validate(self) -> None:
        super().validate()
        check(isinstance(self.d, int) and self.d >= 2, "d", "must be an integer >= 2")
        for name in ("res_D", "res_P", "var_D", "var_P", "dim_D", "nn_widths", "digits_D"):
            check_positive_ints(getattr(self, name), name)
            check(list(getattr(self, name)) == sorted(set(getattr(self, name))), name, "must increase")
        check(max(self.res_P) * 4 <= self.res_P_data, "res_P_data",
              "must be >= 4 x max(res_P) to stay away from the interpolation peak (D = P)")
        check(min(self.var_D) >= 4 * self.var_D_P, "var_D", "must be >= 4 x var_D_P (D >> P)")
        check(min(self.var_P) >= 8 * self.var_P_D, "var_P", "must be >= 8 x var_P_D (P >> D)")
        check(self.var_P_members >= 4, "var_P_members", "needs >= 4 members for a variance")
        check(self.spectrum_range[1] < self.spectrum_n, "spectrum_range", "must be below spectrum_n")
        check(len(self.dims) >= 3 and min(self.dims) >= 2, "dims", "needs >= 3 dimensions >= 2")
        check(max(self.digits_D) <= 1400, "digits_D", "must leave >= 397 of 1797 digits for testing")
        check(sum(D >= self.res_D_fit_min for D in self.res_D) >= 3, "res_D_fit_min", "fits < 3 points")
        check(sum(P >= self.res_P_fit_min for P in self.res_P) >= 3, "res_P_fit_min", "fits < 3 points")


@dataclass
class Result(TreeResult):
    d: int
    res_D: np.ndarray; res_D_loss: np.ndarray          # (S, len)
    res_P: np.ndarray; res_P_loss: np.ndarray
    var_D: np.ndarray; var_D_excess: np.ndarray        # (S, len) mean over draws
    var_P: np.ndarray; var_P_variance: np.ndarray      # (S, len)
    alpha_D: float; alpha_P: float                     # resolution-limited exponents (upper range)
    slope_var_D: float; slope_var_P: float             # log-log slopes, predicted -1
    spectrum: np.ndarray                               # (n,) eigenvalues of K/n, seed 0
    alpha_K: float                                     # from the spectrum fit: lambda_i ~ i^-(1+alpha_K)
    alpha_K_theory: float                              # 3/(d-1) asymptotically
    dims: np.ndarray; dim_alpha_D: np.ndarray; dim_alpha_K: np.ndarray
    dim_law_slope: float                               # d ln(alpha_D) / d ln(d - 1); 3/(d-1) gives -1
    dim_D: np.ndarray; dim_loss: np.ndarray            # (len(dims), len(dim_D)) seed median
    nn_widths: np.ndarray; nn_variance: np.ndarray     # ensemble variance of trained MLPs
    nn_train_loss: np.ndarray; nn_test_loss: np.ndarray  # (len(widths),) median over seeds
    slope_nn: float
    digits_D: np.ndarray; digits_loss: np.ndarray      # (S, len)
    alpha_digits: float
    wall_time_s: float
    device: str


def _fit(x, Y, x_min=None) -> float:
    return fit_power_law(np.asarray(x, float), np.median(np.atleast_2d(Y), 0), x_min=x_min).exponent


def run(config: Config | None = None) -> Result:
    """All scans of the chapter, for every seed (see the module docstring)."""
    cfg = config or Config.for_mode()
    t0 = time.perf_counter()
    dev = device()
    dt = torch_dtype("float64")
    T = lambda a: torch.as_tensor(a, dtype=dt, device=dev)  # noqa: E731
    S = len(cfg.seeds)
    res_D_loss = np.empty((S, len(cfg.res_D)))
    res_P_loss = np.empty((S, len(cfg.res_P)))
    var_D_exc = np.empty((S, len(cfg.var_D)))
    var_P_var = np.empty((S, len(cfg.var_P)))
    digits_loss = np.empty((S, len(cfg.digits_D)))
    spectrum = np.zeros(0)
    dig_X, dig_Y = load_digits_sphere()

    for si, seed in enumerate(cfg.seeds):
        rng = np.random.default_rng(derive_seed("ch2", seed))
        teacher = RandomFeatureTeacher.make(cfg.d, cfg.teacher_width, rng)
        Xte = sphere(cfg.n_test, cfg.d, rng)
        yte = T(teacher(Xte))
        Xte_t = T(Xte)

        # (a) resolution-limited in D: kernel regression, nested training sets
        Xtr = sphere(max(cfg.res_D), cfg.d, rng)
        ytr = T(teacher(Xtr))
        Xtr_t = T(Xtr)
        K = arccos_kernel(Xtr_t, Xtr_t)
        Kte = arccos_kernel(Xte_t, Xtr_t)
        res_D_loss[si] = kernel_regression_losses(K, Kte, ytr, yte, cfg.res_D)
        if si == 0:
            Ks = K[:cfg.spectrum_n, :cfg.spectrum_n] if cfg.spectrum_n <= len(K) else None
            if Ks is None:
                Xs = T(sphere(cfg.spectrum_n, cfg.d, rng))
                Ks = arccos_kernel(Xs, Xs)
            spectrum = kernel_spectrum(Ks).cpu().numpy()

        # (b) resolution-limited in P: nested features, D >> P, primal solve from one Gram matrix
        W = T(rng.standard_normal((max(cfg.res_P), cfg.d)))
        Xb = sphere(cfg.res_P_data, cfg.d, rng)
        Phi = relu_features(T(Xb), W)
        G = Phi.T @ Phi
        r = Phi.T @ T(teacher(Xb))[:, None]
        Phite = relu_features(Xte_t, W)
        for j, P in enumerate(cfg.res_P):
            theta = spd_solve(G[:P, :P], r[:P])
            res_P_loss[si, j] = float(((Phite[:, :P] @ theta)[:, 0] - yte).pow(2).mean())

        # (c) variance-limited in D: fixed P features; exact excess over the population optimum
        Wc = T(rng.standard_normal((cfg.var_D_P, cfg.d)))
        Xp = sphere(cfg.n_population, cfg.d, rng)
        Phip = relu_features(T(Xp), Wc)
        Sigma = Phip.T @ Phip / len(Xp)
        theta_star = spd_solve(Phip.T @ Phip, Phip.T @ T(teacher(Xp))[:, None])
        exc = np.zeros(len(cfg.var_D))
        for _ in range(cfg.var_D_draws):
            Xd = sphere(max(cfg.var_D), cfg.d, rng)
            Phid = relu_features(T(Xd), Wc)
            yd = T(teacher(Xd))[:, None]
            for j, D in enumerate(cfg.var_D):
                th = spd_solve(Phid[:D].T @ Phid[:D], Phid[:D].T @ yd[:D])
                e = th - theta_star
                exc[j] += float((e.T @ Sigma @ e)) / cfg.var_D_draws
        var_D_exc[si] = exc

        # (d) variance-limited in P: D fixed, P >> D; variance over feature draws (min-norm fit,
        #     kernel form), features accumulated in blocks so every P is a prefix
        Xd = T(sphere(cfg.var_P_D, cfg.d, rng))
        yd = T(teacher(Xd.cpu().numpy()))
        Xv = T(sphere(cfg.var_P_test, cfg.d, rng))
        Mb = cfg.var_P_members
        Ktr = torch.zeros((Mb, cfg.var_P_D, cfg.var_P_D), dtype=dt, device=dev)
        Kvt = torch.zeros((Mb, cfg.var_P_test, cfg.var_P_D), dtype=dt, device=dev)
        done = 0
        block = 512
        gen = torch.Generator(device="cpu").manual_seed(derive_seed("ch2-varP", seed) % 2**62)
        for j, P in enumerate(cfg.var_P):
            while done < P:
                b = min(block, P - done)
                Wb = torch.randn((Mb, b, cfg.d), generator=gen, dtype=dt).to(dev)
                Ft = relu_features(Xd, Wb)          # (Mb, D, b)
                Fv = relu_features(Xv, Wb)          # (Mb, n, b)
                Ktr += Ft @ Ft.transpose(1, 2)
                Kvt += Fv @ Ft.transpose(1, 2)
                done += b
            coef = spd_solve(Ktr / P, yd.expand(Mb, -1)[..., None])
            pred = (Kvt / P @ coef)[..., 0]          # (Mb, n)
            var_P_var[si, j] = float(pred.var(dim=0, unbiased=True).mean())

        # real data: digits, kernel regression on D images, test on the rest
        perm = rng.permutation(len(dig_X))
        tr, te = perm[:max(cfg.digits_D)], perm[max(cfg.digits_D):]
        Xg, Yg = T(dig_X[tr]), T(dig_Y[tr])
        Kg = arccos_kernel(Xg, Xg)
        Kgt = arccos_kernel(T(dig_X[te]), Xg)
        for j, D in enumerate(cfg.digits_D):
            coef = spd_solve(Kg[:D, :D], Yg[:D])
            digits_loss[si, j] = float(((Kgt[:, :D] @ coef) - T(dig_Y[te])).pow(2).sum(1).mean())

    # kernel spectrum exponent
    lo, hi = cfg.spectrum_range
    ranks = np.arange(1, len(spectrum) + 1)
    fK = fit_power_law(ranks, np.maximum(spectrum, 1e-300), lo, hi)
    alpha_K = fK.exponent - 1.0

    # dimension law: resolution-limited alpha_D (median over seeds) and the spectrum exponent per d
    dim_loss = np.empty((len(cfg.dims), len(cfg.dim_D)))
    dim_aD, dim_aK = np.empty(len(cfg.dims)), np.empty(len(cfg.dims))
    for i, dd in enumerate(cfg.dims):
        per_seed = np.empty((S, len(cfg.dim_D)))
        for si, seed in enumerate(cfg.seeds):
            rng = np.random.default_rng(derive_seed("ch2-dims", seed, dd))
            teacher = RandomFeatureTeacher.make(dd, cfg.teacher_width, rng)
            Xte = T(sphere(cfg.n_test, dd, rng))
            yte = T(teacher(Xte.cpu().numpy()))
            Xtr = sphere(max(max(cfg.dim_D), cfg.dim_spectrum_n), dd, rng)
            ytr = T(teacher(Xtr))
            Xtr_t = T(Xtr)
            K = arccos_kernel(Xtr_t, Xtr_t)
            Kte = arccos_kernel(Xte, Xtr_t)
            per_seed[si] = kernel_regression_losses(K, Kte, ytr, yte, cfg.dim_D)
            if si == 0:
                sp = kernel_spectrum(K[:cfg.dim_spectrum_n, :cfg.dim_spectrum_n]).cpu().numpy()
                r = np.arange(1, len(sp) + 1)
                dim_aK[i] = fit_power_law(r, np.maximum(sp, 1e-300), lo,
                                          min(hi, cfg.dim_spectrum_n // 4)).exponent - 1
        dim_loss[i] = np.median(per_seed, 0)
        dim_aD[i] = fit_power_law(np.asarray(cfg.dim_D, float), dim_loss[i],
                                  x_min=cfg.dim_D[len(cfg.dim_D) // 3]).exponent

    # trained MLPs: variance-limited in width (centred networks trained on nn_D teacher points)
    rng = np.random.default_rng(derive_seed("ch2-nn", cfg.seeds[0]))
    teacher = RandomFeatureTeacher.make(cfg.d, cfg.teacher_width, rng)
    Xn = sphere(cfg.nn_D, cfg.d, rng)
    Xv = sphere(cfg.var_P_test, cfg.d, rng)
    widths = [w for w in cfg.nn_widths for _ in range(cfg.nn_seeds)]
    seeds = [derive_seed("ch2-nn-init", cfg.seeds[0], w, s) % 2**62
             for w in cfg.nn_widths for s in range(cfg.nn_seeds)]
    model = BatchedMLP(widths, d_in=cfg.d, d_out=1, depth=1, activation="relu", seeds=seeds,
                       dtype=dt, device=dev)
    with torch.no_grad():
        f0_tr, f0_te = model(T(Xn)), model(T(Xv))
    # centred networks: g = f - f0 has no output at initialisation; training f on y + f0 is
    # training g on y
    y_tr = T(teacher(Xn))[None, :, None] + f0_tr
    y_te = T(teacher(Xv))[None, :, None] + f0_te
    hist = train(model, T(Xn), y_tr, steps=cfg.nn_steps, lr=cfg.nn_lr, schedule="cosine",
                 x_test=T(Xv), y_test=y_te, log_every=max(1, cfg.nn_steps // 10),
                 desc="ch2 MLP width sweep")
    with torch.no_grad():
        g = (model(T(Xv)) - f0_te)[..., 0].reshape(len(cfg.nn_widths), cfg.nn_seeds, -1)
    nn_var = g.var(dim=1, unbiased=True).mean(-1).cpu().numpy()
    nn_tr = np.median(hist.final_train.reshape(len(cfg.nn_widths), -1), 1)
    nn_te = np.median(hist.final_test.reshape(len(cfg.nn_widths), -1), 1)

    return Result(
        d=cfg.d,
        res_D=np.asarray(cfg.res_D), res_D_loss=res_D_loss,
        res_P=np.asarray(cfg.res_P), res_P_loss=res_P_loss,
        var_D=np.asarray(cfg.var_D), var_D_excess=var_D_exc,
        var_P=np.asarray(cfg.var_P), var_P_variance=var_P_var,
        alpha_D=_fit(cfg.res_D, res_D_loss, cfg.res_D_fit_min),
        alpha_P=_fit(cfg.res_P, res_P_loss, cfg.res_P_fit_min),
        slope_var_D=-_fit(cfg.var_D, var_D_exc), slope_var_P=-_fit(cfg.var_P, var_P_var),
        spectrum=spectrum, alpha_K=alpha_K, alpha_K_theory=3.0 / (cfg.d - 1),
        dims=np.asarray(cfg.dims), dim_alpha_D=dim_aD, dim_alpha_K=dim_aK,
        dim_law_slope=float(np.polyfit(np.log(np.asarray(cfg.dims) - 1.0), np.log(np.abs(dim_aD)), 1)[0]),
        dim_D=np.asarray(cfg.dim_D), dim_loss=dim_loss,
        nn_widths=np.asarray(cfg.nn_widths), nn_variance=nn_var, nn_train_loss=nn_tr,
        nn_test_loss=nn_te, slope_nn=-_fit(cfg.nn_widths, nn_var[None, :]),
        digits_D=np.asarray(cfg.digits_D), digits_loss=digits_loss,
        alpha_digits=_fit(cfg.digits_D, digits_loss, cfg.digits_D[1]),
        wall_time_s=time.perf_counter() - t0, device=device_name(dev),
    )
