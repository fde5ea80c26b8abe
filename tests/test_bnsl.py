"""The BNSL form, its fitter, the baselines and the chapter's fast configuration."""
import math

import numpy as np
import pytest

from scalinglaws.data import _addition_csv_from_script, load_addition_curve, load_scaling_benchmark
from scalinglaws.fit.bnsl import (
    BASELINES,
    bnsl,
    fit_bnsl,
    fit_m1,
    fit_m2,
    fit_m4,
    log_bnsl_reducible,
    rmsle,
    root_standard_log_error,
    segment_curves,
    segment_slopes,
)


def test_zero_breaks_is_power_law_plus_offset():
    x = np.geomspace(1, 1e6, 30)
    np.testing.assert_allclose(bnsl(x, 0.2, 3.0, 0.4), 0.2 + 3.0 * x ** -0.4, rtol=1e-13)


def test_asymptotic_slopes_match_segment_slopes():
    c0, c, d, f = 0.3, (0.5, -0.2), (1e3, 1e7), (0.05, 0.05)
    s = segment_slopes(c0, c)
    np.testing.assert_allclose(s, [-0.3, -0.8, -0.6])
    for x0, expect in ((1.0, s[0]), (1e5, s[1]), (1e10, s[2])):
        xs = np.array([x0, 1.01 * x0])
        ly = log_bnsl_reducible(xs, 1.0, c0, c, d, f)
        assert (ly[1] - ly[0]) / math.log(1.01) == pytest.approx(expect, abs=1e-2)
    # closed-form segments agree with the curve far from the breaks
    segs = segment_curves(np.array([1.0, 1e5, 1e10]), 1.0, c0, c, d)
    full = np.exp(log_bnsl_reducible(np.array([1.0, 1e5, 1e10]), 1.0, c0, c, d, f))
    np.testing.assert_allclose(np.diag(segs), full, rtol=2e-2)


def test_no_overflow_for_large_x_and_sharp_breaks():
    x = np.geomspace(1e5, 1e12, 50)
    y = bnsl(x, 0.1, 50.0, 0.1, (2.0,), (1e9,), (0.01,))
    assert np.all(np.isfinite(y)) and np.all(y > 0.1)


def test_fit_recovers_one_break_with_one_percent_noise():
    # 1 % multiplicative noise.  Over 10 noise seeds the fits gave d1 within 7 %, c1 within 14 %
    # (c1 trades off against the sharpness f1) and extrapolation RMSLE <= 0.049; the tolerances
    # are 10 %, 20 % and 0.06.
    truth = dict(a=0.4, b=2.3, c0=0.05, c=(1.5,), d=(300.0,), f=(0.2,))
    x = np.geomspace(10, 1e4, 40)
    for seed in range(5):
        y = bnsl(x, **truth) * (1 + 0.01 * np.random.default_rng(seed).standard_normal(x.size))
        fit = x < 10 ** 3.25
        f = fit_bnsl(x[fit], y[fit], 1, seed=seed)
        assert f.converged
        assert f.d[0] == pytest.approx(300.0, rel=0.10)
        assert f.c[0] == pytest.approx(1.5, rel=0.20)
        assert rmsle(f.predict(x[~fit]), y[~fit]) < 0.06


def test_fit_recovers_two_breaks_double_descent():
    truth = dict(a=0.05, b=1.0, c0=0.3, c=(-1.5, 3.0), d=(100.0, 300.0), f=(0.3, 0.3))
    x = np.geomspace(10, 10 ** 3.5, 50)
    y = bnsl(x, **truth) * (1 + 0.01 * np.random.default_rng(7).standard_normal(x.size))
    f = fit_bnsl(x, y, 2, seed=3)
    assert f.fit_rmsle < 0.02
    assert min(f.c) < 0 < max(f.c)
    assert sorted(f.d)[0] == pytest.approx(100, rel=0.35) and sorted(f.d)[1] == pytest.approx(300, rel=0.35)


def test_noiseless_recovery_is_exact():
    truth = dict(a=0.41, b=2.28, c0=0.055, c=(5.66,), d=(612.6,), f=(0.0592,))
    x = np.arange(1, 700, 3.0)
    f = fit_bnsl(x, bnsl(x, **truth), 1)
    assert f.fit_rmsle < 1e-8
    assert f.d[0] == pytest.approx(612.6, rel=1e-4) and f.c[0] == pytest.approx(5.66, rel=1e-3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5, 0.0])
def test_bad_input(bad):
    x = np.geomspace(1, 100, 12)
    y = x ** -0.5
    y[4] = bad
    with pytest.raises(ValueError, match="y"):
        fit_bnsl(x, y, 1)


