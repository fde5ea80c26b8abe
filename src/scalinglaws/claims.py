"""Claims as data: a paper's statement, our measurement, a named alternative and a verdict.

Every chapter states what it checks as a list of :class:`Claim` records, returned by
``experiments.chN_*.claims(result, config)``.  A claim carries the paper's value, our measurement
with its interval over seeds, the **named alternative** the check must rule out (the competing
prediction: "Adam-limited -0.76", "asymptote 0.5", "the prediction for d - 1" ...), a tolerance
with one line saying where it comes from, and the verdict the book records today (``expected``).

The verdict is *computed*, never typed:

* ``reproduced``      -- the whole measured interval lies within ``tolerance`` of the paper's value;
* ``not reproduced``  -- the whole measured interval lies farther than ``tolerance`` from it;
* ``inconclusive``    -- the interval straddles the edge, or the measurement comes from trained
  networks whose budget ladder (:class:`Ladder`) has not settled (the reason gives its path).

Every claim has two **controls** in the tests (``CONTROLS`` in its chapter's module names them):
an input built so that the paper's statement is true (it must read reproduced) and one built so
that the alternative is (it must read not reproduced), each sent through the chapter's own
statistic and ``claims()``.  A quantity for which no such input can be built is a **consistency
check** (``kind="consistency"``): shown apart, not counted among the claims.

Rules enforced on construction (a :class:`ClaimError` names the claim):

* the tolerance is smaller than half the gap between the paper's value and the alternative, so a
  measurement cannot be within tolerance of both -- the check can tell them apart;
* a claim measured on trained networks carries a budget ladder of the claimed quantity itself,
  whose last rung is the claim's measurement.

A chapter asserts ``verdict == expected`` for each of its claims with :func:`assert_verdicts`, so a
changed outcome stops the build; a claim that does not hold is recorded as ``not reproduced``,
which is a result, not a failure.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .fit.powerlaw import interval_digits


class Verdict(str, Enum):
    """Outcome of a claim's check."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:  # "reproduced", not "Verdict.REPRODUCED"
        return self.value


class ClaimError(ValueError):
    """A claim breaks one of the book's rules (the message names the claim and the rule)."""


# ----------------------------------------------------------------------------- budget ladders
#: a ladder is settled when its last doubling moves the quantity by less than this fraction of
#: the claim's tolerance (and the last two intervals overlap); see :meth:`Ladder.settled`
SETTLE_FRACTION = 0.25
#: fewest rungs a settled ladder has: two rungs show one step, not whether the steps shrink
MIN_RUNGS = 3


