"""The command line: a chapter's run prints its claims and fills the chapters' cache; bad input
gets one line, no traceback."""
from __future__ import annotations

import os

import pytest

from scalinglaws.__main__ import main


def test_bad_mode_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("BOOK_MODE", "bogus")
    assert main(["run", "ch5_data_distribution"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BOOK_MODE" in err and "Traceback" not in err


def test_save_refuses_a_fast_result(monkeypatch, capsys):
    monkeypatch.setattr("scalinglaws.__main__.save_full_result",
                        lambda *a, **k: pytest.fail("a fast result was saved"))
    assert main(["run", "ch5_data_distribution", "--mode", "fast", "--save"]) == 2
    assert "full-mode runs only" in capsys.readouterr().err


@pytest.mark.slow(chapter="ch5_data_distribution")
def test_run_prints_claims_and_fills_the_cache(capsys):
    assert main(["run", "ch5_data_distribution", "--mode", "fast"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("verdict"):].splitlines()
    assert "ours [interval]" in table[0] and len(table) > 3
    assert all(line.split()[0] in ("reproduced", "not", "inconclusive") for line in table[1:])
    entries = list(os.scandir(os.environ["BOOK_CACHE_DIR"]))
    assert entries, "the run left nothing in the chapters' result cache"
