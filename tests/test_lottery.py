"""Chapter 3's pieces: the mirror statistic, and the fast configuration with other seeds."""
import numpy as np
import pytest

from scalinglaws.experiments.ch3_lottery_tickets import Config, mirror_statistic


def test_mirror_statistic_detects_pairs():
    rng = np.random.default_rng(0)
    w, b, v = rng.normal(size=32), rng.normal(size=32), rng.normal(size=32)
    paired = mirror_statistic(np.r_[w, -w], np.r_[b, b], np.r_[v, v])
    assert paired < 1e-12
    noisy = mirror_statistic(np.r_[w, -w + 0.01], np.r_[b, b], np.r_[v, v])
    assert noisy < 0.05
    random = mirror_statistic(rng.normal(size=64), rng.normal(size=64), rng.normal(size=64))
    assert random > 0.1


def test_config_validation():
    with pytest.raises(ValueError, match="'small_range'"):
        Config.fast(small_range=(3, 16))
    with pytest.raises(ValueError, match="'activations'"):
        Config.fast(activations=("relu",))


@pytest.mark.slow
def test_fast_config_other_seeds():
    from scalinglaws.experiments import ch3_lottery_tickets as ch3

    r = ch3.run(ch3.Config.fast(seeds=tuple(range(300, 310))))
    assert 0.7 <= r.exponent[0] <= 1.4
    assert r.small_slope[0] - r.small_slope[1] >= 0.5
    assert r.pair_is_ticket.sum() >= 1
    assert abs(r.ensemble_mse_slope + 1) <= 0.3
