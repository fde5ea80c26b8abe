"""Book plumbing: values glued into the prose, small HTML tables, the claims table.

Everything here is harmless outside a Jupyter Book build (on Colab or in a plain kernel the glue
calls do nothing), so chapters run the same everywhere.
"""
from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np


def glue(name: str, value: Any, display: bool = False) -> None:
    """Glue a value into the book's prose (MyST-NB), or do nothing outside a book build.

    Chapters use ``{glue:text}`name:.2f``` in their text; on Colab or in a plain kernel without
    MyST-NB the call is harmless.  NumPy scalars are glued as Python numbers, since their NumPy 2
    ``repr`` (``np.float64(0.5)``) cannot be formatted by ``{glue:text}``."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - Colab without the book extras
        return
    _glue(name, value, display=display)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, fmt: str = "{:.4f}",
               highlight_min: Sequence[int] | None = None,
               highlight_max: Sequence[int] | None = None, caption: str | None = None):
    """A small HTML table (an ``IPython.display.HTML``) for the rendered book.

    Numbers are formatted with ``fmt``; in each row the smallest value among the columns
    ``highlight_min`` (or the largest among ``highlight_max``) is set in bold."""
    from IPython.display import HTML

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "∞" if not np.isfinite(v) else fmt.format(v)
        return str(v)

    out = ['<table class="table">']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead><tbody>")
    for r in rows:
        best = None
        if highlight_min:
            best = min((float(r[j]), j) for j in highlight_min)[1]
        elif highlight_max:
            best = max((float(r[j]), j) for j in highlight_max)[1]
        tds = [f"<td><b>{cell(v)}</b></td>" if j == best else f"<td>{cell(v)}</td>"
               for j, v in enumerate(r)]
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return HTML("".join(out))


def glue_many(prefix: str, values: Mapping[str, Any]) -> None:
    """``glue(f"{prefix}_{key}", value)`` for every item, e.g. ``glue_many("ch0", {"exp": 0.77})``."""
    for k, v in values.items():
        glue(f"{prefix}_{k}", v)


def show_claims(claims: Sequence[Any], *, chapter_links: bool = False):
    """The claims table of a chapter (or, with ``chapter_links``, of the whole book: one table per
    chapter under a heading with its verdict counts, each claim linked to its chapter), each claim
    with the test that holds its two controls; the consistency checks follow in a table of their
    own (they are not claims and are not counted)."""
    from IPython.display import HTML

    from .claims import Scorecard, consistency_checks, counts, paper_claims, table_html

    link = None
    if chapter_links:
        def link(c):  # noqa: E306 - a tiny local helper
            return f"{c.chapter}.html" + (f"#{c.figure}" if c.figure else "")
    claims = list(claims)
    groups = Scorecard(claims).by_chapter() if chapter_links else {"": claims}
    out = ""
    for chapter, group in groups.items():
        paper, checks = paper_claims(group), consistency_checks(group)
        if chapter:
            n = counts(paper)
            tally = ", ".join(f"{v} {k}" for k, v in n.items() if v)
            out += (f'<h4 style="margin-top:1.2em"><a href="{chapter}.html">{chapter_title(chapter)}'
                    f"</a> <small>({tally or 'no claims'})</small></h4>")
        if paper:
            out += table_html(paper, link=link, controls=Scorecard.control_test)
        if checks:
            out += ("<p><b>Consistency checks</b>: computed and shown, but not claims of the paper "
                    "(no planted input can fail them for the right reason), so not counted.</p>"
                    + table_html(checks, link=link))
    return HTML(out)


def chapter_verdicts(claims: Sequence[Any]):
    """Each chapter's verdicts at a glance (the book's front page): one row per chapter, its title
    linked to the page, a coloured badge per verdict with its count, and the number of
    consistency checks shown apart."""
    from IPython.display import HTML

    from .claims import Scorecard, consistency_checks

    rows = []
    for chapter, group in Scorecard(list(claims)).by_chapter().items():
        badges = verdict_badges(group)
        k = len(consistency_checks(group))
        rows.append(f'<tr><td><a href="{chapter}.html">{html.escape(chapter_title(chapter))}</a>'
                    f"</td><td>{badges}</td><td>{k}</td></tr>")
    return HTML('<table class="table verdicts" style="width:100%;font-size:0.9em"><thead><tr>'
                "<th>chapter</th><th>claims</th><th>consistency checks</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>")


def chapter_title(chapter: str) -> str:
    """A chapter's human title (``ch5_data_distribution`` -> "5. Data distribution"), from the
    experiment module's ``TITLE`` where it has one."""
    from .experiments import get

    try:
        title = getattr(get(chapter), "TITLE", "")
    except ValueError:  # not one of the book's chapters: still a readable heading
        title = ""
    num, _, rest = chapter.partition("_")
    return f"{num.removeprefix('ch')}. {title or rest.replace('_', ' ').capitalize()}"


def verdict_badges(claims: Sequence[Any]) -> str:
    """A coloured badge per verdict with its count (consistency checks are not counted)."""
    from .claims import Verdict, counts, paper_claims, verdict_badge

    n = counts(paper_claims(claims))
    return " ".join(verdict_badge(v, f"{n[str(v)]} {v}") for v in Verdict if n[str(v)]) \
        or "no claims"


def verdict_strip(claims: Sequence[Any]) -> str:
    """One line for a chapter's summary: its verdict badges and how many consistency checks."""
    from .claims import consistency_checks

    k = len(consistency_checks(claims))
    checks = f" · {k} consistency check{'s' if k != 1 else ''}" if k else ""
    return f'<p class="verdict-strip"><b>Verdicts</b>: {verdict_badges(claims)}{checks}</p>'


def glue_verdicts(prefix: str, claims: Sequence[Any]) -> None:
    """Glue each claim's verdict word as ``{prefix}_verdict_{key}`` (for the chapter's summary)
    and the chapter's verdict strip (:func:`verdict_strip`, HTML) as ``{prefix}_strip``."""
    from IPython.display import HTML

    claims = list(claims)
    for c in claims:
        glue(f"{prefix}_verdict_{c.key}", str(c.verdict))
    glue(f"{prefix}_strip", HTML(verdict_strip(claims)))
