"""No page is rendered from outputs of old package code: the execution cache that ``jb build``
reads is cleared when the package's source changes (scalinglaws.sphinx_ext)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scalinglaws import cache

ROOT = Path(__file__).resolve().parents[1]


def test_guard_clears_the_cache_only_when_the_source_changed(tmp_path, monkeypatch):
    jc = tmp_path / "jc"
    assert cache.guard_execution_cache(jc) is False          # new: stamped, nothing to clear
    (jc / "executed.txt").write_text("old outputs")
    assert cache.guard_execution_cache(jc) is False and (jc / "executed.txt").exists()
    monkeypatch.setattr(cache, "source_digest", lambda chapter=None: "edited")
    assert cache.guard_execution_cache(jc) is True and not (jc / "executed.txt").exists()
    assert (jc / cache.EXECUTION_STAMP).read_text().strip() == "edited"


def test_a_chapter_result_depends_on_its_own_module_only():
    d0, d1 = cache.source_digest("ch0_measuring"), cache.source_digest("ch1_resource_model")
    assert len({d0, d1, cache.source_digest()}) == 3


def test_the_book_loads_the_guard():
    cfg = (ROOT / "_config.yml").read_text()
    assert re.search(r"extra_extensions:\s*\n\s*-\s*scalinglaws\.sphinx_ext", cfg)


@pytest.mark.slow
def test_editing_the_package_changes_the_rendered_page(tmp_path):
    """A scratch copy of the package and a one-page book: build, edit a package file, build again
    with plain ``jb build`` -- the page shows the edited value, not the cached one."""
    jb = Path(sys.executable).parent / "jb"
    if not jb.exists():
        pytest.skip("jupyter-book is not installed")
    shutil.copytree(ROOT / "src", tmp_path / "src")
    probe = tmp_path / "src" / "scalinglaws" / "_probe.py"
    probe.write_text('VALUE = "first-value"\n')
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text(
        'title: probe\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n'
        '  cache: "_build/.jupyter_cache"\nsphinx:\n  extra_extensions:\n'
        '    - scalinglaws.sphinx_ext\n')
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (book / "page.md").write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "# Probe\n\n```{code-cell} ipython3\nfrom scalinglaws import _probe\nprint(_probe.VALUE)\n```\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}

    def build() -> str:
        subprocess.run([str(jb), "build", ".", "-q"], cwd=book, env=env, check=True,
                       capture_output=True, timeout=600)
        return (book / "_build" / "html" / "page.html").read_text()

    assert "first-value" in build()
    probe.write_text('VALUE = "second-value"\n')
    html = build()
    assert "second-value" in html and "first-value" not in html


def test_the_build_hides_progress_bars(monkeypatch):
    """A bare `jb build .` (no Makefile) still sets BOOK_PROGRESS=0 for the pages' kernels."""
    from scalinglaws import config, sphinx_ext

    class App:
        def connect(self, *a, **k):
            pass

    monkeypatch.delenv("BOOK_PROGRESS", raising=False)
    sphinx_ext.setup(App())
    assert not config.progress_enabled()
    monkeypatch.setenv("BOOK_PROGRESS", "1")
    sphinx_ext.setup(App())
    assert config.progress_enabled()
