"""Chapter 2 beyond its claims: the numbers its prose quotes (properties of its parts, checked on
toy inputs against hand computations), the exact multiplicities and the spectrum's level
structure, the trained-network statistics, and the decided verdicts on one more doubling."""
from __future__ import annotations

import dataclasses
from math import comb

import numpy as np
import pytest
import torch
from chapter_helpers import blank

from scalinglaws.experiments import ch2_explaining as ch2


def test_multiplicities_are_exact_integers():
    """N(d, l) = C(l+d-1, d-1) - C(l+d-3, d-1), an independent integer formula; truncating the
    float form (13.9999... -> 13) would fail here."""
    from scalinglaws.spectral import arccos_spectrum, harmonic_degeneracy

    for d in range(3, 9):
        got = harmonic_degeneracy(d, np.arange(41))
        assert got.dtype.kind == "i"
        want = [comb(l + d - 1, d - 1) - (comb(l + d - 3, d - 1) if l >= 2 else 0) for l in range(41)]
        assert got.tolist() == want
    assert arccos_spectrum(5, 6)[1].tolist() == [1, 5, 14, 30, 55, 91, 140]


def test_spectrum_part_against_a_hand_computation():
    # levels 0.5 (x1), 0.2 (x3), 0.05 (x2, odd degree vanished at 0) ; a Gram of 5 ranks
    sp = blank(ch2.Spectrum, d=5, mu=np.array([0.5, 0.2, 0.0, 0.05]),
               multiplicity=np.array([1, 3, 7, 2]), gram=np.array([0.55, 0.25, 0.2, 0.15, 0.05]),
               top=4)
    np.testing.assert_allclose(sp.staircase, [0.5, 0.2, 0.2, 0.2, 0.05])
    assert sp.level_edges.tolist() == [1, 4]
    assert sp.n_levels == 2          # levels [0, 1) and [1, 4) lie within the top 4 ranks
    assert sp.level_error == pytest.approx(0.1)                        # 0.55 / 0.5 - 1
    assert sp.rank_error == pytest.approx(0.25)                        # 0.25 / 0.2 - 1
    assert sp.alpha_K == pytest.approx(0.75)


def test_the_staircase_is_the_gram_spectrums_level_structure():
    """The largest gaps between consecutive eigenvalues of one sample's Gram matrix fall exactly
    at the staircase's steps (the ends of the exact degenerate levels)."""
    from scalinglaws.data import sphere
    from scalinglaws.models.random_features import arccos_kernel, kernel_spectrum
    from scalinglaws.spectral import arccos_spectrum

    d, n = 5, 1500
    mu, N = arccos_spectrum(d, 30)
    X = torch.as_tensor(sphere(n, d, 3))
    sp = blank(ch2.Spectrum, d=d, mu=mu, multiplicity=N,
               gram=kernel_spectrum(arccos_kernel(X, X)).numpy(), top=100)
    edges = [e for e in sp.level_edges if e < 100]
    assert edges == [1, 6, 20, 75]
    gaps = sp.gram[:99] / sp.gram[1:100]
    assert sorted(np.argsort(gaps)[-len(edges):] + 1) == edges
    assert sp.level_error < 0.02


def test_regimes_properties():
    reg = blank(ch2.Regimes, res_D_loss=np.array([[2.0, 1.0], [4.0, 1.0]]),
                res_D_theory=np.array([[3.0, 2.0], [3.0, 2.0]]),
                control_ratio=np.array([1.05, 0.9, np.nan]),
                theory_exponents={"alpha_D": 0.8, "alpha_P": 0.9},
                var_P=np.array([10.0, 100.0]), var_P_raw=np.array([[0.1, 0.01], [0.3, 0.03]]),
                var_P_mean_bias=np.array([1.0, -1.0, 3.0]))
    np.testing.assert_allclose(reg.ratio, [1.0, 0.5])
    assert reg.control_dev == pytest.approx(0.1) and reg.duality_theory == pytest.approx(0.1)
    assert reg.raw_exponent == pytest.approx(1.0) and reg.n_teachers == 2
    assert reg.bias_mean == pytest.approx(1.0) and reg.bias_negative == 1
    assert reg.bias_se == pytest.approx(2.0 / np.sqrt(3))
    neg = dataclasses.replace(reg, var_P_raw=np.array([[0.1, -0.02], [0.1, -0.02]]))
    assert np.isnan(neg.raw_exponent)          # the average is not positive everywhere


