"""Chapter 2: Explaining neural scaling laws (Bahri, Dyer, Kaplan, Lee & Sharma, arXiv:2102.06701).

A controlled lab in which all four scaling regimes appear in one model: a teacher-student
regression on the sphere S^(d-1), with a random-feature student (P ReLU features, closed-form
ridgeless regression, float64) whose P -> infinity limit is exact kernel regression.

* resolution-limited in data:  P = infinity, vary D       -> L ~ D^-alpha_D
* resolution-limited in model: D >> P, vary P             -> L ~ P^-alpha_P
* variance-limited in data:    P fixed, D >> P, vary D    -> L(D) - L(inf) ~ 1/D
* variance-limited in model:   D fixed, P >> D, vary P    -> E[L(P)] - L(inf) ~ 1/P

Every curve is compared with a theory computed from the exact kernel spectrum (Funk-Hecke, see
:mod:`scalinglaws.spectral`) and each teacher's exact coefficients, with no fitted parameter: the
spectral learning-curve theory of kernel regression (Bordelon, Canatar & Pehlevan 2020) for L(D),
its random-feature analogue for L(P).  Each exponent is tested against the prediction for the
nearer neighbouring dimension; the paper's stated values (3/(d-1) asymptotically, 4/d, 1) are
shown beside the finite-size theory each claim tests.  Trained networks appear twice: in the
neural-tangent parameterisation with gradient descent on the lab's teacher, and, on real data
(scikit-learn's digits), as Adam-trained MLPs whose data exponent and width variance are measured
on budget ladders.

The result is made of one part per section of the chapter: :class:`Spectrum`, :class:`Regimes`,
:class:`DimensionLaw`, :class:`TrainedWidth` and :class:`Digits`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..cache import TreeResult
from ..claims import Claim, Verdict, ladder_from, tolerance_from_gap
from ..config import ChapterConfig, check, check_finite_positive, check_positive_ints, derive_seed
from ..data import RandomFeatureTeacher, load_digits_sphere, sphere
from ..fit import bootstrap_exponent, bootstrap_interval, fit_median, fit_power_law
from ..models import BatchedMLP
from ..models.random_features import (
    arccos_kernel,
    kernel_regression_losses,
    kernel_spectrum,
    relu_features,
    spd_solve,
)
from ..spectral import arccos_spectrum, feature_learning_curve, kernel_learning_curve, teacher_power
from ..train import gradient_descent, train
from .common import Run, torch_seed

GAP_FRACTION = 0.4
SOURCE = "Bahri et al. 2021, arXiv:2102.06701v2"
#: the exponent names of the four-regime scans, and the scan each is fitted on
REGIME_EXPONENTS = ("alpha_D", "alpha_P", "var_D", "var_P")


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "ch2_explaining"
    memory_is_lower_bound: ClassVar[bool] = True
    ladders: ClassVar[tuple[str, ...]] = ("ntk_ladder", "mlp_ladder")

    #: ambient dimension of the input sphere S^(d-1) of the four-regime lab (our choice: d = 5,
    #: where the resolution-limited exponent, 0.83 on the fast scan, is far from the
    #: variance-limited 1)
    d: int = 5
    #: teacher width M (random ReLU features of the same family as the student)
    teacher_width: int = 1024
    #: highest spherical-harmonic degree kept in the spectra (the rest is a negligible tail)
    degree_max: int = 40
    #: test points (common to every fit of a seed)
    n_test: int = 4096
    #: (a) resolution-limited in D: kernel regression on D points
    res_D: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
    #: (b) resolution-limited in P: P nested features trained on res_P_data points (D >> P)
    res_P: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
    res_P_data: int = 8192
    #: (c) variance-limited in D: var_D_P fixed features, D >> P; excess over the population optimum
    var_D_P: int = 32
    var_D: tuple[int, ...] = (256, 512, 1024, 2048)
    var_D_draws: int = 16
    #: points estimating the population optimum (>= 64 x the largest D: its own error, ~P/n,
    #: adds to the measured excess)
    n_population: int = 131072
    #: (d) variance-limited in P: var_P_D fixed points, P >> D; E_W ||f_P - f_inf||^2 over
    #: var_P_members feature draws per teacher
    var_P_D: int = 16
    var_P: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    var_P_members: int = 32
    var_P_test: int = 512
    #: resolution-limited exponents are fitted on the upper part of each scan (x >= these)
    res_D_fit_min: int = 128
    res_P_fit_min: int = 32
    #: Gram-matrix check of the exact spectrum: points, and the ranks compared
    spectrum_n: int = 2000
    spectrum_top: int = 100
    #: dimension law: ambient dimensions scanned with kernel regression, training sizes, teachers
    #: per dimension (the paper: 4/d with intrinsic dimension d)
    dims: tuple[int, ...] = (3, 4, 5, 6)
    dim_D: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    dim_seeds: int = 16
    #: trained networks on the lab's teacher, variance-limited in width: widths x nn_seeds ReLU
    #: networks on nn_D points, neural-tangent parameterisation, full-batch gradient descent at
    #: rate ntk_lr on a budget ladder
    nn_widths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    nn_D: int = 64
    nn_seeds: int = 8
    ntk_lr: float = 0.5
    ntk_ladder: tuple[int, ...] = (1000, 2000, 4000)
    #: Gaussian-design control of the theory: modes and draws
    control_modes: int = 1500
    control_draws: int = 20
    #: real data: scikit-learn digits (1797 images; the last 397 of each permutation are the
    #: test set); kernel regression on digits_D of them
    digits_D: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    #: trained MLPs on the digits (1 hidden ReLU layer of mlp_width, float32, Adam at mlp_lr with
    #: a cosine schedule, squared error on one-hot labels): training sizes mlp_D, the first
    #: mlp_seeds seeds' data orders and initialisations, the budget ladder (our choices; the
    #: paper trains deep networks on CIFAR and others)
    mlp_width: int = 256
    mlp_D: tuple[int, ...] = (50, 100, 200, 400, 800, 1400)
    mlp_seeds: int = 4
    mlp_lr: float = 3e-3
    mlp_ladder: tuple[int, ...] = (250, 500, 1000)
    #: the variance-limited corner on the digits: corner_D images, widths, initialisations
    corner_D: int = 64
    corner_widths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    corner_inits: int = 8
    #: bootstrap replicates over seeds
    n_boot: int = 400

    @classmethod
    def fast(cls, **kw: Any) -> "Config":
        base = dict(mode="fast", seeds=(0, 1, 2, 3, 4, 5), expected_seconds=150.0)
        return cls(**{**base, **kw})

    @classmethod
    def full(cls, **kw: Any) -> "Config":
        base = dict(mode="full", seeds=tuple(range(16)), teacher_width=4096, n_test=16384,
                    # D to 65,536 (a 34 GB kernel matrix in float64); P to 16,384 on 131,072
                    # points (the feature matrix, 17 GB, is what caps P while keeping D >> P)
                    res_D=tuple(2 ** k for k in range(5, 17)), res_P=tuple(2 ** k for k in range(3, 15)),
                    res_P_data=131072, var_D=tuple(2 ** k for k in range(8, 15)), var_D_draws=32,
                    n_population=2 ** 20, var_P=tuple(2 ** k for k in range(7, 15)),
                    var_P_members=100, res_D_fit_min=1024, res_P_fit_min=128, spectrum_n=8192,
                    spectrum_top=400, dims=(3, 4, 5, 6, 7, 8),
                    dim_D=tuple(2 ** k for k in range(6, 15)), dim_seeds=32,
                    nn_widths=(32, 64, 128, 256, 512, 1024, 2048, 4096), nn_seeds=32,
                    ntk_ladder=(8000, 16000, 32000), control_draws=100, mlp_width=1024,
                    mlp_seeds=16, mlp_ladder=(1000, 2000, 4000, 8000),
                    corner_widths=(32, 64, 128, 256, 512, 1024, 2048, 4096), corner_inits=32,
                    expected_seconds=1800.0)
        cfg = cls(**{**base, **kw})
        return cfg if "expected_memory_gb" in kw else cfg.replace(expected_memory_gb=cfg.largest_array_gb)

    @property
    def largest_array_gb(self) -> float:
        """GB of the largest float64 array the scans build: the D x D kernel matrix of the
        largest D, or the points x features matrix of scan (b) — a lower bound on the peak."""
        return 8 * max(max(self.res_D) ** 2, self.res_P_data * max(self.res_P),
                       max(self.dim_D) ** 2) / 1e9

    @classmethod
    def smoke(cls, **kw: Any) -> "Config":
        """:meth:`full` at a size that runs on a CPU in seconds (same code path)."""
        return cls.full().replace(seeds=(0, 1, 2), teacher_width=128, degree_max=20, n_test=256,
                                  res_D=(16, 32, 64), res_P=(4, 8, 16), res_P_data=256,
                                  var_D_P=4, var_D=(32, 64), var_D_draws=2, n_population=512,
                                  var_P_D=4, var_P=(32, 64), var_P_members=4, var_P_test=64,
                                  res_D_fit_min=16, res_P_fit_min=4, spectrum_n=128,
                                  spectrum_top=40, dims=(3, 4, 5), dim_D=(16, 32, 64),
                                  dim_seeds=3, nn_widths=(8, 16, 32), nn_D=8, nn_seeds=2,
                                  ntk_ladder=(10, 20, 40), control_modes=50, control_draws=2,
                                  digits_D=(16, 32, 64), mlp_width=16, mlp_D=(16, 32, 64),
                                  mlp_seeds=2, mlp_ladder=(10, 20, 40), corner_D=16,
                                  corner_widths=(8, 16, 32), corner_inits=2, n_boot=20,
                                  expected_seconds=15.0, expected_memory_gb=None, **kw)

    def validate(self) -> None:
        super().validate()
        check(isinstance(self.d, int) and self.d >= 3, "d", "must be an integer >= 3")
        for name in ("res_D", "res_P", "var_D", "var_P", "dim_D", "nn_widths", "digits_D",
                     "dims", "ntk_ladder", "mlp_D", "mlp_ladder", "corner_widths"):
            check_positive_ints(getattr(self, name), name)
            check(list(getattr(self, name)) == sorted(set(getattr(self, name))), name, "must increase")
        check(max(self.res_P) * 4 <= self.res_P_data, "res_P_data",
              "must be >= 4 x max(res_P) to stay away from the interpolation peak (D = P)")
        check(min(self.var_D) >= 4 * self.var_D_P, "var_D", "must be >= 4 x var_D_P (D >> P)")
        check(self.n_population >= 8 * max(self.var_D), "n_population",
              "must be >= 8 x the largest var_D (its error adds to the measured excess)")
        check(min(self.var_P) >= 8 * self.var_P_D, "var_P", "must be >= 8 x var_P_D (P >> D)")
        check(self.var_P_members >= 4, "var_P_members", "needs >= 4 members for an average")
        check(len(self.dims) >= 3 and min(self.dims) >= 3, "dims",
              "needs >= 3 dimensions >= 3 (the circle's spectrum falls below float64 resolution)")
        check(self.dim_seeds >= 3, "dim_seeds", "needs >= 3 teachers per dimension")
        check(max(self.digits_D) <= 1400, "digits_D", "must leave >= 397 of 1797 digits for testing")
        check(max(self.mlp_D) <= 1400, "mlp_D", "must leave >= 397 of 1797 digits for testing")
        check(self.corner_D <= 1400, "corner_D", "must leave >= 397 of 1797 digits for testing")
        check(sum(D >= self.res_D_fit_min for D in self.res_D) >= 3, "res_D_fit_min", "fits < 3 points")
        check(sum(P >= self.res_P_fit_min for P in self.res_P) >= 3, "res_P_fit_min", "fits < 3 points")
        check(2 <= self.spectrum_top <= self.spectrum_n, "spectrum_top",
              "must lie in [2, spectrum_n]")
        for name in ("ntk_ladder", "mlp_ladder"):
            b = getattr(self, name)
            check(len(b) >= 3 and all(y == 2 * x for x, y in zip(b, b[1:])), name,
                  "must be a doubling ladder of >= 3 budgets")
        check_finite_positive(self.ntk_lr, "ntk_lr")
        check_finite_positive(self.mlp_lr, "mlp_lr")
        check(2 <= self.mlp_seeds <= len(self.seeds), "mlp_seeds",
              "needs >= 2 seeds for an interval, and no more than there are seeds")
        check(self.corner_inits >= 2, "corner_inits", "needs >= 2 initialisations for a variance")
        check(self.nn_seeds >= 2, "nn_seeds", "needs >= 2 initialisations for a variance")
        check(len(self.seeds) >= 3, "seeds", "needs >= 3 seeds (teachers)")


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Spectrum(TreeResult):
    """Setup: the arc-cosine kernel's exact spectrum on S^(d-1), and the Gram matrix of one
    sample of points beside it."""

    d: int
    mu: np.ndarray                 # (L+1,) exact eigenvalue per degree (Funk-Hecke)
    multiplicity: np.ndarray       # (L+1,) N(d, ell), integers
    gram: np.ndarray               # (n,) eigenvalues of K/n of one sample, decreasing
    top: int                       # ranks compared

    @property
    def alpha_K(self) -> float:
        """The asymptotic resolution-limited exponent of this kernel, 3/(d-1)."""
        return 3.0 / (self.d - 1)

    @property
    def levels(self) -> tuple[np.ndarray, np.ndarray]:
        """The nonzero levels in decreasing order: ``(eigenvalue, multiplicity)``."""
        mu, N = np.asarray(self.mu, float), np.asarray(self.multiplicity, np.int64)
        keep = mu > 0
        order = np.argsort(-mu[keep], kind="stable")
        return mu[keep][order], N[keep][order]

    @property
    def staircase(self) -> np.ndarray:
        """The exact eigenvalues, each repeated by its multiplicity, to the Gram's length."""
        m, N = self.levels
        n = len(self.gram)
        return np.repeat(m, np.minimum(N, n))[:n]

    @property
    def level_edges(self) -> np.ndarray:
        """Ranks (1-based) at which the staircase steps down, up to the Gram's length."""
        edges = np.cumsum(self.levels[1])
        return edges[edges < len(self.gram)]

    def _complete_levels(self) -> list[slice]:
        """Rank ranges of the levels that lie wholly within the top ``top`` ranks."""
        edges = np.concatenate([[0], np.cumsum(self.levels[1])])
        return [slice(int(a), int(b)) for a, b in zip(edges, edges[1:]) if b <= self.top]

    @property
    def n_levels(self) -> int:
        return len(self._complete_levels())

    @property
    def level_error(self) -> float:
        """Largest relative error of a level's mean Gram eigenvalue against its exact value,
        over the levels wholly within the top ranks (the finite sample splits a level, but the
        level's mean is what the operator fixes)."""
        st, g = self.staircase, np.asarray(self.gram, float)
        return float(max(abs(g[s].mean() / st[s.start] - 1) for s in self._complete_levels()))

    @property
    def rank_error(self) -> float:
        """Largest relative error of one Gram eigenvalue against the staircase over the top ranks
        (includes the splitting of each degenerate level)."""
        k = self.top
        return float(np.max(np.abs(np.asarray(self.gram[:k]) / self.staircase[:k] - 1)))


