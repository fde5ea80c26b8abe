"""The Colab copies of the book's pages: plain Jupyter notebooks, no MyST left in them.

A page's MyST source (``book/<page>.md``) becomes ``book/<page>.ipynb`` with the same code cells
(same sources, same tags) and markdown that any notebook viewer renders:

* ``{glue:}`` directives (a chapter's verdict strip) -> the glued HTML of the published build;
* ``{glue:text}`name:fmt``` -> the value of the published build (the executed notebook that
  ``make test`` leaves in ``nbexec/``), formatted as MyST-NB formats it, in bold; with no executed
  notebook, a pointer to the cell that prints it;
* ``{cite}`key``` -> "(Author et al., year)" from ``book/references.bib`` (``{cite:t}``: "Author
  et al. (year)");
* ``{numref}`fig-x``` -> "Figure k" (the page's figures numbered in order), and each figure cell's
  caption follows it as a markdown cell "**Figure k.** caption";
* ``{ref}`label``` -> the title of the section (or page) that the label names;
* ``(label)=`` lines dropped; ``:::{admonition} Title`` blocks -> block quotes headed by the title;
  any other directive (the execution table of the status page) -> a line saying what the rendered
  book shows there.

A note at the top says where the numbers come from. ``python -m scalinglaws.colab PAGE.md ...``
writes the copies (the Makefile's ``notebooks`` target).
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Mapping

#: any MyST role (``{name}`text```) or directive fence (```` ```{name} ```` / ``:::{name}``) —
#: a copy must contain none
MYST_ROLE = re.compile(r"\{[a-z][a-z0-9:_-]*\}`")
MYST_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{[a-z][a-z0-9:_-]*\}", re.M)
#: what a directive with no plain counterpart shows in the rendered book
_DIRECTIVE_WORDS = {"nb-exec-table": "the table of every page's execution time",
                    "bibliography": "the list of references"}
_LABEL = re.compile(r"^\(([^)\s]+)\)=\s*$", re.M)
_HEADING = re.compile(r"^#{1,6} (.+)$", re.M)

NOTE_BUILT = ("*This is the Colab copy of a page of the book. Numbers in **bold** in the text are "
              "those of the published build (fast mode); running the cells recomputes them, and "
              "the cells print or draw them.*")
NOTE_PLAIN = "*This is the Colab copy of a page of the book.*"
NOTE_UNBUILT = ("*This is the Colab copy of a page of the book. Numbers the rendered book inserts "
                "into the text are shown here as ⟨name⟩; running the cells computes and prints "
                "them.*")


def glue_values(executed: Path | str) -> dict[str, str]:
    """``name -> text/plain`` of every value glued in an executed notebook (MyST-NB's glue
    outputs, marked by their ``scrapbook`` metadata); a value that has an HTML form also gives
    ``name + "/html"`` (pasted by a ``{glue:}`` directive)."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    out: dict[str, str] = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if meta:
                data, prefix = o.get("data", {}), meta.get("mime_prefix", "")
                if data.get(prefix + "text/plain") is not None:
                    out[meta["name"]] = data[prefix + "text/plain"]
                if data.get(prefix + "text/html") is not None:
                    out[meta["name"] + "/html"] = data[prefix + "text/html"]
    return out


def bib_citations(bib_text: str) -> dict[str, str]:
    """``key -> "Surname et al., year"`` (or "Surname, year", "A and B, year") from BibTeX."""
    out = {}
    for m in re.finditer(r"@\w+\{([^,\s]+),(.*?)\n\}", bib_text, re.S):
        key, body = m.group(1), m.group(2)
        a = re.search(r"author\s*=\s*\{(.*?)\}\s*,?\s*\n", body, re.S)
        y = re.search(r"year\s*=\s*\{?(\d{4})", body)
        names = [n.strip() for n in a.group(1).split(" and ")] if a else []
        surnames = [n.split(",")[0].strip() if "," in n else n.split()[-1] for n in names]
        who = (surnames[0] if len(surnames) == 1 else " and ".join(surnames) if len(surnames) == 2
               else f"{surnames[0]} et al.") if surnames else key
        out[key] = f"{who}, {y.group(1) if y else 'n.d.'}"
    return out