@dataclass(frozen=True)
class Ladder:
    """The claimed quantity itself, measured at training budgets ``T, 2T, 4T, ...`` (same seeds),
    with its interval at each rung.  The last rung is the claim's measurement.

    The rule for **settled**, stated once (:meth:`settled`), for a claim of tolerance ``tol``:

    * at least :data:`MIN_RUNGS` rungs;
    * the last doubling moves the quantity by less than ``SETTLE_FRACTION * tol``;
    * the last two rungs' intervals overlap (at the claim's reported precision: a gap below
      half a unit of its last printed digit is no gap, so a quantity that has converged
      exactly, whose interval shrinks to a point, is not called moving by a hair);
    * a non-monotone ladder (its steps change sign) needs the step before the last to be small
      as well: one small last step after a turn is not convergence.

    A trained-network claim is reproduced or not reproduced only from a settled ladder.
    """

    quantity: str                   # what was measured, e.g. "SiLU exponent α"
    budgets: tuple[float, ...]      # training budgets, increasing (doubling)
    values: tuple[float, ...]       # the quantity at each budget
    intervals: tuple[tuple[float, float], ...]  # its interval at each budget
    unit: str = "steps"

    def __post_init__(self) -> None:
        b = tuple(float(v) for v in np.asarray(self.budgets, float).ravel())
        v = tuple(float(x) for x in np.asarray(self.values, float).ravel())
        iv = np.asarray(self.intervals, float)
        object.__setattr__(self, "budgets", b)
        object.__setattr__(self, "values", v)
        if len(b) < 2 or len(b) != len(v):
            raise ClaimError(f"ladder {self.quantity!r}: needs >= 2 budgets with one value each, "
                             f"got {len(b)} budgets and {len(v)} values")
        if iv.shape != (len(b), 2):
            raise ClaimError(f"ladder {self.quantity!r}: needs one (lo, hi) interval per budget, "
                             f"got shape {iv.shape} for {len(b)} budgets")
        object.__setattr__(self, "intervals", tuple((float(min(lo, hi)), float(max(lo, hi)))
                                                    for lo, hi in iv))
        if any(x <= 0 for x in b) or any(b2 <= b1 for b1, b2 in zip(b, b[1:])):
            raise ClaimError(f"ladder {self.quantity!r}: budgets must be positive and increasing, "
                             f"got {b}")

    def steps(self) -> np.ndarray:
        """Change of the quantity per doubling of the budget between consecutive rungs (signed)."""
        b, v = np.asarray(self.budgets), np.asarray(self.values)
        return (v[1:] - v[:-1]) / np.log2(b[1:] / b[:-1])

    @property
    def drift(self) -> float:
        """|change per doubling| over the last doubling (NaN if a value is not finite)."""
        d = float(self.steps()[-1])
        return abs(d) if math.isfinite(d) else math.nan

    @property
    def monotone(self) -> bool:
        s = np.sign(self.steps())
        return bool(np.all(s >= 0) or np.all(s <= 0))

    def overlap(self, resolution: float = 0.0) -> bool:
        """Whether the last two rungs' intervals overlap (closer than ``resolution``)."""
        (lo1, hi1), (lo2, hi2) = self.intervals[-2:]
        return lo2 - hi1 <= resolution and lo1 - hi2 <= resolution

    def unsettled_because(self, tolerance: float, resolution: float = 0.0) -> str:
        """Why the ladder is not settled for a claim of ``tolerance`` ('' when it is);
        ``resolution``: the gap between intervals below which they count as overlapping."""
        limit = SETTLE_FRACTION * float(tolerance)
        if not all(math.isfinite(x) for x in self.values):
            return "a rung has no finite value"
        if len(self.budgets) < MIN_RUNGS:
            return f"only {len(self.budgets)} rungs (a settled ladder needs {MIN_RUNGS})"
        if not self.drift < limit:
            return (f"the last doubling moves it by {self.drift:.3g}, not below a quarter of the "
                    f"tolerance ({limit:.3g})")
        if not self.overlap(resolution):
            return "the last two intervals do not overlap"
        if not self.monotone and not abs(float(self.steps()[-2])) < limit:
            return (f"it turns, and only its last step is small (the one before moves it by "
                    f"{abs(float(self.steps()[-2])):.3g})")
        return ""

    def settled(self, tolerance: float, resolution: float = 0.0) -> bool:
        return not self.unsettled_because(tolerance, resolution)

    def path(self, digits: int = 3) -> str:
        """'0.71, 1.00, 0.86 at 1600, 3200, 6400 steps'."""
        vals = ", ".join(_fmt(v, digits) for v in self.values)
        return f"{vals} at {', '.join(f'{b:g}' for b in self.budgets)} {self.unit}"

    def describe(self, tolerance: float, digits: int = 3) -> str:
        why = self.unsettled_because(tolerance, 0.5 * 10.0 ** -digits)
        return f"{self.quantity} = {self.path(digits)}: " + (f"not settled, {why}" if why
                                                              else "settled")


def budget_ladder(measure: Callable[[int], tuple[float, float, float]], budgets: Sequence[int], *,
                  quantity: str, unit: str = "steps") -> Ladder:
    """Run ``measure(T) -> (value, lo, hi)`` at every budget ``T`` (e.g. train at T steps, fit an
    exponent with its bootstrap interval) and return the :class:`Ladder`."""
    budgets = [int(b) for b in budgets]
    rungs = [tuple(float(v) for v in measure(b)) for b in budgets]
    return Ladder(quantity, tuple(budgets), tuple(r[0] for r in rungs),
                  tuple((r[1], r[2]) for r in rungs), unit)