@dataclass(frozen=True)
class Regimes(TreeResult):
    """Experiment: the four regimes of one random-feature model, per teacher, with the exact
    theory curves, the neighbouring dimensions' theory (the alternatives) and the fits."""

    res_D: np.ndarray              # (len,) training points of the data scan
    res_D_loss: np.ndarray         # (S, len) kernel-regression test loss
    res_D_theory: np.ndarray       # (S, len)
    res_P: np.ndarray
    res_P_loss: np.ndarray         # (S, len) random-feature test loss (D >> P)
    res_P_theory: np.ndarray
    var_D: np.ndarray
    var_D_excess: np.ndarray       # (S, len) exact excess over the P-feature population optimum
    var_D_theory: np.ndarray       # (S, len) L(inf) P / (D - P - 1)
    var_P: np.ndarray
    var_P_excess: np.ndarray       # (S, len) E_W ||f_P - f_inf||^2 over feature draws W
    var_P_raw: np.ndarray          # (S, len) E_W[L(P)] - L(inf) of each teacher (noisy, any sign)
    var_P_mean_bias: np.ndarray    # (S,) L(average predictor) - L(kernel) at the largest P
    neighbour: dict                # "d-1"/"d+1" (+ " features") -> theory curve of that dimension
    curve_dev: dict                # "res_D"/"res_P" -> [rms ln(meas/theory), lo, hi]
    neighbour_dev: dict            # "res_D"/"res_P" -> rms ln(nearer neighbour / theory)
    exponents: dict                # REGIME_EXPONENTS + "duality" -> [value, lo, hi]
    theory_exponents: dict         # local exponents of the theory, same ranges ("neighbour ...")
    control_ratio: np.ndarray      # (len(res_D),) Gaussian-design mean loss / theory (NaN: unused)
    fit_min: np.ndarray            # (2,) res_D_fit_min, res_P_fit_min

    @property
    def ratio(self) -> np.ndarray:
        """Mean measured kernel-regression loss / mean theory, per D."""
        return self.res_D_loss.mean(0) / self.res_D_theory.mean(0)

    @property
    def control_dev(self) -> float:
        """Largest |mean loss / theory - 1| of the Gaussian-design control."""
        c = self.control_ratio[np.isfinite(self.control_ratio)]
        return float(np.max(np.abs(c - 1)))

    @property
    def duality_theory(self) -> float:
        """alpha_P - alpha_D of the finite-size theory on the scanned ranges."""
        return float(self.theory_exponents["alpha_P"] - self.theory_exponents["alpha_D"])

    @property
    def raw_exponent(self) -> float:
        """Exponent of the teacher-averaged raw excess E[L(P)] - L(inf) (NaN where the
        average is not positive at every P)."""
        m = self.var_P_raw.mean(0)
        if np.any(m <= 0):
            return float("nan")
        return fit_power_law(self.var_P, m).require().exponent

    @property
    def n_teachers(self) -> int:
        return int(self.res_D_loss.shape[0])

    @property
    def bias_mean(self) -> float:
        return float(self.var_P_mean_bias.mean())

    @property
    def bias_se(self) -> float:
        b = self.var_P_mean_bias
        return float(b.std(ddof=1) / np.sqrt(len(b)))

    @property
    def bias_negative(self) -> int:
        return int(np.sum(self.var_P_mean_bias < 0))


