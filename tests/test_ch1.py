"""Chapter 1 beyond its claims: the numbers its prose quotes (properties of its parts, checked on
toy inputs against hand computations), its statistics, and the digitised figures."""
from __future__ import annotations

import numpy as np
import pytest
from chapter_helpers import blank

from scalinglaws.data import song2024
from scalinglaws.experiments import ch1_resource_model as ch1


def test_digitised_figures_interpolate_and_refuse_what_they_lack():
    assert song2024.fig2b_neurons([1.0, 512])[0] == pytest.approx(2.0)
    assert song2024.fig2b_neurons([512])[0] == pytest.approx(66.2)
    # halfway (in log alpha) between two readings is their geometric mean
    a0, n0 = song2024.FIG2B[20]
    a1, n1 = song2024.FIG2B[21]
    assert song2024.fig2b_neurons([np.sqrt(a0 * a1)])[0] == pytest.approx(np.sqrt(n0 * n1))
    with pytest.raises(ValueError, match="Fig. 2B"):
        song2024.fig2b_neurons([1024])
    assert song2024.fig3c_ratio(0.9, [128, 512]).tolist() == [4.42, 5.13]
    with pytest.raises(ValueError, match="beta"):
        song2024.fig3c_ratio(0.8, [128])
    assert np.all(np.diff(song2024.FIG2B[:, 0]) > 0)


def test_paper_slope_is_the_chapters_rule_on_fig_2c():
    p = song2024.FIG2C[song2024.FIG2C[:, 0] >= 4]
    assert ch1.paper_slope(4.0) == pytest.approx(np.polyfit(np.log(p[:, 0]), np.log(p[:, 1]), 1)[0])
    assert ch1.paper_slope(1.0) < ch1.paper_slope(4.0)      # the N = 2, 3.7 points steepen it


def test_allocation_deviation_against_a_hand_computation():
    alphas = np.array([1.0, 16.0, 512.0])            # Fig. 2B: 2, 4.96, 66.2 neurons
    n = np.array([[2.0, 9.92, 33.1], [2.0, 9.92, 33.1]])
    v, lo, hi = ch1.allocation_deviation(n, alphas, 50, 0)
    # alpha = 1 is left out (the paper's pair); log2(2) and log2(1/2) average to 0
    assert v == pytest.approx(0.0, abs=1e-9) and lo == pytest.approx(v) and hi == pytest.approx(v)
    pair = ch1.allocation_deviation(np.full((2, 3), 2.0), alphas, 50, 0)[0]
    assert pair == pytest.approx(np.mean(np.log2([2 / 4.96, 2 / 66.2])))


def test_h2_stats_against_a_hand_computation():
    a = np.array([32.0, 64.0, 128.0])
    n1 = np.array([[4.0, 4.0], [8.0, 8.0], [16.0, 16.0]])         # (alphas, seeds)
    n2 = np.array([[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]])
    level, flat = ch1.h2_stats(n1, n2, a, 50, 0)
    assert level[0] == pytest.approx(4.0) and flat[0] == pytest.approx(1.0)   # ratio 2, 4, 8
    assert ch1.growth_exponent(a, np.tile([2.0, 4.0, 8.0], (3, 1)), 32, 128) == pytest.approx(1.0)
    # one alpha in the range: the two nearest it
    assert ch1.growth_exponent(a, np.tile([2.0, 4.0, 8.0], (3, 1)), 100, 400) == pytest.approx(1.0)


def test_path_properties():
    n = np.zeros((2, 2, 2, 3))
    n[0, 0, :, -1], n[0, 1, :, -1] = (80.0, 82.0), (40.0, 42.0)
    slope = np.zeros((2, 2, 3))
    slope[0, :, 0], slope[1, :, 0] = (-0.6, -0.9), (-0.65, -1.2)
    p = blank(ch1.AlphaPath, alphas=np.array([1.0, 16.0, 512.0]), forms=np.asarray(ch1.FORMS),
              n=n, slope=slope, fit_min=4.0)
    assert p.top_neurons("loss").tolist() == [81.0, 41.0] and p.form_gap == pytest.approx(0.3)
    assert p.paper_neurons[-1] == pytest.approx(66.2)
    assert p.pair_deviation == pytest.approx(np.mean(np.log2([2 / 4.96, 2 / 66.2])))


def test_optimum_properties():
    opt = blank(ch1.Optimum, pair_obj=np.array([1.0, 1.0, 1.0]),
                trained_obj=np.array([1.0, 0.5, 3.0]), trained_n=np.array([2.0, 7.0, 40.0]),
                path_obj=np.array([2.0, 4.0, 3.0]), polish_obj=np.array([[2.0, 2.0, 1.5]]),
                seeded_n=np.array([[2.0, 2.0, 3.0], [2.0, 2.0, 5.0]]),
                polish_residual=np.array([[0.0, 1.0, 10.0], [0.0, 1.0, 30.0]]))
    assert opt.best_n.tolist() == [2.0, 7.0, 2.0] and opt.pair_wins == 2
    assert opt.gap_max == 4.0 and opt.polish_gap_top == 1.5
    assert opt.seeded_top == 4.0 and opt.residual_top == 20.0


def test_penalties_and_parallel_properties():
    n = np.zeros((2, 1, 2, 2))
    n[0, 0, :, -1], n[1, 0, :, -1] = (100.0, 120.0), (10.0, 30.0)
    pen = blank(ch1.Penalties, pool=200, n=n)
    np.testing.assert_allclose(pen.fill[:, -1], [0.55, 0.1])
    assert pen.saturated.tolist() == [True, False]
    par = blank(ch1.Parallel, alphas=np.array([128.0, 256.0, 512.0]),
                n1=np.array([[[[4.0, 4.0]]]]), n2=np.array([[[[1.0, 0.0]]]]),
                obj=np.array([[[[2.0, 4.0], [6.0, 6.0]]]]), pair_obj=np.array([[1.0, 2.0]]))
    assert par.ratio[0, 0, 0] == 8.0              # 8 / max(1, 1)
    assert par.paper_ratio == 4.55                 # median of 4.42, 4.55, 5.13
    assert par.pair_gap == (3.0, 3.0)
    slope = np.polyfit(np.log(song2024.FIG3C_ALPHAS), np.log(song2024.FIG3C[:, 3]), 1)[0]
    assert par.paper_flat == pytest.approx(slope)


def test_config_errors_name_the_new_fields():
    with pytest.raises(ValueError, match="'variant_budgets'"):
        ch1.Config.fast(variant_budgets=(1000, 3000, 9000))
    with pytest.raises(ValueError, match="'parallel_alphas'"):
        ch1.Config.fast(parallel_alphas=(100.0, 200.0))
    with pytest.raises(ValueError, match="'alphas'"):
        ch1.Config.fast(alphas=tuple(float(a) for a in np.geomspace(1, 1024, 10)))