def test_too_few_points_for_the_breaks():
    x = np.geomspace(1, 100, 7)
    with pytest.raises(ValueError, match="n_breaks=2"):
        fit_bnsl(x, x ** -0.5, 2)
    with pytest.raises(ValueError, match="n_breaks"):
        fit_bnsl(x, x ** -0.5, -1)


def test_baselines_recover_their_own_forms():
    x = np.geomspace(1e5, 1e9, 12)
    f1 = fit_m1(x, 3.0 * x ** -0.3)
    assert f1.params["c"] == pytest.approx(0.3) and f1.fit_rmsle < 1e-12
    f2 = fit_m2(x, 0.5 + 30.0 * x ** -0.3)
    assert f2.fit_rmsle < 1e-4
    y4 = BASELINES["M4"].__globals__["_m4_solve"](x, 0.3, 3.0, 0.7, 2e3, 0.5)
    f4 = fit_m4(x, y4)
    assert f4.fit_rmsle < 1e-3
    for fn in BASELINES.values():
        assert np.all(fn(x, 0.5 + 30.0 * x ** -0.3).predict(x * 10) > 0)


def test_m4_with_alpha_zero_is_m2():
    x = np.geomspace(1, 1e4, 20)
    solve = BASELINES["M4"].__globals__["_m4_solve"]
    np.testing.assert_allclose(solve(x, 0.2, 5.0, 0.0, 3.0, 0.4), 0.2 + 3.0 * x ** -0.4, rtol=1e-9)


def test_metrics():
    assert rmsle([1.0, math.e], [1.0, 1.0]) == pytest.approx(math.sqrt(0.5))
    assert rmsle([1.0, -1.0], [1.0, 1.0]) == math.inf
    assert root_standard_log_error([1.0, 1.0], [1.0, 1.0]) == 0.0
    sq = np.array([0.0, 1.0])
    expect = math.sqrt(0.5 + sq.std() / math.sqrt(2)) - math.sqrt(0.5)
    assert root_standard_log_error([1.0, math.e], [1.0, 1.0]) == pytest.approx(expect)


def test_data_loaders_and_download_parser():
    curves = load_scaling_benchmark()
    assert len(curves) == 20 and sum(c.key[0] == "NMT" for c in curves) == 5
    assert all(np.all(np.diff(c.x) >= 0) and c.fit.any() and (~c.fit).any() for c in curves)
    add = load_addition_curve()
    assert len(add.x) == 17 and add.fit.sum() == 14
    script = "import numpy as np\nx = np.array([160,  192,\n 256])\n\ny = np.array([2.1, 2.0,\n 1.5])\n"
    csv = _addition_csv_from_script(script)
    assert csv.splitlines()[1] == "160,2.1,fit" and len(csv.splitlines()) == 4


@pytest.mark.slow(chapter="ch4_bnsl")
def test_fast_config_other_seeds():
    from scalinglaws.claims import assert_verdicts, decided
    from scalinglaws.experiments import ch4_bnsl as ch4

    # other seeds (fitter starts, bootstraps, synthetic curves, teachers and datasets of the
    # double descent) and another window of the double-descent curves (up to width 19, still
    # holding the peak): the claims recorded as decided keep their verdicts
    cfg = ch4.Config.fast(seeds=(11, 12), dd_fit_points=13)
    r = ch4.run(cfg)
    assert_verdicts(decided(ch4.claims(r, cfg)))
    # the table covers all 92 curves, every RMSLE finite
    assert r.benchmark.all_finite == len(r.benchmark.breaks) == 92


def _fd_jacobian(f, theta, h=None):
    """Central finite differences with step eps^(1/3) relative to each parameter's size."""
    h0 = np.finfo(float).eps ** (1 / 3) if h is None else h
    J = []
    for k in range(len(theta)):
        step = h0 * max(1.0, abs(theta[k]))
        tp, tm = theta.copy(), theta.copy()
        tp[k] += step
        tm[k] -= step
        J.append((f(tp) - f(tm)) / (2 * step))
    return np.stack(J, 1)


@pytest.mark.parametrize("nb", [0, 1, 2])
def test_bnsl_jacobian_matches_finite_differences(nb):
    from scalinglaws.fit.bnsl import bnsl_log_jacobian, bnsl_log_residual

    rs = np.random.default_rng(nb)
    lx = np.log(np.geomspace(1, 1e4, 25))
    ly = rs.normal(size=25)
    for _ in range(5):
        theta = np.concatenate([[rs.uniform(0.01, 0.5), rs.uniform(-1, 1), rs.uniform(0, 2)],
                                rs.uniform(-2, 3, nb), rs.uniform(0.5, 3.5, nb),
                                rs.uniform(-1.5, 0.5, nb)])
        J = bnsl_log_jacobian(theta, lx, nb)
        Jfd = _fd_jacobian(lambda t: bnsl_log_residual(t, lx, ly, nb), theta)
        np.testing.assert_allclose(J, Jfd, rtol=1e-5, atol=1e-7)


