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
    cfg = ch4.Config.smoke(workers=1)
    return cfg, ch4.run(cfg)


def test_prose_numbers_are_the_parts_own(smoke):
    """The prose numbers read off the parts (that every glued name is one: tests/test_chapters)."""
    cfg, r = smoke
    nums = ch4.prose_numbers(r, cfg)
    assert nums["add_ext"] == float(np.median(r.addition.ext_rmsle))
    assert nums["add_official"] == r.addition.official_ext
    assert nums["off_unseen"] == r.simulation.official_ext[1]
    assert nums["lead_NMT"] == r.benchmark.leads["NMT"][0]
    assert r.benchmark.group_n == {g: int(m.sum()) for g, m in r.benchmark.groups().items()}
    assert nums["share_IC"] == r.benchmark.shares("IC")[ch4.SUBJECT]
    assert nums["dd_peak"] in r.double_descent.widths
    # every group of the paper's table is present, even in the smoke run (one curve each)
    assert list(r.benchmark.groups()) == list(ch4.GROUPS)


def test_addition_properties():
    params = {n: np.array([v, v * 2]) for n, v in zip(ch4.PARAM_NAMES, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0))}
    add = blank(ch4.Addition, params=params, ext_rmsle=np.array([0.01, 0.03, 0.02]),
                fit_rmsle=np.array([0.002, 0.001, 0.0015]),
                forms_ext={"M1": 0.5, "M2": 0.2, "M3": 0.3, "M4": 0.25, "BNSL": 0.01})
    assert add.worst_ext == 0.03 and add.worst_fit == 0.002 and add.param("d1") == 5.0
    assert add.median_ext == 0.02 and add.spread == pytest.approx(0.02)
    assert add.tolerance == pytest.approx(3 * 0.02 + 0.5e-4)
    assert add.best_baseline == ("M2", 0.2)
    truth = dict(a=1.0, b=2.0, c0=3.0, c=(4.0 * 1.001,), d=(5.0,), f=(6.0 * (1 + 1e-4),))
    lo, hi = add.digits_against(truth)
    # |4 / 4.004 - 1| = 1 / 1001 -> 3.0004 digits; the exact parameters count as 16
    assert lo == pytest.approx(-np.log10(1 / 1001)) and hi == pytest.approx(16.0)


def test_addition_settings_cover_seeds_starts_and_penalty():
    cfg = ch4.Config.fast(seeds=(0, 1), n_starts=1024, penalty=4.0)
    st = ch4.addition_settings(cfg)
    assert st[0] == (0, 1024, 4.0) and len(st) == 8 == len(set(st))
    assert {s[1] for s in st} == {1024, 256} and {s[2] for s in st} == {0.0, 4.0}


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


def _bench(**kw):
    rmsle = {"M1": np.array([0.3, 0.1, 0.5, 0.2]), "M2": np.array([0.2, 0.3, 0.4, 0.1]),
             "BNSL": np.array([0.1, 0.2, 0.6, 0.05])}
    paper = {"M1": np.array([0.31, 0.1, 0.45, 0.3]), "M4": np.array([0.2, 0.09, 0.5, 0.2])}
    fields = dict(suite=np.array(["lang", "lang", "vision", "vision"]),
                  domain=np.array(["LM", "LM", "IC", "IC"]),
                  task=np.array(["a", "b", "bird_5", "c_10"]), rmsle=rmsle, paper_rmsle=paper,
                  paper_converged={"M1": np.ones(4, bool), "M4": np.array([1, 0, 1, 1], bool)},
                  breaks=np.array([0, 1, 1, 2]), candidates=np.array([0, 1, 2]),
                  candidate_rmsle=np.array([[0.1, 0.3, 0.4], [0.5, 0.2, 0.15], [0.7, 0.6, 0.65],
                                            [0.2, 0.3, 0.05]]),
                  n_held=np.array([3, 1, 5, 5]),
                  vs_best=np.log(np.array([0.1 / 0.2, 0.2 / 0.09, 0.6 / 0.45, 0.05 / 0.2])),
                  vs_best_interval=np.array([[-1.0, -0.5], [0.2, 0.9], [-0.1, 0.3], [-2.0, -1.0]]))
    return blank(ch4.Benchmark, **{**fields, **kw})