def ladder_from(quantity: str, budgets, stats, unit: str = "steps") -> Ladder:
    """A ladder from an array of per-rung ``(value, lo, hi)`` rows."""
    s = np.asarray(stats, float).reshape(len(budgets), 3)
    return Ladder(quantity, tuple(budgets), tuple(s[:, 0]), tuple(map(tuple, s[:, 1:])), unit)


# ----------------------------------------------------------------------------- claims
def _interval(lo: float, hi: float, measured: float) -> tuple[float, float]:
    lo, hi = float(lo), float(hi)
    if hi < lo:
        lo, hi = hi, lo
    return min(lo, measured), max(hi, measured)


@dataclass(frozen=True)
class Claim:
    """One checked statement of a paper (see the module docstring for the rules)."""

    key: str                        # short id, unique within the chapter
    statement: str                  # the paper's claim, in one line
    source: str                     # figure / table / equation and arXiv version
    paper_value: float              # the value the paper's claim predicts
    measured: float                 # our measurement
    interval: tuple[float, float]   # its interval over seeds (bootstrap 16-84 % unless stated)
    alternative: str                # the competing prediction the check must rule out
    alternative_value: float        # its value
    tolerance: float                # |measured - paper_value| that still counts as agreement
    tolerance_source: str           # one line: where the tolerance comes from
    expected: Verdict | tuple       # the verdict the book records today (a tuple of verdicts
                                    # where fast mode cannot decide between them; say why)
    chapter: str = ""
    quantity: str = ""              # what is measured, e.g. "exponent alpha_D"
    interval_source: str = "bootstrap over seeds, 16-84 %"
    trained: bool = False           # measured on trained networks: needs a settled ladder
    ladder: Ladder | None = None
    kind: str = "claim"             # "claim" (has controls) or "consistency" (a check that no
                                    # planted input can fail for the right reason)
    figure: str = ""                # name of the chapter figure that shows it (for links)
    digits: int = 3
    notes: str = ""
    #: the value the paper itself states, where the claim tests a finite-size theory of it (the
    #: "paper" column then shows both: the tested value, and the stated one beneath it)
    stated_value: float | None = None
    stated_as: str = ""             # how the paper states it, e.g. "4/d, asymptotic"
    #: "=": the paper states a value (reproduced within ``tolerance`` of it); ">=": the paper
    #: states a bound, "the quantity is at least ``paper_value``" (reproduced when the whole
    #: interval lies at or above ``paper_value - tolerance``, not reproduced when it lies below)
    sense: str = "="

    def __post_init__(self) -> None:
        for name in ("paper_value", "measured", "alternative_value", "tolerance"):
            v = getattr(self, name)
            if isinstance(v, (np.generic,)):
                object.__setattr__(self, name, v.item())
        exp = self.expected if isinstance(self.expected, tuple) else (self.expected,)
        try:
            exp = tuple(Verdict(v) for v in exp)
        except ValueError:
            raise ClaimError(f"claim {self.key!r}: expected must be a Verdict or a tuple of "
                             f"them, got {self.expected!r}") from None
        if not exp or len(set(exp)) != len(exp):
            raise ClaimError(f"claim {self.key!r}: expected lists no verdict, or one twice")
        object.__setattr__(self, "expected", exp[0] if len(exp) == 1 else exp)
        lo, hi = self.interval
        object.__setattr__(self, "interval", _interval(lo, hi, self.measured)
                           if math.isfinite(self.measured) else (float(lo), float(hi)))
        for name in ("paper_value", "alternative_value", "tolerance"):
            if not math.isfinite(float(getattr(self, name))):
                raise ClaimError(f"claim {self.key!r}: {name} must be finite, "
                                 f"got {getattr(self, name)!r}")
        if self.tolerance <= 0:
            raise ClaimError(f"claim {self.key!r}: tolerance must be > 0, got {self.tolerance}")
        if self.sense not in ("=", ">="):
            raise ClaimError(f"claim {self.key!r}: sense must be '=' or '>=', got {self.sense!r}")
        if self.sense == ">=" and not self.alternative_value < self.paper_value:
            raise ClaimError(f"claim {self.key!r}: a bound claim's alternative "
                             f"({self.alternative_value:g}) must lie below its bound "
                             f"({self.paper_value:g})")
        gap = abs(self.paper_value - self.alternative_value)
        if not self.tolerance < 0.5 * gap:
            raise ClaimError(
                f"claim {self.key!r}: tolerance {self.tolerance:g} is not below half the gap "
                f"({0.5 * gap:g}) between the paper's value {self.paper_value:g} and the "
                f"alternative {self.alternative_value:g} ({self.alternative}): the check could not "
                f"tell them apart")
        if self.trained and self.ladder is None:
            raise ClaimError(f"claim {self.key!r} is measured on trained networks and needs a "
                             f"budget ladder (ladder=Ladder(...))")
        if self.ladder is not None and math.isfinite(self.measured) and not math.isclose(
                self.ladder.values[-1], self.measured, rel_tol=1e-9, abs_tol=1e-12):
            raise ClaimError(f"claim {self.key!r}: its ladder's last rung "
                             f"({self.ladder.values[-1]:g}) is not its measurement "
                             f"({self.measured:g}): a ladder tracks the claimed quantity itself")
        if self.stated_value is not None:
            if not math.isfinite(float(self.stated_value)) or not self.stated_as:
                raise ClaimError(f"claim {self.key!r}: a stated_value must be finite and say how "
                                 f"the paper states it (stated_as)")
            object.__setattr__(self, "stated_value", float(self.stated_value))
        if self.kind not in ("claim", "consistency"):
            raise ClaimError(f"claim {self.key!r}: kind must be 'claim' or 'consistency', "
                             f"got {self.kind!r}")
        if not self.statement or not self.source or not self.alternative or not self.tolerance_source:
            raise ClaimError(f"claim {self.key!r}: statement, source, alternative and "
                             f"tolerance_source must all be given")

    # -- the verdict --------------------------------------------------------------------
    @property
    def gap(self) -> float:
        return abs(self.paper_value - self.alternative_value)

    @property
    def settled(self) -> bool:
        """False only for a trained-network claim whose ladder has not settled."""
        return not self.trained or (self.ladder is not None
                                    and self.ladder.settled(self.tolerance, self.resolution))

    @property
    def resolution(self) -> float:
        """Half a unit of the last digit the claim is reported to."""
        return 0.5 * 10.0 ** -self.digits

    @property
    def measured_ok(self) -> bool:
        lo, hi = self.interval
        return all(math.isfinite(v) for v in (self.measured, lo, hi))

    @property
    def verdict(self) -> Verdict:
        if not self.measured_ok or not self.settled:
            return Verdict.INCONCLUSIVE
        lo, hi = self.interval
        p, t = self.paper_value, self.tolerance
        if self.sense == ">=":
            if lo >= p - t:
                return Verdict.REPRODUCED
            return Verdict.NOT_REPRODUCED if hi < p - t else Verdict.INCONCLUSIVE
        if p - t <= lo and hi <= p + t:
            return Verdict.REPRODUCED
        if hi < p - t or lo > p + t:
            return Verdict.NOT_REPRODUCED
        return Verdict.INCONCLUSIVE

    @property
    def matches_alternative(self) -> bool:
        """The whole interval lies within ``tolerance`` of the alternative."""
        lo, hi = self.interval
        a, t = self.alternative_value, self.tolerance
        return self.measured_ok and a - t <= lo and hi <= a + t

    @property
    def reason(self) -> str:
        """One line explaining the verdict."""
        if not self.measured_ok:
            return "the measurement failed (no finite value)"
        d = self.digits
        if not self.settled:
            lad = self.ladder
            assert lad is not None
            p, t = self.paper_value, self.tolerance
            v = np.asarray(lad.values)
            inside = np.abs(v - p) <= t
            crosses = ""
            if inside[-1]:
                crosses = "; inside the paper's band at the last rung"
            elif inside.any() or v.min() <= p <= v.max():
                crosses = "; passes through the paper's value"
            return (f"{lad.quantity} = {lad.path(d)}: does not settle "
                    f"({lad.unsettled_because(t, self.resolution)}){crosses}")
        lo, hi = self.interval
        where = f"[{lo:.{d}f}, {hi:.{d}f}]"
        band = f"{self.paper_value:.{d}f} ± {self.tolerance:.{d}g}"
        v = self.verdict
        if self.sense == ">=":
            edge = f"{self.paper_value - self.tolerance:.{d}f}"
            if v is Verdict.REPRODUCED:
                return f"{where} at or above {edge} (the bound {self.paper_value:.{d}f} less " \
                       f"the tolerance {self.tolerance:.{d}g})"
            if v is Verdict.NOT_REPRODUCED:
                alt = "; matches the alternative" if self.matches_alternative else ""
                return f"{where} below {edge}{alt}"
            return f"{where} straddles {edge}"
        if v is Verdict.REPRODUCED:
            return f"{where} inside {band}"
        if v is Verdict.NOT_REPRODUCED:
            alt = "; matches the alternative" if self.matches_alternative else ""
            return f"{where} outside {band}{alt}"
        return f"{where} straddles the edge of {band}"

    @property
    def expected_verdicts(self) -> tuple[Verdict, ...]:
        return self.expected if isinstance(self.expected, tuple) else (self.expected,)

    @property
    def as_expected(self) -> bool:
        return self.verdict in self.expected_verdicts

    @property
    def expected_text(self) -> str:
        return " or ".join(str(v) for v in self.expected_verdicts)

    def with_expected(self, expected: Verdict | tuple) -> "Claim":
        return replace(self, expected=expected)


