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


def settled_ladder(values=(0.9, 1.0, 1.01, 1.02), **kw):
    n = len(values)
    return Ladder("exponent", tuple(1000 * 2 ** i for i in range(n)), values,
                  tuple((v - 0.02, v + 0.02) for v in values), **kw)


@pytest.mark.parametrize("interval, verdict", [
    ((1.0, 1.04), Verdict.REPRODUCED),            # inside the band
    ((0.72, 0.8), Verdict.NOT_REPRODUCED),        # below it
    ((1.15, 1.2), Verdict.NOT_REPRODUCED),        # above it
    ((0.85, 0.95), Verdict.INCONCLUSIVE),         # straddles the lower edge
    ((1.05, 1.15), Verdict.INCONCLUSIVE),         # straddles the upper edge
    ((0.8, 1.2), Verdict.INCONCLUSIVE),           # wider than the band, centred on it
    ((0.9, 1.1), Verdict.REPRODUCED),             # exactly the band (edges count as inside)
])
def test_every_branch_of_the_verdict_rule(interval, verdict):
    c = make(measured=sum(interval) / 2, interval=interval)
    assert c.verdict is verdict, c.reason
    word = {Verdict.REPRODUCED: "inside", Verdict.NOT_REPRODUCED: "outside",
            Verdict.INCONCLUSIVE: "straddles"}[verdict]
    assert word in c.reason


def test_verdicts_follow_the_interval():
    assert make(measured=0.76, interval=(0.72, 0.8)).matches_alternative
    assert not make(measured=1.17, interval=(1.15, 1.2)).matches_alternative
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


def test_trained_claims_need_a_ladder_of_the_claimed_quantity():
    with pytest.raises(ClaimError, match="ladder"):
        make(trained=True)
    with pytest.raises(ClaimError, match="last rung"):    # the ladder must end at the measurement
        make(trained=True, ladder=settled_ladder((0.9, 1.0, 1.01, 1.05)))
    ok = make(trained=True, ladder=settled_ladder())
    assert ok.verdict is Verdict.REPRODUCED
    assert_verdicts([ok])


@pytest.mark.parametrize("values, intervals, why", [
    ((0.6, 0.8, 1.02), None, "last doubling moves it"),                 # still climbing
    ((1.01, 1.02), None, "only 2 rungs"),                               # too short
    ((0.9, 1.0, 1.01, 1.02), ((0.8, 1), (0.9, 1.1), (0.95, 1.0), (1.01, 1.03)), "do not overlap"),
    ((0.71, 1.00, 0.86, 0.87, 1.02), None, "last doubling"),              # the pattern
    ((0.9, 1.15, 1.03, 1.02), None, "turns"),                           # a turn, one small step
])
def test_unsettled_ladders_give_inconclusive(values, intervals, why):
    n = len(values)
    iv = intervals or tuple((v - 0.02, v + 0.02) for v in values)
    lad = Ladder("SiLU exponent α", tuple(1600 * 2 ** i for i in range(n)), values, iv)
    assert not lad.settled(0.1) and why in lad.unsettled_because(0.1)
    c = make(measured=values[-1], interval=iv[-1], trained=True, ladder=lad)
    # measured right on the paper's value, but the ladder has not settled
    assert c.verdict is Verdict.INCONCLUSIVE
    assert "does not settle" in c.reason and lad.path() in c.reason
    with pytest.raises(VerdictMismatch, match="inconclusive"):
        assert_verdicts([c])          # an unsettled claim recorded as reproduced is rejected


def test_the_reason_names_a_path_through_the_paper_value():
    lad = Ladder("α", (1600, 3200, 6400), (0.71, 1.00, 0.86),
                 ((0.52, 0.75), (0.92, 1.08), (0.79, 0.94)))
    c = make(measured=0.86, interval=(0.79, 0.94), trained=True, ladder=lad,
             expected=Verdict.INCONCLUSIVE)
    assert "0.710, 1.000, 0.860 at 1600, 3200, 6400 steps" in c.reason
    assert "passes through the paper's value" in c.reason


def test_settled_uses_a_quarter_of_the_claims_tolerance():
    lad = settled_ladder((0.9, 1.0, 1.01, 1.034))   # last step 0.024 per doubling
    assert lad.settled(0.1)                         # 0.024 < 0.025
    assert not lad.settled(0.09)                    # 0.024 > 0.0225
    assert lad.drift == pytest.approx(0.024)
    two = Ladder("x", (1000, 4000, 16000), (1.0, 1.2, 1.21), ((1, 1), (1.2, 1.2), (1.2, 1.3)))
    assert two.steps() == pytest.approx([0.1, 0.005])   # change per doubling
    with pytest.raises(ClaimError):
        Ladder("x", (2000, 1000), (1.0, 1.0), ((1, 1), (1, 1)))
    with pytest.raises(ClaimError, match="interval"):
        Ladder("x", (1000, 2000), (1.0, 1.0), ((1, 1),))
    seen = []
    lad = budget_ladder(lambda T: seen.append(T) or (1.0 / T, 0.5 / T, 2.0 / T), (100, 200, 400),
                        quantity="q")
    assert seen == [100, 200, 400] and lad.settled(0.02) and not lad.settled(0.01)