@dataclass(frozen=True)
class DimensionLaw(TreeResult):
    """The data scan repeated on spheres of several dimensions, each against its own exact
    theory (teachers of that dimension)."""

    dims: np.ndarray               # (n_d,)
    D: np.ndarray                  # (len,)
    loss: np.ndarray               # (n_d, teachers, len)
    theory_curve: np.ndarray       # (n_d, teachers, len) each teacher's exact-spectrum theory
    alpha: np.ndarray              # (n_d, 3) fitted exponent, lo, hi
    theory: dict                   # str(d) -> local exponent of the theory, d in dims and +-1

    @property
    def deviation(self) -> np.ndarray:
        """Per dimension: rms ln(mean measured / mean theory) over the scan (the departure of
        spherical harmonics from Gaussian features, which the theory assumes)."""
        m, t = self.loss.mean(1), self.theory_curve.mean(1)
        return np.sqrt(np.mean(np.log(m / t) ** 2, axis=1))

    @property
    def worst_point(self) -> np.ndarray:
        """Per dimension: the largest |mean measured / mean theory - 1| at one D."""
        return np.max(np.abs(self.loss.mean(1) / self.theory_curve.mean(1) - 1), axis=1)

    def neighbour(self, d: int) -> int:
        """The neighbouring dimension whose theory exponent is nearer to d's (the harder
        alternative); only dimensions with a theory value qualify."""
        own = self.theory[str(int(d))]
        cands = [k for k in (int(d) - 1, int(d) + 1) if str(k) in self.theory]
        return min(cands, key=lambda k: abs(self.theory[str(k)] - own))

    @staticmethod
    def stated(d: int) -> float:
        """The paper's stated exponent for piecewise-linear models, 4/(intrinsic dimension),
        with intrinsic dimension d - 1 for the sphere S^(d-1)."""
        return 4.0 / (int(d) - 1)


@dataclass(frozen=True)
class TrainedWidth(TreeResult):
    """Trained networks on the lab's teacher: variance over initialisations against width, in the
    neural-tangent parameterisation with gradient descent, on a budget ladder."""

    widths: np.ndarray             # (W,)
    steps: np.ndarray              # (R,) ladder
    variance: np.ndarray           # (R, W) variance over initialisations of f - f_init
    train_loss: np.ndarray         # (R, W) median training loss
    test_loss: np.ndarray          # (R, W) median test loss
    slope: np.ndarray              # (R, 3) exponent of the variance in width, lo, hi

    @property
    def drift(self) -> float:
        return float(abs(self.slope[-1, 0] - self.slope[-2, 0]))


@dataclass(frozen=True)
class Digits(TreeResult):
    """Real data: scikit-learn's digits.  Kernel regression and its exponent, the intrinsic
    dimension, trained MLPs' data exponent on a budget ladder, and the variance-limited corner in
    width at small D."""

    kernel_D: np.ndarray           # (len,)
    kernel_loss: np.ndarray        # (S, len)
    kernel_alpha: np.ndarray       # (3,) exponent, lo, hi (D >= second size)
    dimension: float               # intrinsic dimension (Levina-Bickel)
    mlp_D: np.ndarray              # (len,)
    mlp_steps: np.ndarray          # (R,)
    mlp_loss: np.ndarray           # (R, seeds, len) test loss of the trained MLPs
    mlp_train: np.ndarray          # (R, seeds, len) training loss
    mlp_alpha: np.ndarray          # (R, 3) exponent of L(D) on each rung, lo, hi
    corner_D: int
    corner_widths: np.ndarray      # (W,)
    corner_variance: np.ndarray    # (R, W) variance over initialisations of the predictions
    corner_test: np.ndarray        # (R, W) median test loss
    corner_slope: np.ndarray       # (R, 3) exponent of the variance in width, lo, hi

    @property
    def stated(self) -> float:
        """The paper's 4/d with the estimated intrinsic dimension."""
        return 4.0 / self.dimension

    @property
    def kernel_theory(self) -> float:
        """This kernel's 3/(d - 1) with the estimated intrinsic dimension as the sphere's d - 1."""
        return 3.0 / self.dimension

    @property
    def mlp_train_max(self) -> float:
        """The largest median training loss on the last rung (how far from interpolation)."""
        return float(np.max(np.median(self.mlp_train[-1], 0)))


@dataclass(frozen=True)
class Result(TreeResult):
    """Chapter 2's result: one part per section."""

    spectrum: Spectrum
    regimes: Regimes
    dimensions: DimensionLaw
    trained: TrainedWidth
    digits: Digits
    wall_time_s: float
    device: str
    timings: dict


# ----------------------------------------------------------------------------- the lab
def _spectrum(d: int, L: int):
    mu, Nl = arccos_spectrum(d, L)
    return mu, Nl, max(0.0, 1.0 - float((mu * Nl).sum()))


def _kernel_scan(run: Run, teacher: RandomFeatureTeacher, sizes, n_test: int, d: int, rng):
    """Kernel regression on nested training sets: test losses, and the kernel of the largest."""
    Xte = run.tensor(sphere(n_test, d, rng))
    Xtr = sphere(max(sizes), d, rng)
    K = arccos_kernel(run.tensor(Xtr), run.tensor(Xtr))
    Kte = arccos_kernel(Xte, run.tensor(Xtr))
    losses = kernel_regression_losses(K, Kte, run.tensor(teacher(Xtr)),
                                      run.tensor(teacher(Xte.cpu().numpy())), sizes)
    return losses, K


def _res_P(cfg: Config, run: Run, teacher, Xte, yte, rng) -> list[float]:
    """Nested features, D >> P, primal solve from one Gram matrix."""
    W = run.tensor(rng.standard_normal((max(cfg.res_P), cfg.d)))
    Xb = sphere(cfg.res_P_data, cfg.d, rng)
    Phi = relu_features(run.tensor(Xb), W)
    G = Phi.T @ Phi
    r = Phi.T @ run.tensor(teacher(Xb))[:, None]
    Phite = relu_features(Xte, W)
    return [float(((Phite[:, :P] @ spd_solve(G[:P, :P], r[:P]))[:, 0] - yte).pow(2).mean())
            for P in cfg.res_P]