def tolerance_from_gap(paper_value: float, alternative_value: float, fraction: float = 0.4) -> float:
    """``fraction`` (< 0.5) of the gap between the paper's value and the alternative."""
    if not 0 < fraction < 0.5:
        raise ClaimError(f"fraction must be in (0, 0.5), got {fraction}")
    return fraction * abs(float(paper_value) - float(alternative_value))


# ----------------------------------------------------------------------------- checking
class VerdictMismatch(AssertionError):
    """A claim's verdict differs from the one the book records."""


def assert_verdicts(claims: Iterable[Claim]) -> None:
    """Raise :class:`VerdictMismatch` listing every claim whose verdict differs from ``expected``."""
    claims = list(claims)
    if not claims:
        raise VerdictMismatch("no claims to check")
    keys = [c.key for c in claims]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ClaimError(f"claim keys repeat: {dup}")
    bad = [c for c in claims if not c.as_expected]
    if bad:
        lines = [f"{c.chapter + ':' if c.chapter else ''}{c.key}: verdict '{c.verdict}' but the book "
                 f"records '{c.expected_text}' (measured {c.measured:.4g}, {c.reason})" for c in bad]
        raise VerdictMismatch("changed outcome(s):\n  " + "\n  ".join(lines))


def decided(claims: Iterable[Claim]) -> list[Claim]:
    """The claims the book records as decided (reproduced or not reproduced, never
    inconclusive): on other seeds or a longer ladder these must keep their verdict, while an
    inconclusive one may become decided."""
    return [c for c in claims if Verdict.INCONCLUSIVE not in c.expected_verdicts]


