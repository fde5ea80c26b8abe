"""A Colab copy runs where only the package and Colab's own libraries exist: the package taken from
a git clone of the repository (what the install cell fetches), the book's build tools (Jupyter
Book, MyST-NB, jupytext, Sphinx) unimportable, fast mode."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what a Colab runtime lacks but this checkout's environment has
BOOK_ONLY = ("myst_nb", "jupyter_book", "jupytext", "sphinx", "nbmake")
#: the chapter run end to end (the fastest fast mode)
CHAPTER = "ch5_data_distribution"


def test_package_data_includes_the_kernel_source():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"_kernels/*.cpp"' in text
    assert (ROOT / "src" / "scalinglaws" / "_kernels").glob("*.cpp")


@pytest.mark.slow
def test_colab_copy_runs_without_the_book_tools(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # uncommitted edits of the package travel too, so the test checks this tree, not the last commit
    shutil.rmtree(clone / "src")
    shutil.copytree(ROOT / "src", clone / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {BOOK_ONLY!r}\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is not on Colab')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Block())\n")
    nb = nbformat.read(ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, scalinglaws\n"
        f"assert scalinglaws.__file__.startswith({str(clone)!r}), scalinglaws.__file__\n"
        f"assert not any(m.split('.')[0] in {BOOK_ONLY!r} for m in sys.modules)\n"
        "print('ran from', scalinglaws.__file__)"))
    env = {**os.environ, "PYTHONPATH": f"{block}{os.pathsep}{clone / 'src'}", "BOOK_MODE": "fast",
           "BOOK_NO_CACHE": "1", "BOOK_PROGRESS": "0"}
    old = dict(os.environ)
    os.environ.update(env)            # the kernel inherits this process's environment
    try:
        client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "ran from" in out