def test_benchmark_properties():
    b = _bench()
    assert list(b.groups()) == ["LM", "IC", "IC 5-shot", "IC 10-shot"]
    np.testing.assert_array_equal(b.groups()["IC 5-shot"], [False, False, True, False])
    # the variants: the rule's BNSL, the 1-break candidate, the best candidate (oracle)
    np.testing.assert_allclose(b.variant("1 break"), [0.3, 0.2, 0.6, 0.3])
    np.testing.assert_allclose(b.variant("oracle"), [0.1, 0.15, 0.6, 0.05])
    with pytest.raises(KeyError, match="variant"):
        b.variant("2 breaks")
    # against the paper's baselines: LM curve 1 BNSL 0.1 wins; curve 2 M4 0.09 wins
    assert b.shares("LM") == {"M1": 0.0, "M4": 0.5, "BNSL": 0.5}
    # with the book's: curve 2 M1 (0.1) wins
    assert b.shares("LM", baselines="book") == {"M1": 0.5, "M2": 0.0, "BNSL": 0.5}
    assert b.share("LM", "oracle") == 0.5 and b.share("IC", "oracle", "book") == 0.5
    headers, rows = b.table()
    assert headers == ["domain", "curves", "M1", "M4", "BNSL", "paper"]
    assert rows[0] == ["LM", 2, 0.0, 0.5, 0.5, "not readable"]
    headers, rows = b.sensitivity()
    assert headers[2:] == list(b.groups()) and rows[-1][2:] == [1, 0, 0, 0]
    assert len(rows) == len(ch4.VARIANTS) * len(ch4.BASELINE_SETS) + 1
    assert b.ratio("lang") == pytest.approx(np.exp(np.median(np.log([0.5, 0.2 / 0.09]))))
    # curve 2 has one held-out point: neither better nor worse, counted apart
    assert b.decided("lang") == (1, 0, 1) and b.decided("vision") == (1, 0, 0)
    assert (b.n("lang"), b.n_breaks(1), b.all_finite, b.paper_unconverged) == (2, 2, 4, 1)


def test_lead_counts_wins_as_the_paper_does():
    """Ties at 3 decimals split the win; the lead is BNSL's share less the best other form's."""
    errs = {"M1": np.array([0.0121, 0.3, 0.2]), "M4": np.array([0.05, 0.1, 0.0995]),
            "BNSL": np.array([0.0129, 0.2, 0.0991])}
    # curve 1: M1 and BNSL tie at 0.012; curve 2: M4; curve 3: M4 and BNSL tie at 0.099
    assert ch4.shares(errs) == pytest.approx({"M1": 0.5 / 3, "M4": 1.5 / 3, "BNSL": 1.0 / 3})
    assert ch4.lead(errs) == pytest.approx(1.0 / 3 - 1.5 / 3)
    stat = ch4.lead_interval(errs, 200, 0)
    assert stat[0] == pytest.approx(ch4.lead(errs)) and stat[1] <= stat[0] <= stat[2]
    with pytest.raises(ValueError, match="BNSL"):
        ch4.lead({"M1": errs["M1"], "M4": errs["M4"]})


