"""The Colab copies are plain notebooks: no MyST role or directive is left, glued numbers are
the executed page's, and references, citations, captions and admonitions read as markdown."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from scalinglaws import colab

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text())

PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

(toy)=
# A toy page

```{glue:} toy_strip
```

As {cite}`smith2020` and {cite:t}`smith2020,doe2021` show, the exponent is
{glue:text}`toy_alpha:.3f` (verdict: **{glue:text}`toy_verdict`**); see {numref}`fig-b`,
{numref}`Panel %s <fig-a>` and {ref}`toy-check`.

:::{admonition} Modes
:class: tip
**Fast** mode only.
:::

```{code-cell} ipython3
---
tags: [hide-input]
mystnb:
  figure:
    caption: |
      The first figure, cf. {numref}`fig-b`.
    name: fig-a
---
print(1)
```

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: The second.
    name: fig-b
---
print(2)
```

(toy-check)=
## Check the toy
"""

BIB = """@article{smith2020,
  title   = {A},
  author  = {Smith, Ann and Jones, Bo and Lee, Cy},
  year    = {2020}
}

@article{doe2021,
  author  = {Doe, Dan},
  year    = {2021}
}
"""


def _executed(tmp_path: Path, values: dict[str, str], html: dict[str, str] | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue(...)")
    html = html or {}
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": v}
        | ({"application/papermill.record/text/html": html[k]} if k in html else {}),
        metadata={"scrapbook": {"name": k, "mime_prefix": "application/papermill.record/"}})
        for k, v in values.items()]
    nb.cells = [cell]
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    return path


def _toy(tmp_path: Path) -> Path:
    (tmp_path / "references.bib").write_text(BIB)
    page = tmp_path / "toy.md"
    page.write_text(PAGE)
    return page


def test_a_toy_page_becomes_plain_markdown(tmp_path):
    page = _toy(tmp_path)
    nb = colab.convert(page, executed=_executed(tmp_path, {"toy_alpha": "0.51234",
                                                           "toy_verdict": "'reproduced'",
                                                           "toy_strip": "<HTML object>"},
                                                html={"toy_strip": "<p>strip</p>"}))
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    text = "\n".join(md)
    assert colab.leftover_myst(nb) == []
    assert md[0] == colab.NOTE_BUILT
    assert "(Smith et al., 2020)" in text and "Smith et al. (2020); Doe (2021)" in text
    assert "**0.512**" in text and "**reproduced**" in text and "<p>strip</p>" in text
    assert "***" not in text
    assert "see Figure 2, Panel 1 and “Check the toy”" in " ".join(text.split())
    assert "> **Modes**\n>\n> **Fast** mode only." in text and ":class:" not in text
    assert "**Figure 1.** The first figure, cf. Figure 2." in md
    assert "**Figure 2.** The second." in md
    assert "(toy)=" not in text and "(toy-check)=" not in text
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ["print(1)", "print(2)"]
    assert code[0].metadata["tags"] == ["hide-input"]
    assert all("mystnb" not in c.metadata for c in code)


def test_without_an_executed_page_values_are_named(tmp_path):
    nb = colab.convert(_toy(tmp_path), executed=tmp_path / "missing.ipynb")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "⟨toy_alpha⟩" in text and text.startswith(colab.NOTE_UNBUILT)


def test_a_stale_executed_page_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="toy_verdict"):
        colab.convert(_toy(tmp_path), executed=_executed(tmp_path, {"toy_alpha": "0.5",
                                                                    "toy_strip": "x"}))


def test_leftover_myst_is_found():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("a {ref}`x` b\n```{note}\nhi\n```\n```{glue:} s\n```")]
    assert colab.leftover_myst(nb) == ["{ref}`", "```{note}", "```{glue:}"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_committed_copies_hold_no_myst(path):
    nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    assert colab.leftover_myst(nb) == [], f"{path.with_suffix('.ipynb').name}: run `make notebooks`"
    glued = "{glue" in path.read_text()
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source == (colab.NOTE_BUILT if glued else colab.NOTE_PLAIN), \
        f"{path.name}: regenerate its copy after `make test` (`make notebooks`), with the build's numbers"


def test_copies_are_stable(tmp_path):
    """Converting the same page twice gives the same notebook (cell ids included)."""
    page = _toy(tmp_path)
    a, b = colab.convert(page), colab.convert(page)
    assert [c["id"] for c in a.cells] == [c["id"] for c in b.cells]
    assert len({c["id"] for c in a.cells}) == len(a.cells)