def section_titles(*texts: str) -> dict[str, str]:
    """``label -> title`` of the heading that follows each ``(label)=`` line."""
    out = {}
    for text in texts:
        for m in _LABEL.finditer(text):
            h = _HEADING.search(text, m.end())
            if h:
                out[m.group(1)] = h.group(1).strip()
    return out


def figure_names(nb) -> list[str]:
    """The page's figure names, in order (``mystnb: figure: name:`` of its code cells)."""
    return [c.metadata["mystnb"]["figure"]["name"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("mystnb", {}).get("figure", {}).get("name")]


def plain_markdown(text: str, *, values: Mapping[str, str] | None, cites: Mapping[str, str],
                   titles: Mapping[str, str], figures: list[str]) -> str:
    """One markdown cell's MyST turned into plain markdown (see the module docstring)."""
    from myst_nb.core.variables import format_plain_text

    def glue(m: re.Match) -> str:   # in bold, unless the page already bolds it (``**{glue}``)
        key, _, fmt = m.group(1).partition(":")
        if values is None:
            return f"⟨{key}⟩"
        if key not in values:
            raise KeyError(f"glued value {key!r} is not in the executed notebook")
        value = format_plain_text(values[key], fmt)
        return value if m.string[max(0, m.start() - 2):m.start()] == "**" else f"**{value}**"

    def numref(m: re.Match) -> str:
        body = m.group(1)
        t = re.fullmatch(r"(.*?)\s*<([^>]+)>", body)
        text, name = (t.group(1), t.group(2)) if t else (None, body)
        if name not in figures:
            raise KeyError(f"numref to {name!r}, which is not a figure of this page")
        k = figures.index(name) + 1
        return text.replace("%s", str(k)) if text else f"Figure {k}"

    def ref(m: re.Match) -> str:
        body = m.group(1)
        t = re.fullmatch(r"(.*?)\s*<([^>]+)>", body)
        if t:
            return t.group(1)
        if body not in titles:
            raise KeyError(f"ref to {body!r}: no section or page has that label")
        return f"“{titles[body]}”"

    def cite(m: re.Match) -> str:
        keys = [k.strip() for k in m.group(1).split(",")]
        missing = [k for k in keys if k not in cites]
        if missing:
            raise KeyError(f"cite of {missing}: not in references.bib")
        if m.group(0).startswith("{cite:t}"):   # textual: Brill (2024)
            return "; ".join("{} ({})".format(*cites[k].rsplit(", ", 1)) for k in keys)
        return "(" + "; ".join(cites[k] for k in keys) + ")"   # parenthetical: (Brill, 2024)

    def glue_block(m: re.Match) -> str:   # ```{glue:} name``` pastes the value's display form
        key = m.group(1).strip()
        if values is None:
            return f"⟨{key}⟩"
        for k in (key + "/html", key):
            if k in values:
                return values[k]
        raise KeyError(f"glued value {key!r} is not in the executed notebook")

    text = re.sub(r"^`{3,}\{glue(?::any)?:?\}\s+(\S+)\s*\n`{3,}\s*$", glue_block, text, flags=re.M)
    text = re.sub(r"\{glue:text\}`([^`]+)`", glue, text)
    text = re.sub(r"\{numref\}`([^`]+)`", numref, text)
    text = re.sub(r"\{ref\}`([^`]+)`", ref, text)
    text = re.sub(r"\{cite(?::[pt])?\}`([^`]+)`", cite, text)
    text = _LABEL.sub("", text)

    def admonition(m: re.Match) -> str:
        title = m.group(1).strip()
        body = re.sub(r"^:class:.*\n", "", m.group(2), flags=re.M).strip("\n")
        lines = [f"**{title}**" if title else "", ""] + body.splitlines()
        return "\n".join("> " + ln if ln else ">" for ln in lines) + "\n"

    text = re.sub(r"^:::\{admonition\}([^\n]*)\n(.*?)^:::\s*$\n?", admonition, text, flags=re.M | re.S)
    # a directive with no plain counterpart (e.g. the build's execution table): say what is there
    text = re.sub(r"^(`{3,})\{([a-z][a-z0-9_-]*)\}.*?\n.*?^\1\s*$",
                  lambda m: f"*(The rendered book shows {_DIRECTIVE_WORDS.get(m.group(2), m.group(2))} "
                            "here.)*",
                  text, flags=re.M | re.S)
    return text.strip("\n")


def convert(page: Path | str, *, executed: Path | str | None = None,
            bib: Path | str | None = None):
    """The Colab copy of ``page`` (a MyST notebook) as an ``nbformat`` notebook; ``executed``, an
    executed copy of the page, supplies the glued values."""
    import jupytext
    import nbformat

    page = Path(page)
    bib = Path(bib) if bib else page.parent / "references.bib"
    nb = jupytext.read(page)
    # an executed notebook with no glued values (not run yet) counts as none
    values = (glue_values(executed) or None) if executed and Path(executed).exists() else None
    cites = bib_citations(bib.read_text()) if bib.exists() else {}
    titles = section_titles(*(p.read_text() for p in sorted(page.parent.glob("*.md"))))
    figures = figure_names(nb)
    glued = "{glue" in page.read_text()
    note = NOTE_PLAIN if not glued else NOTE_BUILT if values is not None else NOTE_UNBUILT
    cells = [nbformat.v4.new_markdown_cell(note)]
    for c in nb.cells:
        if c.cell_type == "markdown":
            c.source = plain_markdown(c.source, values=values, cites=cites, titles=titles,
                                      figures=figures)
            if not c.source.strip():
                continue
        # MyST-NB's own cell options (figure caption and name) mean nothing to Colab; the caption
        # follows the cell as markdown instead
        caption = c.metadata.pop("mystnb", {}).get("figure", {}) if c.cell_type == "code" else {}
        cells.append(c)
        if caption.get("caption"):
            k = figures.index(caption["name"]) + 1 if caption.get("name") in figures else None
            head = f"**Figure {k}.** " if k else ""
            text = plain_markdown(" ".join(caption["caption"].split()), values=values,
                                  cites=cites, titles=titles, figures=figures)
            cells.append(nbformat.v4.new_markdown_cell(head + text))
    for i, c in enumerate(cells):   # stable ids: regenerating a copy changes only what changed
        c["id"] = hashlib.sha1(f"{page.stem}:{i}".encode()).hexdigest()[:8]
    nb.cells = cells
    nb.metadata.pop("jupytext", None)
    return nb


def leftover_myst(nb) -> list[str]:
    """Every MyST role or directive left in a notebook's markdown cells or in any cell's
    metadata (a copy has none)."""
    import json

    out = []
    for c in nb.cells:
        texts = [json.dumps(c.metadata, ensure_ascii=False)]
        if c.cell_type == "markdown":
            texts.append(c.source)
        for t in texts:
            out += [m.group(0) for m in MYST_ROLE.finditer(t)]
            out += [m.group(0) for m in MYST_DIRECTIVE.finditer(t)]
    return out


def main(argv: list[str]) -> int:
    import jupytext

    if not argv:
        print("usage: python -m scalinglaws.colab book/PAGE.md ... (values from nbexec/PAGE.ipynb)",
              file=sys.stderr)
        return 2
    for src in map(Path, argv):
        executed = Path("nbexec") / f"{src.stem}.ipynb"
        nb = convert(src, executed=executed)
        left = leftover_myst(nb)
        if left:
            print(f"{src}: MyST left in the copy: {sorted(set(left))}", file=sys.stderr)
            return 1
        jupytext.write(nb, src.with_suffix(".ipynb"))
        built = nb.cells[0].source in (NOTE_BUILT, NOTE_PLAIN)
        print(f"wrote {src.with_suffix('.ipynb')}"
              + ("" if built else " (no executed notebook: values shown as ⟨name⟩)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