def counts(claims: Iterable[Claim]) -> dict[str, int]:
    """Number of claims per verdict (consistency checks are not claims and are not counted)."""
    out = {str(v): 0 for v in Verdict}
    for c in claims:
        if c.kind == "claim":
            out[str(c.verdict)] += 1
    return out


def paper_claims(claims: Iterable[Claim]) -> list[Claim]:
    """The claims proper (each with its two controls)."""
    return [c for c in claims if c.kind == "claim"]


def consistency_checks(claims: Iterable[Claim]) -> list[Claim]:
    """The consistency checks (no planted input can fail them for the right reason)."""
    return [c for c in claims if c.kind == "consistency"]


# ----------------------------------------------------------------------------- rendering
_COLOURS = {Verdict.REPRODUCED: "#009E73", Verdict.NOT_REPRODUCED: "#D55E00",
            Verdict.INCONCLUSIVE: "#7f7f7f"}


def verdict_colour(v: Verdict | str) -> str:
    return _COLOURS[Verdict(v)]


def _fmt(v: float, digits: int) -> str:
    if not math.isfinite(v):
        return "–"
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 10 ** (-digits)):
        return f"{v:.{max(1, digits - 1)}e}"
    return f"{v:.{digits}f}"


#: the claims table's columns, in order: what a reader scans for first (the verdict) comes first
TABLE_COLUMNS = ("verdict", "claim", "paper", "ours [interval]", "alternative")
#: the table's own style: it fills the text column and wraps inside its cells, never wider
_TABLE_STYLE = ("width:100%;max-width:100%;table-layout:auto;border-collapse:collapse;"
                "font-size:0.85em;overflow-wrap:anywhere;word-break:normal")


