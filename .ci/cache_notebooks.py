"""Hand the notebooks executed by ``pytest --nbmake`` to the jupyter cache that ``jb build`` reads.

For each chapter, the ``.md`` source is read with MyST-NB's own reader (exactly as ``jb build``
reads it), the outputs of the executed ``.ipynb`` are copied into its code cells, and the result is
stored in the cache.  The cache key is then the one ``jb build`` computes, so the build renders
these outputs instead of executing the chapter a second time.

Usage: python .ci/cache_notebooks.py CACHE_DIR EXECUTED_DIR CHAPTER.md [CHAPTER.md ...]
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import read_myst_markdown_notebook

from scalinglaws.cache import guard_execution_cache, stamp_execution_cache


def runtime_seconds(nb: nbformat.NotebookNode) -> float | None:
    """Wall time from the first cell's start to the last cell's end (nbclient's timestamps)."""
    stamps = []
    for c in nb.cells:
        ex = c.get("metadata", {}).get("execution", {})
        for k in ("iopub.execute_input", "shell.execute_reply"):
            if k in ex:
                stamps.append(dt.datetime.fromisoformat(ex[k].replace("Z", "+00:00")))
    return (max(stamps) - min(stamps)).total_seconds() if stamps else None


def main(cache_dir: str, executed_dir: str, *sources: str) -> int:
    guard_execution_cache(cache_dir)   # drop outputs of older package code first
    cache = get_cache(cache_dir)
    for src in map(Path, sources):
        executed = nbformat.read(Path(executed_dir) / f"{src.stem}.ipynb", as_version=4)
        nb = read_myst_markdown_notebook(src.read_text(), add_source_map=True, path=src)
        mine = [c for c in nb.cells if c.cell_type == "code"]
        theirs = [c for c in executed.cells if c.cell_type == "code"]
        if len(mine) != len(theirs) or any(a.source.strip() != b.source.strip()
                                           for a, b in zip(mine, theirs)):
            print(f"{src}: executed notebook does not match its source; not cached", file=sys.stderr)
            return 1
        for a, b in zip(mine, theirs):
            a.outputs = b.get("outputs", [])
            a.execution_count = b.get("execution_count")
        secs = runtime_seconds(executed)
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(src.resolve()),
                                               data={"execution_seconds": secs}),
                                    check_validity=False, overwrite=True)
        print(f"cached {src} ({secs:.1f} s)" if secs is not None else f"cached {src}")
    stamp_execution_cache(cache_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