def test_m4_jacobian_matches_finite_differences():
    from scalinglaws.fit.bnsl import m4_log_jacobian, m4_log_residual

    rs = np.random.default_rng(4)
    xs = np.geomspace(1, 1e3, 20)
    ly = rs.normal(size=20)
    for _ in range(5):
        t = np.array([rs.uniform(0.05, 0.9), rs.uniform(-2, 2), rs.uniform(0.1, 2.0),
                      rs.uniform(-1, 1), rs.uniform(0.2, 1.5)])
        J = m4_log_jacobian(t, xs, 0.3, 2.0)
        Jfd = _fd_jacobian(lambda u: m4_log_residual(u, xs, ly, 0.3, 2.0), t)
        np.testing.assert_allclose(J, Jfd, rtol=1e-5, atol=1e-7)


def test_fits_report_statuses():
    from scalinglaws.fit import FitStatus

    x = np.geomspace(1, 1e3, 12)
    for name, fit in BASELINES.items():
        f = fit(x, 2.0 * x ** -0.5 + 0.1)
        assert isinstance(FitStatus(f.status), FitStatus), name
        assert f.converged and np.isfinite(f.fit_rmsle)
    b = fit_bnsl(x, 2.0 * x ** -0.5 + 0.1, 1, n_starts=256, n_refine=2)
    assert isinstance(b.status, FitStatus) and b.converged


def test_break_selection_picks_the_break_that_extrapolates():
    from scalinglaws.fit.bnsl import fit_bnsl_select

    x = np.geomspace(1, 1e4, 40)
    rs = np.random.default_rng(3)
    y = bnsl(x, 0.05, 3.0, 0.1, (0.9,), (300.0,), (0.2,)) * np.exp(0.005 * rs.standard_normal(40))
    sel = fit_bnsl_select(x, y, (0, 1, 2))
    assert sel.n_breaks >= 1 and set(sel.holdout_rmsle) == {0, 1, 2}
    assert sel.holdout_rmsle[sel.n_breaks] == min(sel.holdout_rmsle.values())
    straight = fit_bnsl_select(x, 2.0 * x ** -0.5 * np.exp(0.005 * rs.standard_normal(40)), (0, 1))
    assert straight.fit.converged
    with pytest.raises(ValueError, match="holdout"):
        fit_bnsl_select(x[:6], y[:6], (0,), holdout=4)


def test_addition_problems_are_correct_sums_with_reversed_answers():
    from scalinglaws.data import addition_problems

    tok, mask = addition_problems(500, seed=3)
    assert tok.shape == (500, 13) and mask.shape == (500, 12)
    place = 10 ** np.arange(3, -1, -1)
    a, b = tok[:, :4] @ place, tok[:, 4:8] @ place
    c = tok[:, 8:][:, ::-1] @ (10 ** np.arange(4, -1, -1))
    np.testing.assert_array_equal(a + b, c)
    assert len({(x, y) for x, y in zip(a, b)}) == 500          # distinct problems
    # the loss is taken where the next token is an answer digit (positions 7..11 predict 8..12)
    assert mask[:, 7:].all() and not mask[:, :7].any()
    with pytest.raises(ValueError, match="n must be"):
        addition_problems(0, seed=0)


def test_double_descent_data_scales_teacher_and_noise():
    from scalinglaws.experiments import ch4_bnsl as ch4

    cfg = ch4.Config.fast(dd_n_train=20000, dd_n_test=20000)
    X, y, Xt, yt = ch4.double_descent_data(cfg, 0)
    assert X.shape == (20000, cfg.dd_d_in) and y.shape == (20000, 1) and yt.shape == (20000, 1)
    assert abs(yt.std() - 1) < 1e-12                          # the clean test targets: unit variance
    # training labels = the same teacher (unit variance in distribution) + the configured noise
    assert abs(y.var() - (1 + cfg.dd_label_noise ** 2)) < 0.1
    X2, y2, *_ = ch4.double_descent_data(cfg, 1)
    assert not np.allclose(X, X2)                             # each curve its own data


def test_paired_log_ratio_interval():
    from scalinglaws.experiments.ch4_bnsl import paired_log_ratio_interval

    r = np.random.default_rng(0).standard_normal(7)
    np.testing.assert_allclose(paired_log_ratio_interval(r, r), [0, 0], atol=1e-12)
    # twice the residuals on every point: the ratio is 2 on every resample (paired)
    np.testing.assert_allclose(paired_log_ratio_interval(2 * r, r), [np.log(2)] * 2, rtol=1e-12)
    lo, hi = paired_log_ratio_interval(r, r[::-1], seed=1)
    assert lo < 0 < hi                                       # unpaired order: undecided