def test_consistency_checks_are_not_counted():
    a = make(key="a")
    b = make(key="b", kind="consistency")
    assert counts([a, b]) == {"reproduced": 1, "not reproduced": 0, "inconclusive": 0}
    with pytest.raises(ClaimError, match="kind"):
        make(kind="demo")


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


def test_intervals_overlap_at_the_reported_precision():
    """A quantity that converged exactly has a point interval; a gap to the rung before smaller
    than half a unit of the claim's last digit is no gap, a larger one still is."""
    lad = Ladder("exponent", (1600, 3200, 6400, 12800), (0.7729, 0.7744, 0.77469, 0.774739),
                 ((0.7725, 0.7731), (0.7739, 0.7745), (0.7744, 0.7747), (0.774739, 0.774739)))
    assert not lad.overlap() and lad.overlap(0.0005)
    c = make(paper_value=0.7747, measured=0.774739, interval=(0.774739, 0.774739),
             alternative_value=0.75, tolerance=0.0099, trained=True, ladder=lad)
    assert c.resolution == pytest.approx(0.0005) and c.settled and c.verdict is Verdict.REPRODUCED
    far = Ladder("exponent", (1600, 3200, 6400), (0.7729, 0.7744, 0.7760),
                 ((0.7725, 0.7731), (0.7739, 0.7745), (0.7755, 0.7762)))
    assert not far.overlap(0.0005) and "do not overlap" in far.unsettled_because(0.0099, 0.0005)


#: the book's text column at 1400 px (px), and a generous width per character of the table's
#: 0.85 em text at the theme's 16 px (px); each cell adds its padding (px)
COLUMN_PX, CHAR_PX, CELL_PAD_PX = 772, 0.62 * 0.85 * 16, 2 * 12