def test_dimension_law_properties():
    dl = blank(ch2.DimensionLaw, dims=np.array([4, 5]),
               loss=np.array([[[2.0, 1.0]], [[1.0, 1.0]]]),
               theory_curve=np.array([[[1.0, 1.0]], [[1.0, 1.0]]]),
               theory={"3": 1.5, "4": 1.0, "5": 0.8, "6": 0.7})
    np.testing.assert_allclose(dl.deviation, [np.log(2) / np.sqrt(2), 0.0])
    np.testing.assert_allclose(dl.worst_point, [1.0, 0.0])
    assert dl.neighbour(4) == 5 and dl.neighbour(5) == 6      # 0.2 < 0.5; 0.1 < 0.2
    assert dl.stated(5) == pytest.approx(1.0)                  # 4 / (5 - 1)


def test_trained_parts_properties():
    tw = blank(ch2.TrainedWidth, slope=np.array([[0.8, 0.7, 0.9], [0.75, 0.7, 0.8]]))
    assert tw.drift == pytest.approx(0.05)
    dg = blank(ch2.Digits, dimension=8.0,
               mlp_train=np.array([[[0.0, 0.0]], [[1e-4, 3e-4]], ]).reshape(2, 1, 2))
    assert dg.stated == 0.5 and dg.kernel_theory == 0.375 and dg.mlp_train_max == 3e-4


def test_width_variance_slope_recovers_planted_exponents():
    rng = np.random.default_rng(0)
    w = np.array([32, 64, 128, 256])
    for e in (0.5, 1.0):
        g = rng.standard_normal((4, 64, 300)) * np.sqrt(w[:, None, None] ** -e)
        v, lo, hi = ch2.width_variance_slope(w, g, 200, 1)
        assert v == pytest.approx(e, abs=0.03) and lo < v < hi


def test_data_exponent_recovers_a_planted_exponent():
    D = np.array([50.0, 100, 200, 400])
    rng = np.random.default_rng(1)
    v, lo, hi = ch2.data_exponent(D, D ** -0.5 * np.exp(0.01 * rng.standard_normal((4, 4))), 300)
    assert v == pytest.approx(0.5, abs=0.02) and lo <= v <= hi


def test_intrinsic_dimension_of_a_flat_cube():
    X = np.random.default_rng(2).uniform(size=(4000, 3)) @ np.random.default_rng(3).normal(size=(3, 10))
    assert ch2.intrinsic_dimension(X) == pytest.approx(3.0, abs=0.3)


@pytest.mark.slow(chapter="ch2_explaining")
def test_decided_trained_verdicts_survive_one_more_doubling():
    """The trained-network ladders one doubling longer (the lab, which trains nothing, at toy
    size): every trained claim that the book records as decided keeps its verdict."""
    from scalinglaws.claims import assert_verdicts, decided
    from scalinglaws.experiments.common import Run

    cfg = ch2.Config.fast().doubled()
    run = Run.start(ch2.Config, cfg, precision="float64")
    spec, reg = ch2.regimes(ch2.Config.smoke(), run)
    r = ch2.Result(spectrum=spec, regimes=reg, dimensions=ch2.dimension_law(ch2.Config.smoke(), run),
                   trained=ch2.trained_width(cfg, run), digits=ch2.digits(cfg, run),
                   wall_time_s=0.0, device="", timings={})
    held = decided(c for c in ch2.claims(r, cfg) if c.trained)
    assert held, "no trained claim is decided: nothing to hold"
    assert_verdicts(held)
