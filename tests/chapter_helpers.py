"""Helpers the chapter tests share: blank parts for property tests on toy inputs, and the check
that every number a chapter's prose glues is one its package computes."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]


def blank(cls, **fields):
    """A part of ``cls`` with the given fields (the others None): properties that read only the
    given fields can be checked against a hand computation."""
    return cls(**{f.name: None for f in dataclasses.fields(cls)} | fields)


def glued_names(chapter: str) -> set[str]:
    """The names a chapter's page glues with ``{glue:text}``, without its ``chN_`` prefix."""
    prefix = chapter.split("_")[0]
    text = (ROOT / "book" / f"{chapter}.md").read_text()
    return set(re.findall(rf"\{{glue:text\}}`{prefix}_([A-Za-z0-9_]+)", text))


def assert_prose_covers_glue(chapter: str, numbers: dict[str, Any], claims: Iterable[Any],
                             verdict_prefixes: tuple[str, ...] = ("",)) -> None:
    """Every glued name is a prose number or a claim's verdict (``verdict_<key>``)."""
    verdicts = {f"{p}verdict_{c.key}" for c in claims for p in verdict_prefixes}
    missing = glued_names(chapter) - set(numbers) - verdicts
    assert not missing, f"{chapter}: glued in the chapter but not computed: {sorted(missing)}"
