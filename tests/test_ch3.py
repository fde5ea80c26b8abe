"""Chapter 3 beyond its claims: the numbers its prose quotes (properties of its parts, checked on
toy inputs against hand computations), the two-neuron criterion, the lowest-mode finder and the
tickets' residual statistics."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from chapter_helpers import blank

from scalinglaws.experiments import ch3_lottery_tickets as ch3


def test_fast_ladders_have_the_rungs_the_chapter_quotes():
    cfg = ch3.Config.fast()
    assert len(cfg.budgets) == 4 and cfg.pair_rungs == 4


def test_pair_asymmetry_is_relative_per_parameter():
    ticket = [0.5, -0.5, -1.1, -1.1, 16.0, 16.0]
    assert ch3.pair_asymmetry(np.array([ticket]))[0] == 0.0
    # a 10 % mismatch of the small input weight is not hidden by the large output weights
    off = [0.5, -0.45, -1.1, -1.1, 16.0, 16.0]
    assert ch3.pair_asymmetry(np.array([off]))[0] == pytest.approx(0.1)
    # a 1 % mismatch of the output weights counts as 1 %, not 1/16 of it
    v = [0.5, -0.5, -1.1, -1.1, 16.0, 16.16]
    assert ch3.pair_asymmetry(np.array([v]))[0] == pytest.approx(0.16 / 16.16)


def test_lowest_peak_finds_the_lowest_mode():
    rng = np.random.default_rng(0)
    low = 10 ** rng.normal(-7, 0.2, 250)
    high = 10 ** rng.normal(-4, 0.3, 600)
    dead = np.full(150, 1.0)                      # the networks that do not fit
    loss = np.r_[low, high, dead]
    peak = ch3.lowest_peak(loss, loss < 1e-2, 0.25, 0.05)
    assert 230 <= peak.sum() <= 260 and peak[:250].mean() > 0.9 and not peak[250:].any()
    # a handful of stragglers below the mode is not a mode of its own
    loss2 = np.r_[10 ** rng.normal(-10, 0.1, 3), loss]
    peak2 = ch3.lowest_peak(loss2, loss2 < 1e-2, 0.25, 0.05)
    assert peak2[:3].all() and 230 <= peak2.sum() <= 265


def test_ticket_residual_stats_tell_the_three_cases_apart():
    rng = np.random.default_rng(1)
    x = np.linspace(-2, 2, 201)
    y, M, c = x ** 2, 16, 0.2
    e = 0.05 * rng.standard_normal((M, len(x)))

    def pairs(err):
        return (y[None] + err - c) / M

    corr, shared = ch3.ticket_residual_stats(pairs(e), c, y)
    assert abs(corr) < 0.05 and shared == pytest.approx(1 / M, rel=0.3)   # independent
    corr, shared = ch3.ticket_residual_stats(pairs(0.1 * x[None] ** 4 + 0 * e), c, y)
    assert corr == pytest.approx(1.0) and shared == pytest.approx(1.0)    # one shared bias
    corr, shared = ch3.ticket_residual_stats(pairs(e - e.mean(0)), c, y)
    assert shared < 1e-20 and corr == pytest.approx(-1 / (M - 1), abs=0.02)  # they cancel


def test_sweep_properties():
    test = np.ones((1, 2, 2, 3))
    test[0, 1] = [[1e-2, 1e-3, 1e-4], [1e-2, 1e-3, 1e-4]]
    sw = blank(ch3.WidthSweep, widths=np.array([4.0, 8.0, 16.0]), budgets=np.array([100, 200]),
               test_mse=test, train_mse=test * 1.1,
               alpha=np.array([[[0.5, 0.4, 0.6], [0.8, 0.7, 0.9]]]),
               polished_mse=np.array([[1e-3, 1e-4, 1e-6], [1e-3, 1e-4, 1e-6]]),
               polished_half_mse=np.array([[2e-3, 4e-4, 4e-6], [2e-3, 4e-4, 4e-6]]))
    x, s = sw.local(1)
    np.testing.assert_allclose(s, [np.log2(10), np.log2(10)]) and np.testing.assert_allclose(
        x, [np.sqrt(32), np.sqrt(128)])
    assert sw.drift == pytest.approx(0.3) and sw.peak == (0.8, 200.0)
    assert sw.polish_ratio == pytest.approx(10.0)              # min of 10, 10, 100
    assert sw.polish_drop == pytest.approx(4.0)                # median of 2, 4, 4
    assert sw.train_test == pytest.approx(1.1) and sw.floor == pytest.approx(1e-4)


def test_mechanism_and_pairs_properties():
    me = blank(ch3.Mechanism, mirror_init=np.array([1.4, 1.5, 1.6]), ensemble_width=64,
               mirror=np.array([[1.0, 1.2, 1.4]]))
    assert me.null == 1.5 and me.pairs == 32 and me.mirror_stats[0, 0] == pytest.approx(1.2)
    params = np.array([[0.5, -0.5, -1.0, -1.2, 10.0, 10.0], [0.5, -0.5, 1.1, 1.1, 9.0, 9.0],
                       [0.5, 0.3, 0.0, 0.0, 1.0, 1.0]])
    tn = blank(ch3.TwoNeuron, params=params, ticket=np.array([True, True, False]),
               in_peak=np.array([True, True, True]), share=np.array([[0.4, 0.3, 0.5], [0.6, 0.5, 0.7]]))
    assert tn.ticket_bias == pytest.approx(1.1)       # median of |b| over 1.0, 1.2, 1.1, 1.1
    assert tn.drift == pytest.approx(0.2) and tn.quartic_root == pytest.approx(1.032, abs=1e-3)
    assert np.isnan(dataclasses.replace(tn, in_peak=np.zeros(3, bool)).ticket_bias)
