"""A Colab copy runs where only the package and Colab's own libraries exist: a fresh virtual
environment with Colab's wheels, the package installed from a git clone of the repository (what
the install cell fetches), none of the book's build tools (Jupyter Book, MyST-NB, jupytext,
Sphinx), fast mode."""
import os
import shutil
import subprocess
import sys
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


#: what a Colab runtime ships that the book uses (Colab has many more; none of the book's tools)
COLAB_WHEELS = ("numpy", "scipy", "matplotlib", "tqdm", "scikit-learn", "ipykernel")


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.mark.slow
def test_colab_copy_runs_in_a_fresh_environment(tmp_path):
    """A fresh virtual environment with only Colab's wheels, the package installed from a git
    clone of this repository (this tree's package source), and one chapter's Colab copy run end
    to end in a kernel of that environment, fast mode."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    import torch

    if subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(ROOT), str(clone)])
    # uncommitted edits of the package travel too, so the test checks this tree, not the last commit
    shutil.rmtree(clone / "src")
    shutil.copytree(ROOT / "src", clone / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run(pip + [*COLAB_WHEELS, f"torch=={torch.__version__.split('+')[0]}"])
    _run(pip + [str(clone)])                        # what the install cell does, from the clone
    for tool in BOOK_ONLY:                          # none of the book's tools came with it
        assert subprocess.run([str(py), "-c", f"import {tool}"], capture_output=True).returncode
    jup = tmp_path / "jupyter"
    _run([str(py), "-m", "ipykernel", "install", "--prefix", str(jup), "--name", "colab"])
    nb = nbformat.read(ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, scalinglaws\n"
        f"assert scalinglaws.__file__.startswith({str(venv)!r}), scalinglaws.__file__\n"
        "print('ran from', scalinglaws.__file__)"))
    env = {"BOOK_MODE": "fast", "BOOK_NO_CACHE": "1", "BOOK_PROGRESS": "0",
           "JUPYTER_PATH": str(jup / "share" / "jupyter")}
    old = dict(os.environ)
    os.environ.update(env)            # the kernel inherits this process's environment
    os.environ.pop("PYTHONPATH", None)
    try:
        client = nbclient.NotebookClient(nb, timeout=900, kernel_name="colab",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "ran from" in out