def verdict_badge(v: Verdict | str, text: str | None = None) -> str:
    """The verdict as a coloured badge (white text on the verdict's colour, never wrapped);
    ``text`` replaces the verdict's word (e.g. ``"3 reproduced"``)."""
    v = Verdict(v)
    return (f'<span class="verdict" style="background:{verdict_colour(v)};color:white;'
            f'border-radius:3px;padding:1px 5px;white-space:nowrap;font-weight:bold">'
            f"{html.escape(str(v) if text is None else text)}</span>")


def _measured(c: Claim) -> tuple[str, str]:
    """A claim's measurement and its interval as text, with the digits that tell the interval's
    ends apart (:func:`interval_digits`)."""
    lo, hi = c.interval
    d = interval_digits(lo, hi, c.digits)
    return _fmt(c.measured, d), f"[{_fmt(lo, d)}, {_fmt(hi, d)}]"


def _paper_text(c: Claim) -> str:
    """The paper's value as the table shows it: the value, or "≥ bound" for a bound claim."""
    return ("≥ " if c.sense == ">=" else "") + _fmt(c.paper_value, c.digits)


def _stated_html(c: Claim) -> str:
    """Beneath the tested value, the paper's stated one when the claim tests a theory of it (how
    the paper states it is in the details)."""
    if c.stated_value is None:
        return ""
    return (f'<br><small style="white-space:nowrap">paper states '
            f"{_fmt(c.stated_value, c.digits)}</small>")