def _var_D(cfg: Config, run: Run, teacher, rng) -> tuple[np.ndarray, float]:
    """P fixed features: exact excess over the population optimum, averaged over draws, and the
    population optimum's loss L(infinity)."""
    Wc = run.tensor(rng.standard_normal((cfg.var_D_P, cfg.d)))
    Xp = sphere(cfg.n_population, cfg.d, rng)
    Phip = relu_features(run.tensor(Xp), Wc)
    yp = run.tensor(teacher(Xp))[:, None]
    Sigma = Phip.T @ Phip / len(Xp)
    theta_star = spd_solve(Phip.T @ Phip, Phip.T @ yp)
    l_inf = float(((Phip @ theta_star) - yp).pow(2).mean())
    exc = np.zeros(len(cfg.var_D))
    for _ in range(cfg.var_D_draws):
        Xd = sphere(max(cfg.var_D), cfg.d, rng)
        Phid = relu_features(run.tensor(Xd), Wc)
        yd = run.tensor(teacher(Xd))[:, None]
        for j, D in enumerate(cfg.var_D):
            e = spd_solve(Phid[:D].T @ Phid[:D], Phid[:D].T @ yd[:D]) - theta_star
            exc[j] += float(e.T @ Sigma @ e) / cfg.var_D_draws
    return exc, l_inf


def _var_P(cfg: Config, run: Run, teacher, seed: int, rng):
    """D fixed points, P >> D: E_W ||f_P - f_inf||^2 over feature draws, the raw excess of the
    teacher, and the bias of the average predictor at the largest P."""
    Xd = run.tensor(sphere(cfg.var_P_D, cfg.d, rng))
    yd = run.tensor(teacher(Xd.cpu().numpy()))
    Xv = run.tensor(sphere(cfg.var_P_test, cfg.d, rng))
    yv = run.tensor(teacher(Xv.cpu().numpy()))
    kern = (arccos_kernel(Xv, Xd) @ spd_solve(arccos_kernel(Xd, Xd), yd[:, None]))[:, 0]
    l_inf = float((kern - yv).pow(2).mean())
    Mb = cfg.var_P_members
    Ktr = torch.zeros((Mb, cfg.var_P_D, cfg.var_P_D), dtype=run.dtype, device=run.device)
    Kvt = torch.zeros((Mb, cfg.var_P_test, cfg.var_P_D), dtype=run.dtype, device=run.device)
    done, block = 0, 512
    gen = torch.Generator(device="cpu").manual_seed(torch_seed("ch2-varP", seed))
    dist, bias, raw = [], [], []
    for P in cfg.var_P:  # features accumulate in blocks, so every P is a prefix of the next
        while done < P:
            b = min(block, P - done)
            Wb = torch.randn((Mb, b, cfg.d), generator=gen, dtype=run.dtype).to(run.device)
            Ft, Fv = relu_features(Xd, Wb), relu_features(Xv, Wb)
            Ktr += Ft @ Ft.transpose(1, 2)
            Kvt += Fv @ Ft.transpose(1, 2)
            done += b
        pred = (Kvt / P @ spd_solve(Ktr / P, yd.expand(Mb, -1)[..., None]))[..., 0]  # (Mb, n)
        # E_W ||f_P - f_inf||^2 equals the teacher-averaged loss excess E[L(P)] - L(inf): the
        # cross term with the kernel's residual vanishes on average over teachers (the kernel
        # interpolant is the best linear predictor of a teacher with this covariance, so its
        # error is uncorrelated with the data)
        dist.append(float((pred - kern).pow(2).mean(1).mean()))
        bias.append(float((pred.mean(0) - yv).pow(2).mean()) - l_inf)
        raw.append(float((pred - yv).pow(2).mean(1).mean()) - l_inf)
    return np.asarray(dist), np.asarray(raw), bias[-1]


def _theory_curves(cfg: Config, teacher, spec):
    mu, Nl, tail = spec
    pw = teacher_power(teacher.W, teacher.omega, cfg.degree_max)
    tp = tail * float(pw.sum())
    return (kernel_learning_curve(mu, Nl, pw, np.asarray(cfg.res_D), tail, tp),
            feature_learning_curve(mu, Nl, pw, np.asarray(cfg.res_P), cfg.res_P_data, tail, tp))


def _lab(cfg: Config, run: Run):
    """The four regimes for every seed (teacher), with each teacher's theory curves."""
    S = len(cfg.seeds)
    spec = _spectrum(cfg.d, cfg.degree_max)
    out = {k: np.empty((S, len(getattr(cfg, n)))) for k, n in (
        ("res_D", "res_D"), ("res_D_th", "res_D"), ("res_P", "res_P"), ("res_P_th", "res_P"),
        ("var_D", "var_D"), ("var_D_th", "var_D"), ("var_P", "var_P"), ("var_P_raw", "var_P"))}
    out["bias"] = np.empty(S)
    gram = np.zeros(0)
    for si, seed in enumerate(run.progress(cfg.seeds, "ch2 teachers")):
        rng = np.random.default_rng(derive_seed("ch2", seed))
        teacher = RandomFeatureTeacher.make(cfg.d, cfg.teacher_width, rng)
        out["res_D"][si], K = _kernel_scan(run, teacher, cfg.res_D, cfg.n_test, cfg.d, rng)
        if si == 0:
            m = min(cfg.spectrum_n, len(K))
            gram = kernel_spectrum(K[:m, :m]).cpu().numpy()
        out["res_D_th"][si], out["res_P_th"][si] = _theory_curves(cfg, teacher, spec)
        Xte = sphere(cfg.n_test, cfg.d, rng)
        out["res_P"][si] = _res_P(cfg, run, teacher, run.tensor(Xte), run.tensor(teacher(Xte)), rng)
        out["var_D"][si], l_inf = _var_D(cfg, run, teacher, rng)
        # least squares with P features and D samples: excess = L(inf) (P / (D - P - 1))
        out["var_D_th"][si] = l_inf * cfg.var_D_P / (np.asarray(cfg.var_D) - cfg.var_D_P - 1.0)
        out["var_P"][si], out["var_P_raw"][si], out["bias"][si] = _var_P(cfg, run, teacher, seed, rng)
    return spec, gram, out


def _neighbour_curves(cfg: Config) -> dict[str, np.ndarray]:
    """The theory curves of the neighbouring dimensions (pure-kernel teacher power, the
    alternatives of the curve and exponent claims)."""
    out = {}
    for name, dd in (("d-1", cfg.d - 1), ("d+1", cfg.d + 1)):
        if dd >= 3:
            m2, N2, t2 = _spectrum(dd, cfg.degree_max)
            out[name] = kernel_learning_curve(m2, N2, m2 * N2, np.asarray(cfg.res_D), t2, t2)
            out[name + " features"] = feature_learning_curve(
                m2, N2, m2 * N2, np.asarray(cfg.res_P), cfg.res_P_data, t2, t2)
    return out


def _rms_log(meas: np.ndarray, theory: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.log(meas / theory) ** 2)))


def curve_summaries(cfg: Config, lab: dict, neighbours: dict):
    """Point-by-point agreement of the mean curves with their theory (bootstrap over seeds), and
    the same statistic for the nearer neighbouring dimension's theory (the alternative)."""
    S = len(cfg.seeds)
    rs = np.random.default_rng(derive_seed("ch2-boot", cfg.seeds[0]))
    dev, ndev = {}, {}
    for name, th in (("res_D", "res_D_th"), ("res_P", "res_P_th")):
        def stat(idx, name=name, th=th):
            return _rms_log(lab[name][idx].mean(0), lab[th][idx].mean(0))

        dev[name] = np.asarray([stat(np.arange(S)), *bootstrap_interval(stat, S, cfg.n_boot, rs)])
        ref = lab[th].mean(0)
        ndev[name] = min(_rms_log(c, ref) for k, c in neighbours.items()
                         if k.endswith("features") == (name == "res_P"))
    return dev, ndev


