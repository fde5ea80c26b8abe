"""Alabdulmohsin et al.'s estimators, re-stated (scalinglaws.fit.revisiting): each on toy curves
of its own form, the batched NNLS against scipy's, batching against one curve at a time, and
their way of counting winners."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from scalinglaws.fit import revisiting as rv

X = np.geomspace(1e3, 1e7, 24)


def test_m1_is_the_log_log_line():
    y = 3.0 * X ** -0.4
    (f,) = rv.fit_revisiting([(X, y)], "M1")
    assert f.params["c"] == pytest.approx(-0.4) and f.params["beta"] == pytest.approx(3.0)
    np.testing.assert_allclose(f.predict(X), y, rtol=1e-10)


def test_m2_finds_the_limit_of_an_offset_power_law():
    """Noiseless ``eps_inf + beta x^c``: their alternation (least squares, projected gradient
    then Newton steps on eps_inf) recovers the limit."""
    y = 0.2 + 5.0 * X ** -0.35
    (f,) = rv.fit_revisiting([(X, y)], "M2", newton=(20, 0.5), max_iterations=3000)
    assert f.params["eps_inf"] == pytest.approx(0.2, abs=2e-3)
    assert f.params["c"] == pytest.approx(-0.35, abs=0.02)
    assert 0 <= f.params["eps_inf"] <= y.min() - rv.ERR_MARGIN
    np.testing.assert_allclose(f.predict(X), y, rtol=2e-3)


def test_m3_gamma_from_the_grid_of_single_point_solutions():
    """``beta (1/x + gamma)^c`` with gamma on the scale of 1/x: recovered from the grid of
    per-point exact solutions."""
    y = 2.0 * (1 / X + 1e-5) ** 0.3
    (f,) = rv.fit_revisiting([(X, y)], "M3")
    assert f.converged and f.params["c"] >= 0
    np.testing.assert_allclose(f.predict(X), y, rtol=0.02)
    assert f.params["gamma"] == pytest.approx(1e-5, rel=0.5)


def test_m4_on_a_sigmoid_like_curve():
    """M4's own form (solved on a fine grid) is fitted closely, and its predictions lie in
    ``[eps_inf, eps_0]``; their per-domain settings are used by domain."""
    e_inf, e0, alpha, beta, c = 0.1, 0.95, 0.8, 40.0, -0.45
    w = np.linspace(0, e0 - e_inf, 200001)
    y = np.asarray([e_inf + w[np.argmin(np.abs(w - beta * x ** c * (e0 - e_inf - w) ** alpha))]
                    for x in X])
    (f,) = rv.fit_revisiting([(X, y)], "M4", domains="IC", newton=(20, 0.5), max_iterations=2000)
    p = f.predict(np.geomspace(1e3, 1e9, 50))
    assert np.all(p >= f.params["eps_inf"] - 1e-12) and np.all(p <= f.params["eps_0"] + 1e-12)
    assert np.sqrt(np.mean(np.log(f.predict(X) / y) ** 2)) < 0.02
    assert f.params["eps_0"] <= 1.0 + rv.ERR_MARGIN          # IC: eps_0 bounded by 1
    with pytest.raises(ValueError, match="domain"):
        rv.fit_revisiting([(X, y)], "M4", domains="XX")
    with pytest.raises(ValueError, match="initial eps_0"):
        rv.fit_revisiting([(X, y + 1.0)], "M4", domains="IC")


def test_nnls3_against_scipy():
    rng = np.random.default_rng(0)
    C, N = 40, 15
    A = rng.normal(size=(C, N, 3))
    z = rng.normal(size=(C, N))
    w = (rng.random((C, N)) < 0.8).astype(float)
    got = rv._nnls3(A, z, w)
    for i in range(C):
        m = w[i] > 0
        want, _ = optimize.nnls(A[i][m], z[i][m])
        np.testing.assert_allclose(got[i], want, atol=1e-9)


@pytest.mark.parametrize("form", ["M2", "M3", "M4"])
def test_a_batch_fits_each_curve_as_alone(form):
    """Curves of different lengths in one batch give the fits each gets alone."""
    rng = np.random.default_rng(1)
    curves = []
    for n in (12, 20, 31):
        x = np.geomspace(1e4, 1e8, n)
        curves.append((x, (0.15 + rng.uniform(2, 6) * x ** -rng.uniform(0.2, 0.5))
                       * np.exp(0.003 * rng.standard_normal(n))))
    kw = dict(domains="IC", max_iterations=400, newton=(20, 0.5))
    together = rv.fit_revisiting(curves, form, **kw)
    for cv, f in zip(curves, together):
        (alone,) = rv.fit_revisiting([cv], form, **kw)
        assert alone.params == pytest.approx(f.params, rel=1e-9, abs=1e-12)
        assert alone.rounds == f.rounds


def test_truncated_wins_split_ties_at_three_decimals():
    e = np.array([[0.0121, 0.0129, 0.05, np.nan],      # 0.012 and 0.012 tie
                  [0.3, 0.2, 0.1, 0.0999],             # 0.099 wins alone
                  [np.nan, 2.0, 1.5, 1.2]])            # NaN counts as 1.0 and wins
    w = rv.truncated_wins(e)
    np.testing.assert_allclose(w, [[0.5, 0.5, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match="curves, forms"):
        rv.truncated_wins(np.ones(3))


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="form must be"):
        rv.fit_revisiting([(X, X ** -0.5)], "M5")
    with pytest.raises(ValueError, match="curve 0"):
        rv.fit_revisiting([(X, -X)], "M1")
    with pytest.raises(ValueError, match="no curves"):
        rv.fit_revisiting([], "M1")