def table_html(claims: Sequence[Claim], *, link: Callable[[Claim], str] | None = None,
               controls: Callable[[Claim], str] | None = None) -> str:
    """The claims as an HTML table that fits a text column: verdict | claim | paper |
    ours [interval] | alternative. The claim's quantity, source, tolerance, the verdict's reason,
    its ladder and (given ``controls``) the test that holds its two controls sit in a collapsible
    "details" under the claim."""
    e = html.escape
    out = [f'<table class="table claims" style="{_TABLE_STYLE}">', "<thead><tr>"
           + "".join(f'<th><span style="white-space:nowrap">{h}</span></th>' for h in TABLE_COLUMNS)
           + "</tr></thead><tbody>"]
    for c in claims:
        d = c.digits
        measured, interval = _measured(c)
        stmt = e(c.statement)
        if link is not None:
            stmt = f'<a href="{e(link(c))}">{stmt}</a>'
        details = [f"<b>quantity</b>: {e(c.quantity)}", f"<b>source</b>: {e(c.source)}"]
        if c.stated_value is not None:
            details.append(f"<b>tested value</b>: {_fmt(c.paper_value, d)}; <b>the paper "
                           f"states</b>: {_fmt(c.stated_value, d)} ({e(c.stated_as)})")
        details += [f"<b>tolerance</b>: {'−' if c.sense == '>=' else '±'} {_fmt(c.tolerance, d)} "
                    f"({e(c.tolerance_source)})",
                    f"<b>why this verdict</b>: {e(c.reason)}"]
        if c.ladder is not None:
            details.append(f"<b>ladder</b>: {e(c.ladder.describe(c.tolerance, d))}")
        if controls is not None and c.kind == "claim":
            details.append(f"<b>controls</b>: <code>{e(controls(c))}</code>")
        if len(c.expected_verdicts) > 1:
            details.append(f"<b>recorded</b>: {e(c.expected_text)}")
        if c.notes:
            details.append(f"<b>note</b>: {e(c.notes)}")
        cells = [
            verdict_badge(c.verdict),
            f"{stmt}<details><summary><small>details</small></summary><small>"
            + "<br>".join(details) + "</small></details>",
            f'<span style="white-space:nowrap">{_paper_text(c)}</span>' + _stated_html(c),
            f'<span style="white-space:nowrap">{measured}</span><br><small '
            f'style="white-space:nowrap">{interval}</small>',
            f'<span style="white-space:nowrap">{_fmt(c.alternative_value, d)}</span><br>'
            f"<small>{e(c.alternative)}</small>",
        ]
        out.append("<tr>" + "".join(f'<td style="vertical-align:top">{x}</td>' for x in cells)
                   + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def text_table(claims: Sequence[Claim]) -> str:
    """The claims as plain text for a terminal: one line per claim, verdict first
    (``verdict | key: quantity | paper | ours [interval] | alternative``)."""
    rows = [("verdict", "claim", "paper", "ours [interval]", "alternative")]
    for c in claims:
        d = c.digits
        kind = "" if c.kind == "claim" else " (check)"
        rows.append((str(c.verdict), f"{c.key}{kind}" + (f": {c.quantity}" if c.quantity else ""),
                     _paper_text(c) + ("" if c.stated_value is None else
                                               f" (stated {_fmt(c.stated_value, d)})"),
                     " ".join(_measured(c)),
                     f"{_fmt(c.alternative_value, d)} ({c.alternative})"))
    w = [max(len(r[k]) for r in rows) for k in range(4)]
    return "\n".join("  ".join(x.ljust(w[k]) if k < 4 else x for k, x in enumerate(r)) for r in rows)


def show(claims: Sequence[Claim], **kw: Any):
    """Display the claims table in a notebook (an ``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(table_html(claims, **kw))


@dataclass
class Scorecard:
    """All chapters' claims, for the book's scorecard page."""

    claims: list[Claim] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return counts(self.claims)

    @property
    def paper_claims(self) -> list[Claim]:
        return paper_claims(self.claims)

    @property
    def consistency_checks(self) -> list[Claim]:
        return consistency_checks(self.claims)

    @staticmethod
    def control_test(c: Claim) -> str:
        """The test that holds the claim's two controls (``CONTROLS`` of its chapter's module)."""
        from .experiments import get

        return get(c.chapter).CONTROLS.get(c.key, "")

    def by_chapter(self) -> dict[str, list[Claim]]:
        out: dict[str, list[Claim]] = {}
        for c in self.claims:
            out.setdefault(c.chapter, []).append(c)
        return out

    @classmethod
    def collect(cls, chapters: Sequence[str] | None = None) -> "Scorecard":
        """Every chapter's claims from its cached result (the configuration of the current mode,
        so the cache keys are the chapters' own: nothing a chapter already ran is run again)."""
        from .cache import load_or_run
        from .experiments import CHAPTERS, get

        out: list[Claim] = []
        for name in chapters or sorted(CHAPTERS):
            mod = get(name)
            cfg = mod.Config.for_mode()
            out.extend(mod.claims(load_or_run(cfg.chapter, mod.run, cfg), cfg))
        return cls(out)


def normalised(c: Claim) -> tuple[float, float, float, float]:
    """A claim on the common axis of the scorecard: 0 is the paper's value and 1 the named
    alternative, so ``(measured, interval low, interval high, tolerance)`` become comparable
    across claims of different units.  NaN where the claim has no numeric alternative."""
    if c.alternative_value is None or not np.isfinite(c.alternative_value):
        return (float("nan"),) * 4
    gap = c.alternative_value - c.paper_value
    f = lambda v: (v - c.paper_value) / gap  # noqa: E731
    lo, hi = sorted((f(c.interval[0]), f(c.interval[1])))
    return f(c.measured), lo, hi, abs(c.tolerance / gap)