def exponent_summaries(cfg: Config, lab: dict, neighbours: dict):
    """The exponent statistics: each regime's exponent with its 16-84 % bootstrap interval over
    seeds (seed-mean curves), the duality alpha_P - alpha_D from the same resampled teachers
    (paired), the theory's local exponents on the same ranges, and the neighbouring dimensions'
    exponents (the alternatives)."""
    x = {k: np.asarray(getattr(cfg, k), float) for k in ("res_D", "res_P", "var_D", "var_P")}
    fits = {"alpha_D": ("res_D", cfg.res_D_fit_min, "res_D_th"),
            "alpha_P": ("res_P", cfg.res_P_fit_min, "res_P_th"),
            "var_D": ("var_D", None, "var_D_th"), "var_P": ("var_P", None, None)}
    exps, th, samples = {}, {}, {}
    seed = derive_seed("ch2-exponents", cfg.seeds[0])
    for name, (key, lo, tkey) in fits.items():
        b = bootstrap_exponent(x[key], np.maximum(lab[key], 1e-300), n_boot=cfg.n_boot, x_min=lo,
                               aggregate=np.mean, seed=seed)
        exps[name] = np.asarray([b.exponent, b.lo, b.hi])
        samples[name] = b.samples
        if tkey is not None:
            th[name] = fit_median(x[key], lab[tkey].mean(0)[None, :], lo).require().exponent
    # the same seed draws the same teachers in every replicate: the difference is paired
    diff = samples["alpha_P"] - samples["alpha_D"]
    exps["duality"] = np.asarray([exps["alpha_P"][0] - exps["alpha_D"][0],
                                  *np.percentile(diff, [16, 84])])
    for k, c in neighbours.items():  # the neighbours' exponents, the alternatives of the claims
        xs, lo = ((cfg.res_P, cfg.res_P_fit_min) if k.endswith("features") else
                  (cfg.res_D, cfg.res_D_fit_min))
        th["neighbour " + k] = fit_power_law(xs, c, x_min=lo).require().exponent
    return exps, th


