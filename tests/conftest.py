import os

import pytest

# tests never show progress bars and never reuse results cached by a previous run
os.environ.setdefault("BOOK_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _no_result_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_CACHE_DIR", str(tmp_path / "cache"))


def pytest_collection_modifyitems(config, items):
    """The slow tests (whole chapter runs) first, so that the workers share them out early and
    finish together (``make test`` runs two workers with ``--dist worksteal``)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
