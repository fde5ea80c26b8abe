"""The evidence layer: the rules a claim must follow, verdicts, ladders, and every chapter's
claims() function."""
import inspect
import math

import pytest

from scalinglaws.claims import (
    Claim,
    ClaimError,
    Ladder,
    Verdict,
    VerdictMismatch,
    assert_verdicts,
    budget_ladder,
    counts,
    table_html,
    tolerance_from_gap,
)
from scalinglaws.experiments import CHAPTERS, get


def make(**kw):
    base = dict(key="k", statement="loss falls as N^-1", source="Fig. 2C (arXiv v2)",
                paper_value=1.0, measured=1.02, interval=(1.0, 1.04),
                alternative="Adam-limited", alternative_value=0.76, tolerance=0.1,
                tolerance_source="0.4 x the gap", expected=Verdict.REPRODUCED)
    base.update(kw)
    return Claim(**base)


def converged_ladder(**kw):
    return Ladder("exponent", (1000, 2000, 4000), (0.9, 1.0, 1.01), tolerance=0.05, **kw)


def test_verdicts_follow_the_interval():
    assert make().verdict is Verdict.REPRODUCED
    assert make(measured=0.76, interval=(0.72, 0.8)).verdict is Verdict.NOT_REPRODUCED
    assert make(measured=0.76, interval=(0.72, 0.8)).matches_alternative
    assert make(measured=0.92, interval=(0.85, 0.95)).verdict is Verdict.INCONCLUSIVE
    # a point estimate inside the band with an interval wider than the band is not enough
    assert make(measured=1.0, interval=(0.8, 1.2)).verdict is Verdict.INCONCLUSIVE
    assert make(measured=math.nan, interval=(math.nan, math.nan)).verdict is Verdict.INCONCLUSIVE


def test_tolerance_must_be_below_half_the_gap():
    with pytest.raises(ClaimError, match="half the gap"):
        make(tolerance=0.12)          # gap 0.24, half 0.12: not strictly below
    with pytest.raises(ClaimError, match="half the gap"):
        make(alternative_value=1.05)  # the alternative sits inside the band
    make(tolerance=0.119)
    assert tolerance_from_gap(1.0, 0.76) == pytest.approx(0.096)
    with pytest.raises(ClaimError):
        tolerance_from_gap(1.0, 0.76, fraction=0.5)


def test_trained_claims_need_a_converged_ladder():
    with pytest.raises(ClaimError, match="ladder"):
        make(trained=True)
    moving = Ladder("exponent", (1000, 2000, 4000), (0.6, 0.8, 1.0), tolerance=0.05)
    assert not moving.converged and moving.drift == pytest.approx(0.2)
    c = make(trained=True, ladder=moving)
    # measured right on the paper's value, but still moving with the budget
    assert c.verdict is Verdict.INCONCLUSIVE and "still moving" in c.reason
    with pytest.raises(VerdictMismatch, match="inconclusive"):
        assert_verdicts([c])          # an unconverged claim recorded as reproduced is rejected
    ok = make(trained=True, ladder=converged_ladder())
    assert ok.verdict is Verdict.REPRODUCED
    assert_verdicts([ok])


def test_ladder_drift_per_doubling():
    lad = Ladder("x", (1000, 4000), (1.0, 1.2), tolerance=0.05)
    assert lad.drift == pytest.approx(0.1)  # 0.2 over two doublings
    rel = Ladder("loss", (1000, 2000), (1e-4, 1.04e-4), tolerance=0.05, relative=True)
    assert rel.drift == pytest.approx(0.04) and rel.converged
    with pytest.raises(ClaimError):
        Ladder("x", (2000, 1000), (1.0, 1.0), tolerance=0.1)
    seen = []
    lad = budget_ladder(lambda T: seen.append(T) or 1.0 / T, (100, 200, 400), quantity="q",
                        tolerance=0.01)
    assert seen == [100, 200, 400] and lad.converged


def test_assert_verdicts_reports_every_changed_outcome():
    a = make(key="a")
    b = make(key="b", measured=0.7, interval=(0.68, 0.72))
    with pytest.raises(VerdictMismatch) as e:
        assert_verdicts([a, b])
    assert "b:" in str(e.value) and "a:" not in str(e.value)
    assert_verdicts([a, b.with_expected(Verdict.NOT_REPRODUCED)])
    with pytest.raises(ClaimError, match="repeat"):
        assert_verdicts([a, a])
    assert counts([a, b]) == {"reproduced": 1, "not reproduced": 1, "inconclusive": 0}
    assert "not reproduced" in table_html([a, b]) and "Adam-limited" in table_html([a])


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_every_chapter_exposes_claims(chapter):
    mod = get(chapter)
    assert callable(getattr(mod, "claims", None)), f"{chapter} has no claims(result, config)"
    assert list(inspect.signature(mod.claims).parameters)[:2] == ["result", "config"]


def test_expected_may_list_verdicts_fast_mode_cannot_separate():
    c = make(measured=0.92, interval=(0.85, 0.95),
             expected=(Verdict.INCONCLUSIVE, Verdict.NOT_REPRODUCED))
    assert c.verdict is Verdict.INCONCLUSIVE and c.as_expected
    assert_verdicts([c])
    with pytest.raises(VerdictMismatch):
        assert_verdicts([c.with_expected((Verdict.REPRODUCED,))])
    with pytest.raises(ClaimError):
        make(expected=("reproduced", "reproduced"))
