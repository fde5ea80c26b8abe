import importlib
import os
from pathlib import Path

import pytest

# tests never show progress bars and never reuse results cached by a previous run
os.environ.setdefault("BOOK_PROGRESS", "0")

#: scheduling weight of a slow test that names no chapter (seconds)
SLOW_DEFAULT_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _no_result_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_CACHE_DIR", str(tmp_path / "cache"))


def expected_seconds(item: pytest.Item) -> float:
    """Rough run time of a test, for scheduling only: a chapter page executed by nbmake, or a
    test marked ``slow(chapter=...)``, costs that chapter's fast-mode ``expected_seconds``; another
    slow test ``SLOW_DEFAULT_SECONDS``; anything else 0 (short)."""
    path = Path(str(item.path))
    chapter = path.stem if path.suffix == ".ipynb" else None
    mark = item.get_closest_marker("slow")
    if chapter is None and mark is None:
        return 0.0
    chapter = chapter or mark.kwargs.get("chapter")
    try:
        return float(importlib.import_module(f"scalinglaws.experiments.{chapter}").Config.fast()
                     .expected_seconds)
    except (ImportError, AttributeError, TypeError):
        return SLOW_DEFAULT_SECONDS


def pytest_collection_modifyitems(config, items):
    """Order the items so that the workers of ``pytest -n N --dist worksteal`` finish together.

    worksteal first hands worker k the k-th contiguous chunk of the list and later lets an idle
    worker take the tail of another's queue.  So the long items (whole-chapter runs) are dealt
    longest first to the least-loaded chunk, each chunk leads with its long items, and the short
    tests fill the chunks' tails, where they are what an idle worker steals."""
    n = int(getattr(config, "workerinput", {}).get("workercount", 1))
    w = [expected_seconds(it) for it in items]
    sizes, left = [], len(items)
    for k in range(n):
        sizes.append(left // (n - k))
        left -= sizes[-1]
    chunks: list[list[pytest.Item]] = [[] for _ in range(n)]
    load = [0.0] * n
    for i in sorted(range(len(items)), key=lambda i: (-w[i], i)):
        k = min((k for k in range(n) if len(chunks[k]) < sizes[k]), key=lambda k: (load[k], k))
        chunks[k].append(items[i])
        load[k] += w[i]
    items[:] = [it for chunk in chunks for it in chunk]