def test_rule_and_double_descent_properties():
    e = {n: np.array([1.0, 3.0, 2.0, 4.0]) for n in ch4.RULE_FORMS}
    e["started at the truth"] = np.array([1.0, 2.0, 2.0, 3.0])
    rule = blank(ch4.RuleStudy, true_breaks=np.array([1, 2, 1, 2]), chosen=np.array([1, 1, 1, 2]),
                 rmsle=e, ratios={ch4.ratio_key("BNSL", "M4"): np.array([0.8, 0.5, 1.2])})
    assert rule.right == 0.75 and rule.median("BNSL") == 2.5
    # within 10 % of the reference on curves 1, 3 (3 > 2.2, 4 > 3.3)
    assert rule.near_truth == 0.5
    np.testing.assert_allclose(rule.ratio(ch4.ratio_key("BNSL", "M4")), [0.8, 0.5, 1.2])
    r = ch4.ratio_of_medians(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]), 100, 0)
    np.testing.assert_allclose(r, [0.5, 0.5, 0.5])
    test = np.array([[1.0, 3.0, 0.5, 0.4], [1.2, 2.0, 0.7, 0.2]])
    train = np.array([[0.5, 1e-3, 1e-7, 1e-8], [0.5, 1e-2, 1e-3, 1e-8]])
    dd = blank(ch4.DoubleDescent, widths=np.array([1.0, 2.0, 4.0, 8.0]), n_fit=3, label_noise=0.3,
               test=test, train=train,
               rmsle={"M4": np.array([0.1, 0.3]), "M1": np.array([0.2, 0.1]),
                      "BNSL": np.array([0.4, 0.2])})
    # median over curves [1.1, 2.5, 0.6, 0.3]: peak at width 2, 2.5 / 0.3 above the widest
    assert dd.peak_width == 2.0 and dd.peak_ratio == pytest.approx(2.5 / 0.3)
    assert dd.split_width == 4.0 and dd.peaks_fitted == 2
    # median training MSE [0.5, 5.5e-3, 5e-4, 1e-8] < 1e-4 * 0.09 first at width 8
    assert dd.interpolation_width == 8.0
    assert dd.median_bnsl == pytest.approx(0.3) and dd.median_best_baseline == pytest.approx(0.1)
    assert dd.shares() == {"M4": 0.5, "M1": 0.5, "BNSL": 0.0}


def test_synthetic_truth_keeps_its_breaks_inside_the_fitted_range():
    for seed in range(20):
        x, y, p = ch4._rule_truth(seed, 2, 28, 19)
        assert np.all(np.asarray(p["d"]) < x[18]) and np.min(np.diff(np.log10(p["d"]))) > 0.4
        assert p["c0"] + sum(p["c"]) >= 0.1 - 1e-12 and np.all(y > 0)
        f = ch4.fit_from_truth(x[:19], y[:19], p)        # noiseless: stays at the truth
        np.testing.assert_allclose(f.predict(x), y, rtol=1e-6)


def test_a_sixth_form_is_one_registry_entry(monkeypatch):
    """Registering another baseline (here M2 under a new name) puts it in every fit, the
    best-baseline statistic, the share table and the figures, with no other edit."""
    from scalinglaws.figures import ch4 as figures

    extra = ch4.Form("M2 again", partial(ch4._fit_baseline, "M2"), True,
                     dict(color="sky", linestyle="-", linewidth=1.0))
    monkeypatch.setitem(ch4.FORMS, extra.name, extra)
    cfg = ch4.Config.fast(benchmarks=("lang",), benchmark_curves=1, benchmark_starts=64,
                          n_refine=1, n_boot=20, workers=1, revisiting_rounds=200)
    bench = ch4._benchmark(cfg)
    assert list(bench.rmsle) == [*ch4.FORMS] and len(bench.rmsle) == 6
    np.testing.assert_allclose(bench.rmsle["M2 again"], bench.rmsle["M2"])
    headers, rows = bench.table("book")
    assert headers[-3] == "M2 again" and all(len(r) == len(headers) for r in rows)
    assert "M2 again" in figures.shares_table(bench, "book").data
    fig = figures.benchmark_figure(bench)
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "M2 again" in labels


def test_config_errors_name_the_field():
    for name in ("tf_seeds", "scan_stride", "dd_inits"):
        kw = {name: 0} | ({"tf_sizes": tuple(range(40, 121, 8)), "tf_fit_points": 8}
                          if name.startswith("tf") else {})
        with pytest.raises(ValueError, match=f"'{name}'"):
            ch4.Config.fast(**kw)