def _min_width_px(table: str) -> float:
    """A lower bound a browser must give the table: per column, the widest unbreakable run plus
    padding. The table wraps anywhere (``overflow-wrap:anywhere``), so the unbreakable runs are its
    ``white-space:nowrap`` spans, and the headers' words."""
    import re

    assert "overflow-wrap:anywhere" in table
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    head = [max(len(re.sub(r"<[^>]+>", "", m)) for m in
                re.findall(r"white-space:nowrap[^>]*>(.*?)</span>", c, re.S))
            for c in re.findall(r"<th>(.*?)</th>", rows[0], re.S)]
    widest = head
    for row in rows[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        runs = [max([len(re.sub(r"<[^>]+>", "", m)) for m in
                     re.findall(r"white-space:nowrap[^>]*>(.*?)</span>", c, re.S)], default=1)
                for c in cells]
        widest = [max(a, b) for a, b in zip(widest, runs)]
    return sum(w * CHAR_PX + CELL_PAD_PX for w in widest)


def test_claims_table_fits_the_text_column():
    """Verdict first as a badge, five columns, details collapsed; the widest content that cannot
    wrap fits the 772 px column, with extreme values and long names."""
    rows = [make(key="a"), make(key="b", measured=-12345.678, interval=(-2e5, 3e-7),
                                 paper_value=-1.5e-9, alternative="a very long named "
                                 "alternative " * 5, expected=Verdict.NOT_REPRODUCED),
            make(key="c", interval=(1.01, 1.03), expected=Verdict.INCONCLUSIVE)]
    t = table_html(rows, controls=lambda c: "tests/test_controls.py::test_a_very_long_name_" * 3)
    assert "nowrap" in t and t.count("<th>") == 5 and t.index(">verdict<") < t.index(">claim<")
    assert t.count("<details>") == 3 and "test_a_very_long_name_" in t
    assert _min_width_px(t) < COLUMN_PX, _min_width_px(t)


def test_intervals_show_enough_digits_to_differ():
    from scalinglaws.claims import interval_digits

    assert interval_digits(0.7712, 0.7736, 2) == 3          # [0.77, 0.77] -> [0.771, 0.774]
    assert interval_digits(0.70, 0.90, 2) == 2
    assert interval_digits(1.0, 1.0, 2) == 2 and interval_digits(1.0, 1.0 + 1e-12, 2) == 5
    t = table_html([make(measured=0.7727, interval=(0.7711, 0.7736), digits=2)])
    assert "[0.771, 0.774]" in t


def test_scorecard_figure_labels_rows_in_words():
    import matplotlib

    matplotlib.use("Agg")
    from scalinglaws import plotting

    rows = [make(key=f"key_{i}", chapter=f"ch{i}_x", quantity="exponent α_D " + "x" * 6 * i)
            for i in range(6)]
    labels = [plotting.claim_label(c) for c in rows]
    assert labels[0] == "ch0 · exponent α_D " and all(len(s) <= 44 for s in labels)
    assert labels[-1].endswith("…") and not any("key_" in s for s in labels)
    ax = plotting.scorecard_figure(rows).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels[::-1]


def test_text_table_one_line_per_claim_verdict_first():
    from scalinglaws.claims import text_table

    rows = [make(key="a", quantity="exponent"), make(key="b", kind="consistency"),
            make(key="c", measured=0.7, interval=(0.68, 0.72), expected=Verdict.NOT_REPRODUCED)]
    lines = text_table(rows).splitlines()
    assert len(lines) == 4 and lines[0].startswith("verdict")
    assert lines[1].startswith("reproduced") and "a: exponent" in lines[1]
    assert "b (check)" in lines[2] and lines[3].startswith("not reproduced")
    assert "0.700 [0.680, 0.720]" in lines[3] and "Adam-limited" in lines[3]


def test_chapter_verdicts_counts_each_chapter():
    from scalinglaws import book

    rows = [make(key="a", chapter="ch5_data_distribution"),
            make(key="b", chapter="ch5_data_distribution", measured=0.7, interval=(0.68, 0.72),
                 expected=Verdict.NOT_REPRODUCED),
            make(key="c", chapter="ch5_data_distribution", kind="consistency"),
            make(key="d", chapter="ch1_resource_model", interval=(1.01, 1.2),
                 expected=Verdict.INCONCLUSIVE)]
    h = book.chapter_verdicts(rows).data
    r5, r1 = h.split("<tr>")[2:]
    assert "5. Scaling laws rooted" in r5 and ">1 reproduced<" in r5
    assert ">1 not reproduced<" in r5 and "<td>1</td>" in r5 and "inconclusive" not in r5
    assert ">1 inconclusive<" in r1 and "<td>0</td>" in r1


def test_ladder_figure_is_never_wider_than_the_column():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scalinglaws import plotting

    lad = Ladder("exponent", (1000, 2000, 4000), (0.9, 0.98, 1.0),
                 ((0.85, 0.95), (0.95, 1.01), (0.98, 1.02)))
    rows = [make(key=f"k{i}", ladder=lad, measured=1.0, interval=(0.98, 1.02)) for i in range(5)]
    for ncols in (1, 2, 3):
        fig = plotting.ladder_figure(rows, ncols=ncols)
        assert fig.get_figwidth() <= plotting.COLUMN_IN
        plt.close(fig)


def test_a_stated_value_is_shown_beside_the_tested_one_and_needs_its_wording():
    c = make(stated_value=1.25, stated_as="4/d, asymptotic")
    html = table_html([c])
    assert "paper states 1.250" in html and "4/d, asymptotic" in html
    assert "paper states" not in table_html([make()])
    with pytest.raises(ClaimError, match="stated_as"):
        make(stated_value=1.25)
    with pytest.raises(ClaimError, match="stated_value"):
        make(stated_value=math.inf, stated_as="x")
    assert make(stated_value=2, stated_as="x").verdict is Verdict.REPRODUCED   # tested: 1.0


def test_decided_keeps_only_the_claims_recorded_as_decided():
    from scalinglaws.claims import decided

    a, b = make(key="a"), make(key="b", expected=(Verdict.REPRODUCED, Verdict.INCONCLUSIVE))
    c = make(key="c", expected=Verdict.NOT_REPRODUCED, interval=(0.7, 0.8), measured=0.75)
    assert [x.key for x in decided([a, b, c])] == ["a", "c"]


def test_a_bound_claim_reads_its_interval_against_the_bound():
    """``sense=">="``: the paper states a lower bound; reproduced when the whole interval lies at
    or above the bound less the tolerance, not reproduced when it lies below, inconclusive when
    it straddles; the table shows the bound as "≥"."""
    from scalinglaws.claims import Claim, ClaimError, Verdict, table_html, text_table

    def bound(lo, hi, **kw):
        base = dict(key="lead", statement="BNSL best on more curves", source="Table 1",
                    paper_value=0.2, measured=(lo + hi) / 2, interval=(lo, hi),
                    alternative="no lead", alternative_value=0.0, tolerance=0.08,
                    tolerance_source="0.4 × one curve", expected=Verdict.REPRODUCED, sense=">=")
        return Claim(**{**base, **kw})

    assert bound(0.121, 0.9).verdict is Verdict.REPRODUCED       # lo above 0.2 - 0.08
    assert bound(0.3, 0.5).verdict is Verdict.REPRODUCED         # far above: still the bound
    assert bound(-0.4, 0.11).verdict is Verdict.NOT_REPRODUCED
    assert bound(-0.05, 0.05).matches_alternative
    assert bound(0.0, 0.5).verdict is Verdict.INCONCLUSIVE
    assert "≥ 0.200" in table_html([bound(0.3, 0.5)]) and "≥ 0.200" in text_table([bound(0.3, 0.5)])
    assert "at or above 0.120" in bound(0.3, 0.5).reason
    with pytest.raises(ClaimError, match="below its bound"):
        bound(0.3, 0.5, alternative_value=0.5, tolerance=0.1)
    with pytest.raises(ClaimError, match="sense"):
        bound(0.3, 0.5, sense=">")
