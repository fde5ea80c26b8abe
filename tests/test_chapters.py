"""Every chapter: full mode runs on a CPU at tiny sizes through exactly the same code path
(``Config.smoke()`` is derived from ``Config.full()``), and its claims can be built from it."""
import pytest

from scalinglaws.claims import Claim
from scalinglaws.experiments import CHAPTERS, get


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_full_mode_smoke(chapter):
    mod = get(chapter)
    cfg = mod.Config.smoke()
    full = mod.Config.full()
    assert cfg.mode == "full" == full.mode and cfg.precision == full.precision
    result = mod.run(cfg)
    claims = mod.claims(result, cfg)
    assert claims and all(isinstance(c, Claim) for c in claims)
    assert all(c.chapter == chapter for c in claims)
    for c in claims:  # verdicts at toy sizes mean nothing, but they must be computable
        assert str(c.verdict) in ("reproduced", "not reproduced", "inconclusive"), c.key
    # every claim proper has its controls (tests/test_controls.py); consistency checks have none
    # (CONTROLS may also name claims that only other sizes make, e.g. more dimensions)
    assert {c.key for c in claims if c.kind == "claim"} <= set(mod.CONTROLS)
    assert not {c.key for c in claims if c.kind == "consistency"} & set(mod.CONTROLS)