def _gaussian_control(cfg: Config, mu: np.ndarray, Nl: np.ndarray) -> np.ndarray:
    """The same theory for Gaussian features with the lab's spectrum, where it is exact
    asymptotically: mean loss of ridgeless regression / theory, per training size."""
    eta = np.sort(np.repeat(mu[mu > 0], np.minimum(Nl[mu > 0], cfg.control_modes)))
    eta = eta[::-1][:cfg.control_modes]
    rs = np.random.default_rng(derive_seed("ch2-control", cfg.seeds[0]))
    sizes = [D for D in cfg.res_D if D < cfg.control_modes // 2]
    loss = np.zeros(len(sizes))
    for _ in range(cfg.control_draws):
        a = rs.standard_normal(len(eta)) * np.sqrt(eta)
        for j, D in enumerate(sizes):
            Z = rs.standard_normal((D, len(eta)))
            c = np.linalg.solve((Z * eta) @ Z.T + 1e-12 * np.eye(D), Z @ a)
            loss[j] += np.sum((eta * (Z.T @ c) - a) ** 2) / cfg.control_draws
    theory = kernel_learning_curve(eta, np.ones(len(eta)), eta, np.asarray(sizes))
    out = np.full(len(cfg.res_D), np.nan)
    out[:len(sizes)] = loss / theory
    return out


def regimes(cfg: Config, run: Run) -> tuple[Spectrum, Regimes]:
    """The exact spectrum with one sample's Gram matrix, and the four regimes."""
    (mu, Nl, _), gram, lab = _lab(cfg, run)
    neighbours = _neighbour_curves(cfg)
    dev, ndev = curve_summaries(cfg, lab, neighbours)
    exps, th = exponent_summaries(cfg, lab, neighbours)
    spec = Spectrum(d=cfg.d, mu=mu, multiplicity=Nl, gram=gram,
                    top=min(cfg.spectrum_top, len(gram)))
    reg = Regimes(res_D=np.asarray(cfg.res_D), res_D_loss=lab["res_D"], res_D_theory=lab["res_D_th"],
                  res_P=np.asarray(cfg.res_P), res_P_loss=lab["res_P"], res_P_theory=lab["res_P_th"],
                  var_D=np.asarray(cfg.var_D), var_D_excess=lab["var_D"],
                  var_D_theory=lab["var_D_th"], var_P=np.asarray(cfg.var_P),
                  var_P_excess=lab["var_P"], var_P_raw=lab["var_P_raw"],
                  var_P_mean_bias=lab["bias"], neighbour=neighbours, curve_dev=dev,
                  neighbour_dev=ndev, exponents=exps, theory_exponents=th,
                  control_ratio=_gaussian_control(cfg, mu, Nl),
                  fit_min=np.asarray([cfg.res_D_fit_min, cfg.res_P_fit_min]))
    return spec, reg


# ----------------------------------------------------------------------------- dimension law
def dimension_exponent(cfg: Config, loss: np.ndarray) -> np.ndarray:
    """The dimension-law statistic: exponent of the seed-mean loss over the upper two thirds of
    ``dim_D`` with its 16-84 % bootstrap interval over seeds; ``loss`` is (seeds, len(dim_D))."""
    b = bootstrap_exponent(np.asarray(cfg.dim_D, float), loss, n_boot=cfg.n_boot,
                           x_min=cfg.dim_D[len(cfg.dim_D) // 3], aggregate=np.mean)
    return np.asarray([b.exponent, b.lo, b.hi])


def dimension_law(cfg: Config, run: Run) -> DimensionLaw:
    """Kernel regression against teachers of each dimension, each teacher's exact theory curve,
    and the theory's local exponent for every scanned dimension and its neighbours."""
    shape = (len(cfg.dims), cfg.dim_seeds, len(cfg.dim_D))
    loss, curve = np.empty(shape), np.empty(shape)
    alpha = np.empty((len(cfg.dims), 3))
    lo = cfg.dim_D[len(cfg.dim_D) // 3]
    DD = np.asarray(cfg.dim_D)
    theory: dict[str, float] = {}
    specs = {dd: _spectrum(dd, cfg.degree_max if dd > 3 else 2 * cfg.degree_max)
             for d0 in cfg.dims for dd in (d0 - 1, d0, d0 + 1) if dd >= 3}
    for i, dd in enumerate(run.progress(cfg.dims, "ch2 dimensions")):
        mu, Nl, tail = specs[dd]
        L = len(mu) - 1
        for s in range(cfg.dim_seeds):
            rng = np.random.default_rng(derive_seed("ch2-dims", dd, s, cfg.seeds[0]))
            teacher = RandomFeatureTeacher.make(dd, cfg.teacher_width, rng)
            loss[i, s] = _kernel_scan(run, teacher, cfg.dim_D, cfg.n_test // 4, dd, rng)[0]
            pw = teacher_power(teacher.W, teacher.omega, L)
            curve[i, s] = kernel_learning_curve(mu, Nl, pw, DD, tail, tail * float(pw.sum()))
        alpha[i] = dimension_exponent(cfg, loss[i])
    for dd, (mu, Nl, tail) in sorted(specs.items()):
        c = kernel_learning_curve(mu, Nl, mu * Nl, DD, tail, tail)
        theory[str(dd)] = fit_power_law(cfg.dim_D, c, x_min=lo).require().exponent
    return DimensionLaw(dims=np.asarray(cfg.dims), D=DD, loss=loss, theory_curve=curve,
                        alpha=alpha, theory=theory)


# ----------------------------------------------------------------------------- trained networks
def width_variance_slope(widths: np.ndarray, g: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """The variance-limited statistic of trained networks: the exponent of the variance over
    initialisations of their predictions against width, ``[value, lo, hi]`` (16-84 % bootstrap
    over initialisations, the same resample at every width).  ``g`` is
    ``(widths, inits, points...)``: what each network learned, ``f - f_init``."""
    g = np.asarray(g, float).reshape(g.shape[0], g.shape[1], -1)
    lw = np.log(np.asarray(widths, float))

    def slope(idx: np.ndarray) -> float:
        v = g[:, idx].var(axis=1, ddof=1).mean(-1)
        return float(-np.polyfit(lw, np.log(v), 1)[0])

    rs = np.random.default_rng(seed)
    S = g.shape[1]
    reps = []
    for _ in range(n_boot):
        idx = rs.integers(0, S, S)
        if len(np.unique(idx)) > 1:      # a variance needs two distinct initialisations
            reps.append(slope(idx))
    return np.asarray([slope(np.arange(S)), *np.percentile(reps, [16, 84])])


def _centred_fit(model: BatchedMLP, X: torch.Tensor, Y: torch.Tensor, Xv: torch.Tensor, fit):
    """Train ``model`` on ``Y + f_init`` (so that ``g = f - f_init`` learns ``Y``) with
    ``fit(model, X, target) -> History``; returns ``g`` on ``Xv`` and the history."""
    with torch.no_grad():
        f0, f0v = model(X), model(Xv)
    h = fit(model, X, Y[None] + f0)
    with torch.no_grad():
        g = model(Xv) - f0v
    return g, h


def trained_width(cfg: Config, run: Run) -> TrainedWidth:
    """ReLU networks on nn_D teacher points, centred at initialisation, trained in the
    neural-tangent parameterisation with full-batch gradient descent at every budget of the
    ladder: the variance over initialisations against width."""
    rng = np.random.default_rng(derive_seed("ch2-nn", cfg.seeds[0]))
    teacher = RandomFeatureTeacher.make(cfg.d, cfg.teacher_width, rng)
    Xn, Xv = run.tensor(sphere(cfg.nn_D, cfg.d, rng)), run.tensor(sphere(cfg.n_test // 4, cfg.d, rng))
    yn, yv = run.tensor(teacher(Xn.cpu().numpy()))[:, None], run.tensor(teacher(Xv.cpu().numpy()))
    W, S = len(cfg.nn_widths), cfg.nn_seeds
    widths = [w for w in cfg.nn_widths for _ in range(S)]
    init = [torch_seed("ch2-nn-init", cfg.seeds[0], w, s) for w in cfg.nn_widths for s in range(S)]
    rows = []
    for T in cfg.ntk_ladder:
        model = BatchedMLP(widths, d_in=cfg.d, d_out=1, activation="relu", seeds=init,
                           dtype=run.dtype, device=run.device)
        g, h = _centred_fit(model, Xn, yn, Xv, lambda m, x, t, T=T: gradient_descent(
            m, x, t, steps=T, lr=cfg.ntk_lr, desc=f"ch2 NTK widths, {T} steps"))
        g = g[..., 0].reshape(W, S, -1).cpu().numpy()
        test = np.median(((g - yv.cpu().numpy()) ** 2).mean(-1), 1)
        rows.append((g.var(1, ddof=1).mean(-1), np.median(h.final_train.reshape(W, S), 1), test,
                     width_variance_slope(np.asarray(cfg.nn_widths), g, cfg.n_boot,
                                          derive_seed("ch2-nn-boot", T))))
    var, trn, test, slope = (np.stack(r) for r in zip(*rows))
    return TrainedWidth(widths=np.asarray(cfg.nn_widths), steps=np.asarray(cfg.ntk_ladder),
                        variance=var, train_loss=trn, test_loss=test, slope=slope)


def intrinsic_dimension(X: np.ndarray, k: int = 10) -> float:
    """Levina & Bickel's maximum-likelihood estimate of the intrinsic dimension from the
    distances to each point's k nearest neighbours (averaged over points, MacKay-Ghahramani)."""
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(X).query(X, k=k + 1)
    dist = np.maximum(dist[:, 1:], 1e-300)
    inv = np.log(dist[:, -1:] / dist[:, :-1]).sum(1) / (k - 1)
    return float(1.0 / np.mean(inv))


def data_exponent(D: np.ndarray, loss: np.ndarray, n_boot: int, x_min: float | None = None
                  ) -> np.ndarray:
    """The resolution-limited statistic on real data: the exponent of the seed-mean test loss
    against the training size, ``[value, lo, hi]`` (16-84 % bootstrap over seeds)."""
    b = bootstrap_exponent(np.asarray(D, float), loss, n_boot=n_boot, x_min=x_min,
                           aggregate=np.mean)
    return np.asarray([b.exponent, b.lo, b.hi])


def _digit_splits(cfg: Config, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One permutation per seed: the first 1400 images to train on (nested prefixes), the
    remaining ones to test on."""
    out = []
    for seed in cfg.seeds:
        perm = np.random.default_rng(derive_seed("ch2-digits", seed)).permutation(n)
        out.append((perm[:1400], perm[1400:]))
    return out


def digits(cfg: Config, run: Run) -> Digits:
    """Kernel regression on the digits, their intrinsic dimension, trained MLPs at every budget
    of the ladder (test loss against D), and the width variance at small D."""
    X, Y = load_digits_sphere()
    splits = _digit_splits(cfg, len(X))
    S = len(cfg.seeds)
    kloss = np.empty((S, len(cfg.digits_D)))
    for si, (tr, te) in enumerate(splits):
        Xg, Yg = run.tensor(X[tr]), run.tensor(Y[tr])
        Kg, Kgt = arccos_kernel(Xg, Xg), arccos_kernel(run.tensor(X[te]), Xg)
        for j, D in enumerate(cfg.digits_D):
            coef = spd_solve(Kg[:D, :D], Yg[:D])
            kloss[si, j] = float(((Kgt[:, :D] @ coef) - run.tensor(Y[te])).pow(2).mean())
    kalpha = data_exponent(cfg.digits_D, kloss, cfg.n_boot, cfg.digits_D[1])
    # trained MLPs (float32): each seed its own data order and initialisation; one batch per D
    ms = splits[:cfg.mlp_seeds]
    R, MS = len(cfg.mlp_ladder), len(ms)
    mlp_loss, mlp_train = np.empty((R, MS, len(cfg.mlp_D))), np.empty((R, MS, len(cfg.mlp_D)))
    for r, T in enumerate(cfg.mlp_ladder):
        for j, D in enumerate(run.progress(cfg.mlp_D, f"ch2 digit MLPs, {T} steps")):
            for si, (tr, te) in enumerate(ms):
                model = BatchedMLP([cfg.mlp_width], d_in=X.shape[1], d_out=Y.shape[1],
                                   activation="relu", seeds=[torch_seed("ch2-mlp", si, D)],
                                   dtype=torch.float32, device=run.device)
                h = train(model, X[tr[:D]], Y[tr[:D]], steps=T, lr=cfg.mlp_lr, schedule="cosine",
                          x_test=X[te], y_test=Y[te], log_every=T, engine="eager", progress=False)
                mlp_loss[r, si, j], mlp_train[r, si, j] = h.final_test[0], h.final_train[0]
    mlp_alpha = np.stack([data_exponent(cfg.mlp_D, mlp_loss[r], cfg.n_boot) for r in range(R)])
    # the variance-limited corner: corner_D images, widths >> D, several initialisations
    tr, te = splits[0]
    f32 = dict(dtype=torch.float32, device=run.device)
    Xn, Yn = torch.tensor(X[tr[:cfg.corner_D]], **f32), torch.tensor(Y[tr[:cfg.corner_D]], **f32)
    Xv, Yv = torch.tensor(X[te], **f32), Y[te]
    Wn, I = len(cfg.corner_widths), cfg.corner_inits
    widths = [w for w in cfg.corner_widths for _ in range(I)]
    init = [torch_seed("ch2-corner", w, i) for w in cfg.corner_widths for i in range(I)]
    cvar, ctest, cslope = [], [], []
    for T in cfg.mlp_ladder:
        model = BatchedMLP(widths, d_in=X.shape[1], d_out=Y.shape[1], activation="relu",
                           seeds=init, **f32)
        g, _ = _centred_fit(model, Xn, Yn, Xv, lambda m, x, t, T=T: train(
            m, x, t, steps=T, lr=cfg.mlp_lr, schedule="cosine", log_every=T, engine="eager",
            desc=f"ch2 digit widths, {T} steps"))
        g = g.reshape(Wn, I, *g.shape[1:]).cpu().numpy()
        cvar.append(g.var(1, ddof=1).mean((-1, -2)))
        ctest.append(np.median(((g - Yv) ** 2).mean((-1, -2)), 1))
        cslope.append(width_variance_slope(np.asarray(cfg.corner_widths), g, cfg.n_boot,
                                           derive_seed("ch2-corner-boot", T)))
    return Digits(kernel_D=np.asarray(cfg.digits_D), kernel_loss=kloss, kernel_alpha=kalpha,
                  dimension=intrinsic_dimension(X), mlp_D=np.asarray(cfg.mlp_D),
                  mlp_steps=np.asarray(cfg.mlp_ladder), mlp_loss=mlp_loss, mlp_train=mlp_train,
                  mlp_alpha=mlp_alpha, corner_D=int(cfg.corner_D),
                  corner_widths=np.asarray(cfg.corner_widths), corner_variance=np.stack(cvar),
                  corner_test=np.stack(ctest), corner_slope=np.stack(cslope))


def run(config: Config | None = None) -> Result:
    """All scans of the chapter (see the module docstring)."""
    r = Run.start(Config, config, precision="float64")
    cfg: Config = r.config
    t = r.elapsed
    spec, reg = regimes(cfg, r)
    r.lap("regimes", r.t0 + t)
    t = r.elapsed
    dims = dimension_law(cfg, r)
    r.lap("dimensions", r.t0 + t)
    t = r.elapsed
    tw = trained_width(cfg, r)
    r.lap("trained", r.t0 + t)
    t = r.elapsed
    dg = digits(cfg, r)
    r.lap("digits", r.t0 + t)
    return Result(spectrum=spec, regimes=reg, dimensions=dims, trained=tw, digits=dg,
                  wall_time_s=r.elapsed, device=r.device_name, timings=dict(r.timings))


# ----------------------------------------------------------------------------- claims
#: the chapter's title, as its page heads it (tests/test_book.py checks the two agree)
TITLE = 'Explaining neural scaling laws: four regimes'

#: the tests that hold each claim's two controls (planted inputs through the chapter's statistic)
CONTROLS = {**{k: "tests/test_controls.py::test_ch2_controls"
               for k in ("curve_D", "curve_P", "alpha_D", "alpha_P", "duality", "variance_data",
                         "variance_model", *(f"dimension_{d}" for d in range(3, 9)))},
            **{k: "tests/test_controls.py::test_ch2_trained"
               for k in ("ntk_width", "digits_data", "digits_width")}}


def _nearer(te: dict, own: float, names: tuple[str, ...]) -> tuple[str, float]:
    """The neighbour whose theory exponent is nearer to ``own`` (the harder alternative)."""
    k = min((n for n in names if n in te), key=lambda n: abs(te[n] - own))
    return k, float(te[k])


def _exponent_claim(key: str, e, tested: float, alt: float, **kw) -> Claim:
    return Claim(key=key, paper_value=float(tested), measured=float(e[0]),
                 interval=(float(e[1]), float(e[2])), alternative_value=float(alt),
                 tolerance=tolerance_from_gap(tested, alt, GAP_FRACTION),
                 tolerance_source=f"{GAP_FRACTION} × the gap", **kw)


def claims(result: Result, config: Config) -> list[Claim]:
    """The four regimes against the exact finite-size theory, the duality, and the dimension law,
    each against the nearer neighbouring dimension (or the other regime's exponent); trained
    networks on the lab's teacher and on the digits, each on its budget ladder."""
    ch, reg, dl = config.chapter, result.regimes, result.dimensions
    te, d = reg.theory_exponents, result.spectrum.d
    aK = result.spectrum.alpha_K
    out = []
    for name, what in (("res_D", "data curve L(D) of kernel regression"),
                       ("res_P", "model curve L(P) of random features")):
        dev, alt = reg.curve_dev[name], reg.neighbour_dev[name]
        out.append(Claim(
            key=f"curve_{name[-1]}", statement=f"the resolution-limited {what} is set by the "
            "kernel's spectrum: predicted point by point from the exact eigenvalues and the teacher",
            source=SOURCE + ", abstract (spectrum of certain kernels); theory: Bordelon et al. "
            "2020 and its random-feature equivalent", paper_value=0.0, measured=float(dev[0]),
            interval=(float(dev[1]), float(dev[2])),
            alternative="the same theory with the nearer neighbouring dimension's spectrum",
            alternative_value=alt, tolerance=tolerance_from_gap(0.0, alt, GAP_FRACTION),
            tolerance_source=f"{GAP_FRACTION} × the neighbour's deviation",
            expected=Verdict.REPRODUCED, chapter=ch, quantity="rms ln(measured / theory)",
            figure="fig-ch2-regimes"))
    for key, scan, nb in (("alpha_D", "data", ("neighbour d-1", "neighbour d+1")),
                          ("alpha_P", "model", ("neighbour d-1 features", "neighbour d+1 features"))):
        k, a = _nearer(te, te[key], nb)
        out.append(_exponent_claim(
            key, reg.exponents[key], te[key], a,
            statement=f"resolution-limited in {scan}: L ∝ {'D' if scan == 'data' else 'P'}"
            f"^(−α_{key[-1]}) with the exponent the kernel's spectrum predicts",
            source=SOURCE + ", abstract", alternative=f"the exponent for d = "
            f"{d - 1 if '-1' in k else d + 1}, the nearer neighbouring dimension",
            expected=(Verdict.REPRODUCED if key == "alpha_D" else Verdict.INCONCLUSIVE),
            chapter=ch, quantity=f"local exponent on the upper part of the {scan} scan",
            figure="fig-ch2-regimes", stated_value=aK, stated_as="3/(d−1), asymptotic"))
    out.append(_exponent_claim(
        "duality", reg.exponents["duality"], reg.duality_theory, 0.0,
        statement="duality: α_D and α_P are set by one spectrum, so at finite size they differ "
        "by what the theory of that spectrum predicts", source=SOURCE + ", abstract (duality)",
        alternative="exact equality at these sizes", expected=Verdict.INCONCLUSIVE, chapter=ch,
        quantity="α_P − α_D (same teachers, paired bootstrap)", figure="fig-ch2-regimes",
        stated_value=0.0, stated_as="α_D = α_P, asymptotic"))
    # in data the paper's 1/D is the large-D limit of least squares on P features; at finite D the
    # excess is L(inf) P / (D - P - 1) (exact for Gaussian features), whose local exponent on the
    # scanned range is the value tested.  In P the asymptotic 1 applies as it stands.
    out.append(_exponent_claim(
        "variance_data", reg.exponents["var_D"], te["var_D"], te["alpha_D"],
        statement="variance-limited in data: the loss excess over the infinite-data limit falls "
        "as 1/D (at finite D: P/(D − P − 1))", source=SOURCE + ", abstract",
        alternative="resolution-limited scaling, this lab's α_D", expected=Verdict.REPRODUCED,
        chapter=ch, quantity="exponent of the teacher-averaged excess", figure="fig-ch2-regimes",
        stated_value=1.0, stated_as="1/D"))
    out.append(_exponent_claim(
        "variance_model", reg.exponents["var_P"], 1.0, aK,
        statement="variance-limited in model size: the loss excess over the infinite-width "
        "limit falls as 1/P", source=SOURCE + ", abstract",
        alternative="resolution-limited scaling, α_K = 3/(d−1)", expected=Verdict.REPRODUCED,
        chapter=ch, quantity="exponent of E_W‖f_P − f_∞‖², which equals the teacher-averaged "
        "loss excess E[L(P)] − L(∞) in expectation", figure="fig-ch2-regimes"))
    for i, dd in enumerate(dl.dims):
        dd = int(dd)
        nb = dl.neighbour(dd)
        out.append(_exponent_claim(
            f"dimension_{dd}", dl.alpha[i], dl.theory[str(dd)], dl.theory[str(nb)],
            statement="the resolution-limited exponent is set by the intrinsic dimension of the "
            "data", source=SOURCE + ", abstract; 4/d for piecewise-linear models",
            alternative=f"the prediction for d = {nb}, the nearer neighbouring dimension",
            expected=Verdict.REPRODUCED if dd in (3, 4) else (Verdict.REPRODUCED, Verdict.INCONCLUSIVE),
            chapter=ch, quantity=f"α_D on S^{dd - 1}", figure="fig-ch2-dims",
            stated_value=dl.stated(dd), stated_as=f"4/d with d = {dd - 1}",
            notes="" if dd in (3, 4) else "from d = 5 on, the nearer neighbour's exponent lies "
            "within a few interval widths: other teachers can leave it inconclusive in fast mode"))
    tw, dg = result.trained, result.digits
    out.append(_exponent_claim(
        "ntk_width", tw.slope[-1], 1.0, aK,
        statement="variance-limited in width: trained wide networks' spread over "
        "initialisations falls as 1/width", source=SOURCE + ", abstract (infinite-width limit)",
        alternative="resolution-limited scaling, α_K = 3/(d−1)", expected=Verdict.INCONCLUSIVE,
        chapter=ch, quantity=f"exponent of the variance over initialisations in width, "
        f"NTK parameterisation, gradient descent, {int(tw.steps[-1])} steps", trained=True,
        ladder=ladder_from("NTK variance exponent", tuple(int(s) for s in tw.steps), tw.slope),
        figure="fig-ch2-trained"))
    out.append(_exponent_claim(
        "digits_data", dg.mlp_alpha[-1], dg.stated, 1.0,
        statement="trained networks on real data are resolution-limited in D, with an exponent "
        "set by the data's intrinsic dimension (≈ 4/d)", source=SOURCE + ", abstract and Fig. 1",
        alternative="variance-limited: 1/D", expected=Verdict.REPRODUCED, chapter=ch,
        quantity=f"exponent of trained MLPs' test loss in D, digits, "
        f"{int(dg.mlp_steps[-1])} Adam steps", trained=True,
        ladder=ladder_from("MLP data exponent", tuple(int(s) for s in dg.mlp_steps), dg.mlp_alpha),
        figure="fig-ch2-digits",
        notes="4/d with the intrinsic dimension estimated from nearest-neighbour distances"))
    out.append(_exponent_claim(
        "digits_width", dg.corner_slope[-1], 1.0, float(dg.kernel_alpha[0]),
        statement="variance-limited in width at small D: the spread over initialisations of "
        "trained networks falls as 1/width", source=SOURCE + ", abstract and Fig. 1",
        alternative="resolution-limited: the digits kernel's exponent",
        expected=(Verdict.INCONCLUSIVE, Verdict.NOT_REPRODUCED), chapter=ch,
        quantity=f"exponent of the variance over initialisations in width, D = {dg.corner_D} "
        f"digits, Adam, {int(dg.mlp_steps[-1])} steps", trained=True,
        ladder=ladder_from("variance exponent in width", tuple(int(s) for s in dg.mlp_steps),
                           dg.corner_slope),
        figure="fig-ch2-digits"))
    return out


# ----------------------------------------------------------------------------- prose
def prose_numbers(result: Result, config: Config) -> dict[str, float]:
    """Every number the chapter's prose quotes, by name (glued as ``ch2_<name>``): reads of the
    result's parts and of the configs."""
    sp, reg, dl, tw, dg = (result.spectrum, result.regimes, result.dimensions, result.trained,
                           result.digits)
    e, te = reg.exponents, reg.theory_exponents
    fast, full = Config.fast(), Config.full()
    out = {
        "d": sp.d, "M": config.teacher_width, "seconds": result.wall_time_s,
        "fast_minutes": fast.expected_seconds / 60, "fast_teachers": len(fast.seeds),
        "fast_D_max": max(fast.res_D), "fast_P_max": max(fast.res_P),
        "full_D_max": max(full.res_D), "full_P_max": max(full.res_P),
        "full_teachers": len(full.seeds), "full_dim_lo": min(full.dims),
        "full_dim_hi": max(full.dims), "full_minutes": full.expected_seconds / 60,
        "full_gb": full.largest_array_gb, "full_width": max(full.nn_widths),
        "full_steps": full.ntk_ladder[-1],
        "spec_n": len(sp.gram), "spec_top": sp.top, "spec_levels": sp.n_levels,
        "spec_level_err": sp.level_error, "spec_rank_err": sp.rank_error, "alpha_K": sp.alpha_K,
        "var_D_P": config.var_D_P, "var_P_D": config.var_P_D, "res_P_ratio":
            config.res_P_data / max(config.res_P), "var_D_ratio": min(config.var_D) / config.var_D_P,
        "var_P_ratio": min(config.var_P) / config.var_P_D,
        "pop_ratio": config.n_population / max(config.var_D),
        "dev_res_D": reg.curve_dev["res_D"][0], "ndev_res_D": reg.neighbour_dev["res_D"],
        "dev_res_P": reg.curve_dev["res_P"][0], "ndev_res_P": reg.neighbour_dev["res_P"],
        "ratio_lo": float(reg.ratio.min()), "ratio_hi": float(reg.ratio.max()),
        "control_dev": reg.control_dev, "res_D_min": reg.fit_min[0], "res_P_min": reg.fit_min[1],
        "alpha_D_th": te["alpha_D"], "alpha_P_th": te["alpha_P"], "var_D_th": te["var_D"],
        "duality_th": reg.duality_theory, "raw_exp": reg.raw_exponent,
        "n_teachers": reg.n_teachers, "bias_mean": reg.bias_mean, "bias_se": reg.bias_se,
        "bias_neg": reg.bias_negative,
        "n_dims": len(dl.dims), "dim_first": dl.dims[0], "dim_last": dl.dims[-1],
        "dim_dev_first": dl.deviation[0], "dim_dev_last": dl.deviation[-1],
        "dim_worst_last": 100 * dl.worst_point[-1], "dim_teachers": dl.loss.shape[1],
        "nn_D": config.nn_D, "nn_seeds": config.nn_seeds, "ntk_lo": tw.steps[0],
        "ntk_hi": tw.steps[-1], "ntk_drift": tw.drift, "ntk_train": float(tw.train_loss[-1].max()),
        "digits_dim": dg.dimension, "digits_pred4": dg.stated, "digits_pred3": dg.kernel_theory,
        "mlp_width": config.mlp_width, "mlp_seeds": config.mlp_seeds, "mlp_lo": dg.mlp_steps[0],
        "mlp_hi": dg.mlp_steps[-1], "mlp_D_lo": dg.mlp_D[0], "mlp_D_hi": dg.mlp_D[-1],
        "mlp_train": dg.mlp_train_max, "corner_D": dg.corner_D,
        "corner_w_lo": dg.corner_widths[0], "corner_w_hi": dg.corner_widths[-1],
        "corner_inits": config.corner_inits,
    }
    for k in (*REGIME_EXPONENTS, "duality"):
        out.update({k: e[k][0], f"{k}_lo": e[k][1], f"{k}_hi": e[k][2]})
    for k, v in (("ntk", tw.slope), ("mlp", dg.mlp_alpha), ("corner", dg.corner_slope)):
        for r, row in enumerate(v):
            out[f"{k}_{r}"] = row[0]
        out.update({f"{k}": v[-1, 0], f"{k}_ci_lo": v[-1, 1], f"{k}_ci_hi": v[-1, 2]})
    out.update({"kernel_digits": dg.kernel_alpha[0], "kernel_digits_lo": dg.kernel_alpha[1],
                "kernel_digits_hi": dg.kernel_alpha[2]})
    return {k: float(v) for k, v in out.items()}


def summary(result: Result) -> str:
    """The run in a few lines of text."""
    reg, dl, tw, dg = result.regimes, result.dimensions, result.trained, result.digits
    e, te = reg.exponents, reg.theory_exponents
    rung = lambda v, s: ", ".join(f"{x[0]:.3f} [{x[1]:.3f}, {x[2]:.3f}]" for x in v) + \
        f" at {', '.join(str(int(t)) for t in s)} steps"  # noqa: E731
    return "\n".join([
        f"{reg.n_teachers} teachers on S^{result.spectrum.d - 1}, all scans in "
        f"{result.wall_time_s:.0f} s on {result.device}",
        f"measured / theory, kernel regression: {np.round(reg.ratio, 3)}",
        f"Gaussian-design control, mean loss / theory: "
        f"{np.round(reg.control_ratio[np.isfinite(reg.control_ratio)], 3)}",
        f"α_D {e['alpha_D'][0]:.3f} (theory {te['alpha_D']:.3f}), α_P {e['alpha_P'][0]:.3f} "
        f"(theory {te['alpha_P']:.3f}), duality {e['duality'][0]:.3f} (theory "
        f"{reg.duality_theory:.3f}); variance-limited {e['var_D'][0]:.3f} (data), "
        f"{e['var_P'][0]:.3f} (model)",
        "dimension law: " + ", ".join(f"d = {int(d)}: {a[0]:.3f} (theory {dl.theory[str(int(d))]:.3f})"
                                      for d, a in zip(dl.dims, dl.alpha)),
        f"NTK variance exponent in width: {rung(tw.slope, tw.steps)}",
        f"digits: kernel α {dg.kernel_alpha[0]:.3f}, intrinsic dimension {dg.dimension:.2f}; "
        f"trained MLPs α {rung(dg.mlp_alpha, dg.mlp_steps)}",
        f"digits, variance exponent in width at D = {dg.corner_D}: "
        f"{rung(dg.corner_slope, dg.mlp_steps)}"])
