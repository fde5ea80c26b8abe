"""Chapter 0: its fast configuration with seeds the chapter does not use (the same verdicts),
and the numbers its prose quotes (properties of its parts)."""
import numpy as np
import pytest

from scalinglaws.claims import assert_verdicts
from scalinglaws.experiments import ch0_measuring as ch0


@pytest.mark.slow(chapter="ch0_measuring")
def test_fast_config_other_seeds():
    cfg = ch0.Config.fast(seeds=(101, 102, 103, 104))
    r = ch0.run(cfg)
    assert_verdicts(ch0.claims(r, cfg))


@pytest.mark.slow(chapter="ch0_measuring")
def test_decided_verdict_survives_one_more_doubling():
    """The chapter's only trained claim is decided (reproduced); with every budget ladder one
    doubling longer (2x its last rung) it must read the same, from a ladder that still settles.
    (Chapters 1 and 3 have no decided trained claim in fast mode: all read inconclusive.)"""
    cfg = ch0.Config.fast().doubled()
    claims = ch0.claims(ch0.run(cfg), cfg)
    assert_verdicts(claims)                   # the verdicts the chapter records for fast mode
    c = claims[0]
    assert c.settled and len(c.ladder.budgets) == len(ch0.Config.fast().ladder) + 1


def test_teacher_bound_is_exact_for_linear_algebra():
    """The Eckart-Young optimum is what a rank-N least-squares fit achieves."""
    from scalinglaws.data import ZipfTeacher

    t = ZipfTeacher.make(32, 0.75, seed=0)
    C = np.sqrt(t.p)[:, None] * (t.Y - t.p @ t.Y)
    U, s, Vt = np.linalg.svd(C)
    for N in (1, 4, 16):
        approx = (U[:, :N] * s[:N]) @ Vt[:N]
        assert ((C - approx) ** 2).sum() / t.d_out == pytest.approx(t.optimal_loss(N)[0])
    assert np.all(np.diff(t.optimal_loss(np.arange(1, 32))) < 0)


def test_ladder_must_double_and_end_at_the_budget():
    with pytest.raises(ValueError, match="'ladder'"):
        ch0.Config.fast(ladder=(500, 1600))
    with pytest.raises(ValueError, match="'ladder'"):
        ch0.Config.fast(steps=2000)


def test_part_properties_against_hand_computations():

    import numpy as np
    from chapter_helpers import blank

    sc = blank(ch0.Scaling, widths=np.array([1.0, 2.0, 4.0]), seeds=np.array([0, 1]),
               gap_to_optimum=np.array([0.01, -0.03, 0.002]),
               ladder_exponents=np.array([[0.70, 0.6, 0.8], [0.78, 0.7, 0.8], [0.775, 0.7, 0.8]]))
    assert sc.n_networks == 6 and sc.gap_max_pct == pytest.approx(3.0)
    assert sc.drift == pytest.approx(0.005)
    pr = blank(ch0.Prediction, widths=np.array([1.0, 2.0, 4.0, 8.0, 16.0]),
               fit_range=np.array([2, 8]), predicted=0.8, predicted_first=0.81, asymptotic=0.75)
    assert pr.n_fit == 3 and "2..8" in pr.describe()


def test_prediction_is_the_run_s_prediction():
    """The Setup cell's prediction (teachers alone, no training) is the one the claim tests."""
    cfg = ch0.Config.smoke()
    p = ch0.prediction(cfg)
    assert p.optimal.shape == (len(cfg.seeds), len(cfg.widths))
    assert p.predicted_first == pytest.approx(
        ch0.fit_median(p.widths, p.optimal[:1], *cfg.fit_range).require().exponent)