def test_double_descent_config_errors_name_the_field():
    from scalinglaws.experiments import ch4_bnsl as ch4

    for name in ("dd_d_in", "dd_n_train", "dd_n_test", "dd_teacher_width", "dd_steps", "dd_inits",
                 "dd_curves"):
        with pytest.raises(ValueError, match=f"'{name}'"):
            ch4.Config.fast(**{name: 0})



def test_every_form_has_a_figure_style():
    """ch4's figures look forms up by name: every registered form has a style; an unregistered
    one is an error naming it."""
    from scalinglaws.experiments import ch4_bnsl as ch4
    from scalinglaws.figures import ch4 as figures

    assert all(figures.form_style(n)["color"].startswith("#") for n in ch4.FORMS)
    with pytest.raises(KeyError, match="M5"):
        figures.form_style("M5")


def test_curve_labels_read_in_words():
    from scalinglaws.data import Curve

    z = np.zeros(1)
    assert Curve(("BB", "('qa', '1-shot')", "262M"), z, z, z > 0).label == "BB | qa, 1-shot | 262M"
    assert Curve(("NMT", "log_perplexity", "6 Enc"), z, z, z > 0).label == "NMT | log_perplexity | 6 Enc"


def test_unseen_break_terms_and_their_jacobian():
    """The penalty's terms: a break well inside the data costs ~0, one beyond the last point
    costs its whole change of slope; the analytic Jacobian matches finite differences."""
    from scalinglaws.fit.bnsl import unseen_break_terms

    nb, ld_hi = 2, 3.0
    # a, log10 b, c0, c1, c2, log10 d1, log10 d2, log10 f1, log10 f2
    theta = np.array([0.01, 0.3, 0.4, 0.8, -0.5, 1.0, 3.6, -0.7, -0.3])
    terms, J = unseen_break_terms(theta, nb, ld_hi)
    assert abs(terms[0]) < 1e-6 and terms[1] == pytest.approx(-0.5, rel=0.1)
    eps = 1e-6
    for j in range(len(theta)):
        t2 = theta.copy()
        t2[j] += eps
        np.testing.assert_allclose((unseen_break_terms(t2, nb, ld_hi)[0] - terms) / eps, J[:, j],
                                   atol=1e-5)


def test_penalty_leaves_noiseless_fits_alone_and_names_bad_values():
    x = np.geomspace(1, 1e4, 30)
    truth = dict(a=0.02, b=1.5, c0=0.3, c=(0.6,), d=(300.0,), f=(0.3,))
    y = bnsl(x, **truth)
    plain = fit_bnsl(x[:20], y[:20], 1, n_starts=256, n_refine=2)
    pen = fit_bnsl(x[:20], y[:20], 1, n_starts=256, n_refine=2, penalty=4.0)
    np.testing.assert_allclose(pen.predict(x), plain.predict(x), rtol=1e-6)
    with pytest.raises(ValueError, match="penalty"):
        fit_bnsl(x, y, 1, n_starts=64, n_refine=1, penalty=-1.0)


def test_penalty_pulls_back_a_break_the_points_cannot_see():
    """Noisy points of a plain power law: a 1-break fit may bend beyond the last point to chase
    the noise; with the penalty, the change of slope beyond the last fitted x shrinks."""
    from scalinglaws.fit.bnsl import unseen_break_terms

    rng = np.random.default_rng(5)
    x = np.geomspace(1, 1e3, 16)
    y = 2.0 * x ** -0.4 * np.exp(0.03 * rng.standard_normal(16))
    hidden = []
    for lam in (0.0, 16.0):
        f = fit_bnsl(x, y, 1, n_starts=512, n_refine=4, seed=1, penalty=lam)
        theta = np.array([f.a, 0.0, f.c0, f.c[0], np.log10(f.d[0] / x[0]), np.log10(f.f[0])])
        hidden.append(abs(unseen_break_terms(theta, 1, np.log10(x[-1] / x[0]))[0][0]))
    assert hidden[1] <= hidden[0] + 1e-9


def test_holdout_rule_scores_every_candidate_that_fits():
    from scalinglaws.fit.bnsl import chosen_breaks, holdout_scores

    x = np.geomspace(1, 1e4, 11)
    y = 0.01 + 2.0 * x ** -0.5
    scores, h = holdout_scores(x, y, (0, 1, 2), n_starts=128, n_refine=1)
    # 11 points, 2 held out: 2 breaks (9 parameters + 1) do not fit in 9
    assert h == 2 and set(scores) == {0, 1}
    assert chosen_breaks({0: 0.1, 1: 0.1, 2: 0.05}) == 2
    assert chosen_breaks({0: 0.1, 1: 0.1}) == 0              # a tie: the fewer breaks
