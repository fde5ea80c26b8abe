"""Chapter 4 beyond its claims: the numbers its prose quotes (properties of its parts, checked on
toy inputs against hand computations) and its registry of forms."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from chapter_helpers import blank  # noqa: E402

from scalinglaws.experiments import ch4_bnsl as ch4  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke():
    cfg = ch4.Config.smoke(workers=1).replace(benchmarks=("lang", "vision"), benchmark_curves=2)
    return cfg, ch4.run(cfg)


def test_prose_numbers_are_the_parts_own(smoke):
    """The prose numbers read off the parts (that every glued name is one: tests/test_chapters)."""
    cfg, r = smoke
    nums = ch4.prose_numbers(r, cfg)
    assert nums["add_ext"] == float(np.max(r.addition.ext_rmsle))
    assert nums["off_unseen"] == r.simulation.official_ext[1]
    assert nums["wins_lang"] == r.benchmark.wins["lang"][0]
    assert nums["dd_peak"] in r.double_descent.widths


def test_addition_properties():
    params = {n: np.array([v, v * 2]) for n, v in zip(ch4.PARAM_NAMES, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0))}
    add = blank(ch4.Addition, params=params, ext_rmsle=np.array([0.01, 0.03]),
                fit_rmsle=np.array([0.002, 0.001]),
                forms_ext={"M1": 0.5, "M2": 0.2, "M3": 0.3, "M4": 0.25, "BNSL": 0.01})
    assert add.worst_ext == 0.03 and add.worst_fit == 0.002 and add.param("d1") == 5.0
    assert add.best_baseline == ("M2", 0.2)
    truth = dict(a=1.0, b=2.0, c0=3.0, c=(4.0 * 1.001,), d=(5.0,), f=(6.0 * (1 + 1e-4),))
    lo, hi = add.digits_against(truth)
    # |4 / 4.004 - 1| = 1 / 1001 -> 3.0004 digits; the exact parameters count as 16
    assert lo == pytest.approx(-np.log10(1 / 1001)) and hi == pytest.approx(16.0)


def test_simulation_properties():
    ext = np.array([[[0.5, 0.2, 0.005, 0.03, 0.001]], [[0.5, 0.2, 0.007, 0.02, 0.002]]])
    sim = blank(ch4.Simulation, scan_splits=np.array([390, 405, 450, 500, 550]), scan_ext=ext,
                ours_ext=np.array([[1e-6, 2e-5], [3e-6, 1e-5]]),
                ours_c1=np.array([[5.6, 5.7], [5.6, 5.5]]))
    # below 1 % at 450 but not at 500: predicted only from 550 on
    assert sim.predicted_from(0) == 550
    assert sim.predicted_from(0, threshold=0.1) == 450
    assert np.isnan(sim.predicted_from(0, threshold=1e-4))
    assert sim.ours_worst(1) == 2e-5 and sim.ours_c1_median(1) == pytest.approx(5.6)


def test_break_trace_against_a_direct_evaluation():
    p = ch4.SIMULATION_TRUTH
    x = 390.0
    with_break = p["a"] + p["b"] * x ** -p["c0"] * (1 + (x / p["d"][0]) ** (1 / p["f"][0])) ** (
        -p["c"][0] * p["f"][0])
    without = p["a"] + p["b"] * x ** -p["c0"]
    assert ch4.break_trace(x) == pytest.approx(abs(np.log(with_break / without)), rel=1e-6)
    assert ch4.break_trace(x) < ch4.break_trace(500.0)


def test_benchmark_properties():
    rmsle = {"M1": np.array([0.3, 0.1, 0.5, 0.2]), "M2": np.array([0.2, 0.3, 0.4, 0.1]),
             "BNSL": np.array([0.1, 0.2, 0.6, 0.05])}
    b = blank(ch4.Benchmark, suite=np.array(["lang", "lang", "vision", "vision"]),
              domain=np.array(["LM", "LM", "IC", "IC"]), rmsle=rmsle,
              breaks=np.array([0, 1, 1, 2]),
              vs_best=np.log(np.array([0.1 / 0.2, 0.2 / 0.1, 0.6 / 0.4, 0.05 / 0.1])),
              vs_best_interval=np.array([[-1.0, -0.5], [0.2, 0.9], [-0.1, 0.3], [-2.0, -1.0]]))
    assert list(b.best) == ["BNSL", "M1", "M2", "BNSL"]
    assert b.winners("LM") == {"M1": 1, "M2": 0, "BNSL": 1}
    assert b.shares()["IC"] == {"M1": 0.0, "M2": 0.5, "BNSL": 0.5}
    headers, rows = b.shares_table()
    assert headers == ["domain", "curves", "M1", "M2", "BNSL"] and rows[0][:2] == ["LM", 2]
    assert b.ratio("lang") == pytest.approx(np.exp(np.median(np.log([0.5, 2.0]))))
    assert b.decided("lang") == (1, 1) and b.decided("vision") == (1, 0)
    assert (b.n("lang"), b.n_breaks(1), b.all_finite) == (2, 2, 4)


def test_rule_and_double_descent_properties():
    rule = blank(ch4.RuleStudy, true_breaks=np.array([0, 1, 2, 0]), chosen=np.array([0, 1, 1, 1]),
                 rmsle={"held-out rule": np.array([1.0, 3.0, 2.0])},
                 log_ratio={"M4": np.log([0.8, 0.5, 1.2])})
    assert rule.right == 0.5 and rule.median("held-out rule") == 2.0
    np.testing.assert_allclose(rule.ratio("M4"), [0.8, 0.5, 1.2])
    test = np.array([[1.0, 3.0, 0.5, 0.4], [1.2, 2.0, 0.7, 0.2]])
    train = np.array([[0.5, 1e-3, 1e-7, 1e-8], [0.5, 1e-2, 1e-3, 1e-8]])
    dd = blank(ch4.DoubleDescent, widths=np.array([1.0, 2.0, 4.0, 8.0]), n_fit=3, label_noise=0.3,
               test=test, train=train,
               rmsle={"M4": np.array([0.1, 0.3]), "M1": np.array([0.2, 0.1]),
                      "BNSL": np.array([0.4, 0.2])})
    # median over curves [1.1, 2.5, 0.6, 0.3]: peak at width 2, 2.5 / 0.3 above the widest
    assert dd.peak_width == 2.0 and dd.peak_ratio == pytest.approx(2.5 / 0.3)
    assert dd.split_width == 4.0
    # median training MSE [0.5, 5.5e-3, 5e-4, 1e-8] < 1e-4 * 0.09 first at width 8
    assert dd.interpolation_width == 8.0
    assert dd.median_bnsl == pytest.approx(0.3) and dd.median_best_baseline == pytest.approx(0.1)


def test_a_sixth_form_is_one_registry_entry(monkeypatch):
    """Registering another baseline (here M2 under a new name) puts it in every fit, the
    best-baseline statistic, the share table and the figures, with no other edit."""
    from scalinglaws.figures import ch4 as figures

    extra = ch4.Form("M2 again", partial(ch4._fit_baseline, "M2"), True,
                     dict(color="sky", linestyle="-", linewidth=1.0))
    monkeypatch.setitem(ch4.FORMS, extra.name, extra)
    cfg = ch4.Config.fast(benchmarks=("lang",), benchmark_curves=3, benchmark_starts=64,
                          n_refine=1, n_boot=20, workers=1)
    bench = ch4._benchmark(cfg)
    assert list(bench.rmsle) == [*ch4.FORMS] and len(bench.rmsle) == 6
    np.testing.assert_allclose(bench.rmsle["M2 again"], bench.rmsle["M2"])
    headers, rows = bench.shares_table()
    assert headers[-1] == "M2 again" and all(len(r) == len(headers) for r in rows)
    assert "M2 again" in figures.shares_table(bench).data
    fig = figures.benchmark_figure(bench)
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "M2 again" in labels


def test_config_errors_name_the_field():
    for name in ("tf_seeds", "scan_stride", "dd_inits"):
        kw = {name: 0} | ({"tf_sizes": tuple(range(40, 121, 8)), "tf_fit_points": 8}
                          if name.startswith("tf") else {})
        with pytest.raises(ValueError, match=f"'{name}'"):
            ch4.Config.fast(**kw)
