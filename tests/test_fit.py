import math

import numpy as np
import pytest

from scalinglaws.fit import (
    FitError,
    FitStatus,
    bootstrap_exponent,
    fit_median,
    fit_power_law,
    fit_power_law_offset,
    local_slopes,
)

X = np.geomspace(1, 1e3, 20)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_exact_recovery_without_noise(alpha):
    f = fit_power_law(X, 3.0 * X ** -alpha)
    assert f.status == "ok"
    assert f.exponent == pytest.approx(alpha, abs=1e-12)
    assert f.prefactor == pytest.approx(3.0, rel=1e-10)
    assert f.n_points == 20 and f.r2 == pytest.approx(1.0)


def test_recovery_with_five_percent_noise():
    # 5 % multiplicative noise on 20 points over 3 decades: the standard error of the exponent is
    # about 0.05 / (sqrt(20) * std(log x) = 2.0) = 0.006; we allow 0.03 (5 standard errors)
    rs = np.random.default_rng(0)
    for _ in range(20):
        y = 2.0 * X ** -0.8 * (1 + 0.05 * rs.standard_normal(X.size))
        f = fit_power_law(X, y)
        assert abs(f.exponent - 0.8) < 0.03
        assert 0 < f.stderr < 0.02


def test_fit_window():
    y = np.where(X < 10, 5.0 * X ** -0.2, 5.0 * 10 ** 0.8 * X ** -1.0)
    assert fit_power_law(X, y, x_min=20).exponent == pytest.approx(1.0, abs=1e-10)
    assert fit_power_law(X, y, x_max=9).exponent == pytest.approx(0.2, abs=1e-10)


def test_too_few_points_reports_a_status_and_require_raises():
    f = fit_power_law(X, X ** -1.0, x_min=500, x_max=600)
    assert f.status is FitStatus.TOO_FEW_POINTS and not f.converged
    assert f.status_message and math.isnan(f.exponent)  # flagged by the status, never a 0.0
    with pytest.raises(FitError, match="too few points"):
        f.require()
    assert fit_power_law(X, X ** -1.0).require().exponent == pytest.approx(1.0)


def test_offset_fit_reports_bound_hit():
    # a curve steeper than the exponent box allows: converged on its edge, flagged
    f = fit_power_law_offset(X, X ** -3.0 + 1e-12, exponent_bounds=(0.0, 2.0))
    assert f.status is FitStatus.BOUND_HIT and f.converged and "exponent" in f.status_message
    g = fit_power_law_offset(X[:3], X[:3] ** -1.0)
    assert g.status is FitStatus.TOO_FEW_POINTS and math.isnan(g.exponent)


def test_fit_median_uses_the_seed_median():
    Y = np.stack([2.0 * X ** -0.5, 3.0 * X ** -0.5, 4.0 * X ** -0.5])
    f = fit_median(X, Y)
    assert f.exponent == pytest.approx(0.5) and f.prefactor == pytest.approx(3.0)


@pytest.mark.parametrize("bad, what", [
    (np.nan, "non-finite"), (np.inf, "non-finite"), (-1.0, "> 0"), (0.0, "> 0")])
def test_bad_input_raises_with_location(bad, what):
    y = X ** -1.0
    y[7] = bad
    with pytest.raises(ValueError) as e:
        fit_power_law(X, y)
    assert what in str(e.value) and "7" in str(e.value) and "y" in str(e.value)
    with pytest.raises(ValueError):
        local_slopes(X, y)
    with pytest.raises(ValueError):
        fit_power_law_offset(X, y)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="same length"):
        fit_power_law(X, X[:-1])


def test_offset_fit_recovers_parameters():
    y = 4.0 * X ** -0.7 + 0.05
    f = fit_power_law_offset(X, y)
    assert f.converged
    assert f.exponent == pytest.approx(0.7, abs=1e-3)
    assert f.offset == pytest.approx(0.05, rel=1e-2)
    assert f.prefactor == pytest.approx(4.0, rel=1e-2)


def test_offset_fit_with_noise():
    # 1 % noise: the floor is ~ 10x the smallest reducible term, so the exponent is well determined
    rs = np.random.default_rng(1)
    y = (4.0 * X ** -0.7 + 0.01) * (1 + 0.01 * rs.standard_normal(X.size))
    f = fit_power_law_offset(X, y)
    assert f.converged and abs(f.exponent - 0.7) < 0.1


def test_local_slopes_of_power_law():
    xm, s = local_slopes(X, 2 * X ** -1.3)
    assert np.allclose(s, -1.3) and len(xm) == len(X) - 1
    assert np.all((xm > X[:-1]) & (xm < X[1:]))


def test_bootstrap_interval_covers_truth():
    rs = np.random.default_rng(2)
    Y = X ** -1.0 * np.exp(0.1 * rs.standard_normal((8, X.size)))
    b = bootstrap_exponent(X, Y, n_boot=400, seed=0)
    assert b.lo < 1.0 < b.hi
    assert b.lo <= b.median <= b.hi
    assert b.samples.shape == (400,)
    with pytest.raises(ValueError, match="shape"):
        bootstrap_exponent(X, Y[:, :-1])
    Y[3, 4] = np.nan
    with pytest.raises(ValueError, match="Y"):
        bootstrap_exponent(X, Y)


def test_bootstrap_intervals():
    from scalinglaws.fit import bootstrap_interval, bootstrap_replicates, median_interval, share_interval

    x = np.random.default_rng(0).lognormal(size=25)
    m, lo, hi = median_interval(x, 500, seed=3)
    assert m == np.median(x) and lo < m < hi
    # the same stream gives the same replicates; an integer seed and its Generator agree
    r1 = bootstrap_replicates(lambda i: x[i].mean(), len(x), 50, seed=7)
    r2 = bootstrap_replicates(lambda i: x[i].mean(), len(x), 50, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(r1, r2)
    assert np.all((r1 >= x.min()) & (r1 <= x.max()))
    s, slo, shi = share_interval(np.arange(20) < 5, 500, seed=1)
    assert s == 0.25 and slo < 0.25 < shi
    # undefined replicates: NaN interval unless they are left out
    stat = lambda i: np.nan if i[0] == 0 else 1.0  # noqa: E731
    assert np.isnan(bootstrap_interval(stat, 3, 200, seed=0)).all()
    assert bootstrap_interval(stat, 3, 200, seed=0, ignore_nan=True) == (1.0, 1.0)
    xn = x.copy()
    xn[0] = np.nan
    assert np.isfinite(median_interval(xn, 200, ignore_nan=True)).all()
    with pytest.raises(ValueError, match="n and n_boot"):
        bootstrap_replicates(lambda i: 0.0, 0)
