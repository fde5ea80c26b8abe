import json

import numpy as np
import pytest

from scalinglaws import cache


def _fn_counter():
    calls = []

    def fn(cfg):
        calls.append(cfg)
        return {"x": np.arange(5.0) * cfg["k"], "meta": {"name": "run", "n": 3}, "none": None}

    return fn, calls


def test_tree_roundtrip(tmp_path):
    tree = {"a": np.eye(2), "b": {"c": 1.5, "d": "text", "e": np.array([1, 2])}, "f": None}
    cache.save_tree(tmp_path / "t.npz", tree)
    back = cache.load_tree(tmp_path / "t.npz")
    np.testing.assert_array_equal(back["a"], tree["a"])
    assert back["b"]["c"] == 1.5 and back["b"]["d"] == "text" and back["f"] is None


def test_load_or_run_caches(tmp_path):
    fn, calls = _fn_counter()
    r1 = cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    r2 = cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(r1["x"], r2["x"])
    cache.load_or_run("demo", fn, {"k": 3}, directory=tmp_path)
    assert len(calls) == 2  # another config is another key


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_cache_entry_is_recomputed(tmp_path, damage):
    fn, calls = _fn_counter()
    cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    (entry,) = tmp_path.glob("demo-*.npz")
    raw = entry.read_bytes()
    entry.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"not a zip file",
                       "empty": b""}[damage])
    with pytest.warns(RuntimeWarning, match="recomputing"):
        r = cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    assert len(calls) == 2
    np.testing.assert_array_equal(r["x"], np.arange(5.0) * 2)
    # and the entry was rewritten whole
    cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    assert len(calls) == 2


def test_no_cache_env(tmp_path, monkeypatch):
    fn, calls = _fn_counter()
    monkeypatch.setenv("BOOK_NO_CACHE", "1")
    cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    cache.load_or_run("demo", fn, {"k": 2}, directory=tmp_path)
    assert len(calls) == 2


def test_full_result_roundtrip(tmp_path):
    tree = {"widths": np.array([1, 2]), "loss": np.array([0.5, 0.25])}
    cache.save_full_result("chX", tree, {"mode": "full"}, 12.34, "Test GPU", directory=tmp_path)
    got, meta = cache.load_full_result("chX", directory=tmp_path)
    np.testing.assert_array_equal(got["loss"], tree["loss"])
    assert meta["device"] == "Test GPU" and meta["wall_time_s"] == 12.34
    assert "git_revision" in meta and json.loads((tmp_path / "chX.json").read_text())["config"]
    assert cache.load_full_result("absent", directory=tmp_path) is None


from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class _Part(cache.TreeResult):
    values: np.ndarray
    label: str


@dataclass(frozen=True)
class _Whole(cache.TreeResult):
    part: _Part
    other: _Part
    scalar: float


def test_nested_parts_round_trip_through_the_cache(tmp_path):
    """A result made of parts is stored as subtrees and comes back as the same classes."""
    made = _Whole(_Part(np.arange(3.0), "a"), _Part(np.ones((2, 2)), "b"), 2.5)
    calls = []

    def fn(cfg):
        calls.append(cfg)
        return made

    cache.load_or_run("parts", fn, {"k": 1}, directory=tmp_path)
    back = cache.load_or_run("parts", fn, {"k": 1}, directory=tmp_path)
    assert len(calls) == 1 and isinstance(back, _Whole) and isinstance(back.other, _Part)
    np.testing.assert_array_equal(back.part.values, made.part.values)
    assert back.other.label == "b" and back.scalar == 2.5


def test_result_cache_is_keyed_on_the_code_an_experiment_imports(tmp_path):
    """A comment-only edit of the plotting, figure or book modules (or of another chapter) leaves
    every chapter's cache key alone, so the book re-renders without re-running experiments; an
    edit of code the experiment imports (a fitter, the trainer, its own module) changes it."""
    import shutil
    from pathlib import Path

    import scalinglaws
    from scalinglaws import cache
    from scalinglaws.experiments import CHAPTERS

    pkg = tmp_path / "scalinglaws"
    shutil.copytree(Path(scalinglaws.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "build"))
    before = {ch: cache.source_digest(ch, pkg) for ch in CHAPTERS}

    def touch(rel):
        f = pkg / rel
        f.write_text(f.read_text() + "\n# an edit\n")

    for rel in ("plotting.py", "book.py", "figures/ch4.py", "colab.py"):
        touch(rel)
    assert {ch: cache.source_digest(ch, pkg) for ch in CHAPTERS} == before
    touch("experiments/ch0_measuring.py")
    after = {ch: cache.source_digest(ch, pkg) for ch in CHAPTERS}
    assert {ch for ch in CHAPTERS if after[ch] != before[ch]} == {"ch0_measuring"}
    touch("fit/bnsl.py")
    assert cache.source_digest("ch4_bnsl", pkg) != after["ch4_bnsl"]
    assert cache.source_digest("ch0_measuring", pkg) == after["ch0_measuring"]
    touch("fit/powerlaw.py")          # every chapter fits power laws
    assert all(cache.source_digest(ch, pkg) != after[ch] for ch in CHAPTERS if ch != "ch4_bnsl")
    # the closure follows imports made inside functions (ch4 trains inside _double_descent)
    names = {str(f.relative_to(pkg)) for f in cache.import_closure("ch4_bnsl", pkg)}
    # (and through a package's __init__ into its modules: train/ re-exports its parts)
    assert {"train/__init__.py", "train/adam.py", "train/tokens.py", "models/transformer.py",
            "fit/bnsl.py"} <= names
    assert not names & {"plotting.py", "book.py", "figures/ch4.py"}
