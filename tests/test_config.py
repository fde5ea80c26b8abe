import pytest

from scalinglaws import config
from scalinglaws.config import ConfigError
from scalinglaws.experiments import ch0_measuring as ch0


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv("BOOK_MODE", "fast")
    assert config.mode() == "fast"
    monkeypatch.setenv("BOOK_MODE", "FULL")
    assert config.mode() == "full"


def test_mode_default_is_fast_even_with_cuda(monkeypatch):
    """Full mode is opt-in: a CUDA device (a Colab GPU runtime) still runs fast by default."""
    monkeypatch.delenv("BOOK_MODE", raising=False)
    for cuda in (False, True):
        monkeypatch.setattr("torch.cuda.is_available", lambda cuda=cuda: cuda)
        assert config.mode() == "fast"


def test_bogus_mode_names_variable_and_choices(monkeypatch):
    monkeypatch.setenv("BOOK_MODE", "bogus")
    with pytest.raises(ValueError) as e:
        config.mode()
    msg = str(e.value)
    assert "BOOK_MODE" in msg and "'fast'" in msg and "'full'" in msg and "bogus" in msg
    with pytest.raises(ValueError, match="BOOK_MODE"):
        ch0.Config.for_mode()


def test_for_mode_picks_constructor(monkeypatch):
    monkeypatch.setenv("BOOK_MODE", "full")
    assert ch0.Config.for_mode().mode == "full"
    assert ch0.Config.for_mode("fast").mode == "fast"


def test_impossible_config_names_the_field():
    with pytest.raises(ConfigError, match="'K'"):
        ch0.Config.fast(K=4)
    with pytest.raises(ConfigError, match="'widths'"):
        ch0.Config.fast(widths=(4, 2))
    with pytest.raises(ConfigError, match="'seeds'"):
        ch0.Config.fast(seeds=(1, 1))
    with pytest.raises(ConfigError, match="'precision'"):
        ch0.Config.fast(precision="float16")
    with pytest.raises(ConfigError, match="'nonexistent'"):
        ch0.Config.fast().replace(nonexistent=3)


def test_configs_are_frozen_and_hash_by_value():
    a, b = ch0.Config.fast(), ch0.Config.fast()
    assert a == b and a.digest() == b.digest()
    assert a.with_seeds([7, 8]).digest() != a.digest()
    with pytest.raises(AttributeError):
        a.K = 3  # type: ignore[misc]


def test_device_and_dtype_policy(monkeypatch):
    import torch

    assert config.device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            config.device("cuda")
    assert config.torch_dtype("float64") is torch.float64
    with pytest.raises(ConfigError, match="precision"):
        config.torch_dtype("half")


def test_seed_helpers_are_stable():
    assert config.derive_seed("a", 1) == config.derive_seed("a", 1)
    assert config.derive_seed("a", 1) != config.derive_seed("a", 2)
    assert config.rng(3).random() == config.rng(3).random()


def test_doubled_extends_every_budget_ladder_by_one_doubling():
    from scalinglaws.experiments import ch0_measuring as ch0
    from scalinglaws.experiments import ch1_resource_model as ch1
    from scalinglaws.experiments import ch3_lottery_tickets as ch3

    c0 = ch0.Config.fast().doubled()
    assert c0.ladder == ch0.Config.fast().ladder + (2 * ch0.Config.fast().ladder[-1],)
    assert c0.steps == c0.ladder[-1]
    c1, f1 = ch1.Config.fast().doubled(), ch1.Config.fast()
    assert c1.budgets[-1] == 2 * f1.budgets[-1] and c1.parallel_budgets[-1] == 2 * f1.parallel_budgets[-1]
    assert len(c1.budgets) == len(f1.budgets) + 1 and c1.seeds == f1.seeds
    c3, f3 = ch3.Config.fast().doubled(), ch3.Config.fast()
    assert c3.budgets[-1] == 2 * f3.budgets[-1] and c3.pair_rungs == f3.pair_rungs + 1


def test_full_mode_refuses_a_device_without_its_memory(monkeypatch):
    """A full run states its peak memory and refuses, in one message naming the need and what
    the device has, a device with less; fast mode and unmeasured configs are never refused."""
    from scalinglaws.experiments import ch5_data_distribution as ch5
    from scalinglaws.experiments.common import Run

    full = ch5.Config.full()
    assert f"peak memory: about {full.expected_memory_gb:.1f} GB" in full.describe()
    monkeypatch.setattr(config, "available_memory_gb", lambda dev=None: ("this machine", 2.0))
    with pytest.raises(config.ConfigError, match=r"needs about 5\.7 GB .* has 2\.0 GB.*BOOK_MODE=fast"):
        Run.start(ch5.Config, full)
    Run.start(ch5.Config, ch5.Config.fast())
    Run.start(ch5.Config, ch5.Config.smoke())          # full code path, not measured: no check
    monkeypatch.setattr(config, "available_memory_gb", lambda dev=None: ("this machine", 64.0))
    Run.start(ch5.Config, full)
    with pytest.raises(config.ConfigError, match="expected_memory_gb"):
        ch5.Config.fast(expected_memory_gb=-1.0)


def test_available_memory_reads_the_host():
    where, gb = config.available_memory_gb()
    assert where == "this machine" and (gb is None or 0 < gb < 1e5)


def test_ch2_full_mode_needs_its_largest_kernel_matrix(monkeypatch):
    """ch2's full scans build a float64 D x D kernel matrix for D = 65,536: 8 * 65536**2 bytes
    (34.4 GB) is a lower bound on its memory, stated as such, and a 16 GB GPU is refused."""
    from scalinglaws.experiments import ch2_explaining as ch2

    full = ch2.Config.full()
    assert full.expected_memory_gb == pytest.approx(8 * 65536 ** 2 / 1e9)
    assert "peak memory: at least 34.4 GB" in full.describe()
    monkeypatch.setattr(config, "available_memory_gb", lambda dev=None: ("this GPU (T4)", 16.0))
    with pytest.raises(config.ConfigError, match=r"needs at least 34\.4 GB .* this GPU \(T4\)"):
        full.check_memory()
    assert ch2.Config.fast().expected_memory_gb is None
