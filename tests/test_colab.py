"""A Colab copy runs where only the package and Colab's own libraries exist: a fresh virtual
environment with Colab's libraries, the package installed from a git clone of the repository
(what the install cell fetches), none of the book's build tools (Jupyter Book, MyST-NB, jupytext,
Sphinx), fast mode."""
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what a Colab runtime lacks but this checkout's environment has
BOOK_ONLY = ("myst_nb", "jupyter_book", "jupytext", "sphinx", "nbmake")
#: the chapter run end to end (the fastest fast mode; it trains its networks on the C++ kernel,
#: so building and running the compiled trainer in a fresh environment is exercised too)
CHAPTER = "ch1_resource_model"


def test_package_data_includes_the_kernel_source():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"_kernels/*.cpp"' in text
    assert (ROOT / "src" / "scalinglaws" / "_kernels").glob("*.cpp")


#: what a Colab runtime ships that the book uses (Colab has many more; none of the book's tools)
COLAB_WHEELS = ("numpy", "scipy", "matplotlib", "tqdm", "scikit-learn", "ipykernel", "torch")


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def _requirement_closure(names):
    """The installed distributions ``names`` need (their requirements, recursively; extras left
    out), as {canonical name: distribution} of this environment."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found, todo = {}, [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found[name] = dist = metadata.distribution(name)
        for req in dist.requires or ():
            r = Requirement(req)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(r.name))
    return found


def colab_environment(venv: Path, wheels=COLAB_WHEELS) -> Path:
    """A fresh virtual environment holding exactly ``wheels`` and what they require, as installed
    in this environment (same versions), and nothing else; returns its python.

    The distributions' files are linked, not unpacked again: installing torch and the rest from
    wheels takes ~45 s and would test pip rather than the book. pip sees them as installed (their
    ``dist-info`` is linked too), so installing the package checks its requirements against
    exactly this set."""
    from packaging.utils import canonicalize_name

    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    own = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions(path=[str(site)])}
    here = Path(sysconfig.get_paths()["purelib"])
    for name, dist in _requirement_closure(wheels).items():
        if name in own:                                # the new environment's own pip/setuptools
            continue
        for top in {f.parts[0] for f in dist.files or () if f.parts[0] not in ("..", "__pycache__")}:
            src = Path(dist.locate_file(top))
            if src.exists() and not (site / top).exists():
                (site / top).symlink_to(src if src.is_absolute() else here / top)
    return py


def test_colab_environment_holds_only_what_was_asked(tmp_path):
    py = colab_environment(tmp_path / "venv", wheels=("tqdm",))
    assert subprocess.run([str(py), "-c", "import tqdm"], capture_output=True).returncode == 0
    for other in ("numpy", "pytest", "scalinglaws"):
        assert subprocess.run([str(py), "-c", f"import {other}"], capture_output=True).returncode


@pytest.mark.slow(chapter=CHAPTER)
def test_colab_copy_runs_in_a_fresh_environment(tmp_path):
    """A fresh virtual environment with only Colab's libraries, the package installed from a git
    clone of this repository (this tree's package source), and one chapter's Colab copy run end
    to end in a kernel of that environment, fast mode."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    if subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(ROOT), str(clone)])
    # uncommitted edits of the package travel too, so the test checks this tree, not the last commit
    shutil.rmtree(clone / "src")
    shutil.copytree(ROOT / "src", clone / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    py = colab_environment(venv)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
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
