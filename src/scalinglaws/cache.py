"""On-disk cache of experiment results, and the committed full-mode (GPU) results.

Results are nested dicts of numpy arrays, numbers and strings ("trees").  They are stored as NPZ
(no pickles) under ``.cache/`` at the repository root, keyed by the chapter, a hash of the config,
the package version and a hash of the package's source files, so a code change never serves a
stale result.  A truncated or corrupt entry is recomputed with a warning, never a crash.

Full-mode results run on a GPU are committed under ``results/full/<chapter>.npz`` with a JSON
sidecar giving the device, wall time and git revision; chapters plot them beside the live run.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__

CACHE_ENV = "BOOK_CACHE_DIR"
NO_CACHE_ENV = "BOOK_NO_CACHE"
_SEP = "/"


# ----------------------------------------------------------------------------- locations
def repo_root(start: str | Path | None = None) -> Path | None:
    """The book's repository root (the folder holding ``_toc.yml``), searched upwards from
    ``start`` (default: the current directory), then from this file.  ``None`` outside a checkout."""
    cands = [Path(start) if start else Path.cwd(), Path(__file__).resolve().parent]
    for c in cands:
        for p in [c.resolve(), *c.resolve().parents]:
            if (p / "_toc.yml").is_file() and (p / "src" / "scalinglaws").is_dir():
                return p
    return None


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    root = repo_root()
    return (root / ".cache") if root else Path.cwd() / ".cache"


def results_dir() -> Path:
    root = repo_root()
    return (root / "results" / "full") if root else Path.cwd() / "results" / "full"


# ----------------------------------------------------------------------------- trees <-> npz
def flatten_tree(tree: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dict -> flat ``{"a/b": array}``.  ``None`` is stored as an empty marker."""
    out: dict[str, np.ndarray] = {}
    for k, v in tree.items():
        if _SEP in str(k):
            raise ValueError(f"tree key {k!r} must not contain {_SEP!r}")
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            if not v:
                out[key + _SEP + "__emptydict__"] = np.zeros(0)
            out.update(flatten_tree(v, key + _SEP))
        elif v is None:
            out[key + _SEP + "__none__"] = np.zeros(0)
        else:
            arr = np.asarray(v)
            if arr.dtype == object:
                raise TypeError(f"tree entry {key!r} is not numeric or string data ({type(v)})")
            out[key] = arr
    return out


def unflatten_tree(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, arr in flat.items():
        parts = key.split(_SEP)
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        leaf = parts[-1]
        if leaf == "__none__":
            # replace the dict created for this key by None
            parent = tree
            for p in parts[:-2]:
                parent = parent[p]
            parent[parts[-2]] = None
        elif leaf == "__emptydict__":
            continue
        else:
            node[leaf] = arr.item() if arr.ndim == 0 else arr
    return tree


def save_tree(path: str | Path, tree: dict[str, Any]) -> None:
    """Write a tree to NPZ atomically (a temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **flatten_tree(tree))
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def load_tree(path: str | Path) -> dict[str, Any]:
    with np.load(Path(path), allow_pickle=False) as z:
        flat = {k: z[k] for k in z.files}
    return unflatten_tree(flat)


# ----------------------------------------------------------------------------- cache
def _module_file(pkg: Path, dotted: str) -> Path | None:
    """The file of package module ``scalinglaws.<dotted>`` (a module or a package's
    ``__init__``), or ``None``."""
    base = pkg.joinpath(*dotted.split(".")) if dotted else pkg
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imports_of(pkg: Path, f: Path) -> set[Path]:
    """The package's files that ``f`` imports (at module level or inside functions)."""
    import ast

    here = f.relative_to(pkg).with_suffix("").parts
    if here[-1] == "__init__":
        here = here[:-1] + ("__init__",)
    out: set[Path] = set()
    for node in ast.walk(ast.parse(f.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = list(here[:-1])[:len(here) - node.level] if node.level > 1 else list(here[:-1])
                mod = ".".join(parent + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == pkg.name:
                mod = node.module.partition(".")[2]
            else:
                continue
            names = [mod] + [f"{mod}.{a.name}" if mod else a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.partition(".")[2] for a in node.names
                     if a.name.split(".")[0] == pkg.name]
        for n in names:
            m = _module_file(pkg, n)
            if m is not None:
                out.add(m)
            # a package's __init__ is imported on the way to any of its modules
            parts = n.split(".")
            for k in range(1, len(parts)):
                init = _module_file(pkg, ".".join(parts[:k]))
                if init is not None and init.name == "__init__.py":
                    out.add(init)
    return out


def import_closure(chapter: str, pkg: Path | None = None) -> list[Path]:
    """The package's source files a chapter's experiment module imports, directly or through
    other package modules: the code its result depends on (not plotting, figures or book
    modules, unless the experiment imports them)."""
    pkg = pkg or Path(__file__).resolve().parent
    start = pkg / "experiments" / f"{chapter}.py"
    seen: set[Path] = {pkg / "__init__.py"}
    todo = [start]
    while todo:
        f = todo.pop()
        if f in seen and f != start:
            continue
        seen.add(f)
        todo.extend(m for m in _imports_of(pkg, f) if m not in seen)
    return sorted(seen)


def source_digest(chapter: str | None = None, pkg: Path | None = None) -> str:
    """Hash of the package's source (``.py`` files and compiled-kernel sources), so edited code
    never reuses old results.  With ``chapter``, only the files its experiment module imports
    (:func:`import_closure`) and the kernel sources count: an edit of another chapter, of the
    plotting or figure modules or of the book's helpers does not invalidate its cached result."""
    h = hashlib.sha256()
    pkg = pkg or Path(__file__).resolve().parent
    files = (import_closure(chapter, pkg) if chapter else sorted(pkg.rglob("*.py")))
    for f in sorted(set(files) | set(pkg.rglob("*.cpp"))):
        h.update(str(f.relative_to(pkg)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


#: the file in the jupyter cache that records which package source its outputs were made with
EXECUTION_STAMP = "scalinglaws-source.sha256"


def stamp_execution_cache(cache_path: str | Path) -> None:
    """Record the package's source digest in the jupyter cache (after filling it)."""
    p = Path(cache_path)
    p.mkdir(parents=True, exist_ok=True)
    (p / EXECUTION_STAMP).write_text(source_digest() + "\n")


def guard_execution_cache(cache_path: str | Path) -> bool:
    """Empty the jupyter execution cache when the package changed since it was filled.

    The cache that ``jb build`` reads is keyed on a page's code cells only, so after an edit of
    the package it would render outputs of the old code.  Called before every build (the book's
    Sphinx extension :mod:`scalinglaws.sphinx_ext`): when the recorded source digest differs, the
    cache is removed and every page re-executes (the result cache keeps unchanged experiments
    cheap).  Returns whether it was cleared."""
    p = Path(cache_path)
    stamp = p / EXECUTION_STAMP
    cleared = False
    if p.exists() and (not stamp.exists() or stamp.read_text().strip() != source_digest()):
        import shutil

        shutil.rmtree(p)
        cleared = True
    stamp_execution_cache(p)
    return cleared


def cache_key(key: str, config: Any) -> str:
    from .experiments import CHAPTERS

    cfg = config.to_dict() if hasattr(config, "to_dict") else config
    blob = json.dumps({"key": key, "config": cfg, "version": __version__,
                       "source": source_digest(key if key in CHAPTERS else None)},
                      sort_keys=True, default=str)
    return f"{key}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def load_or_run(key: str, fn: Callable[[Any], Any], config: Any, *,
                to_tree: Callable[[Any], dict[str, Any]] | None = None,
                from_tree: Callable[[dict[str, Any]], Any] | None = None,
                directory: str | Path | None = None) -> Any:
    """Return ``fn(config)``, cached on disk.

    The result must be a tree (nested dict of arrays/numbers/strings) or an object with
    ``to_tree()`` and a classmethod ``from_tree()`` (or pass ``to_tree``/``from_tree``).
    ``BOOK_NO_CACHE=1`` disables the cache.  A truncated or unreadable entry is recomputed.
    """
    if os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return fn(config)
    d = Path(directory) if directory is not None else cache_dir()
    path = d / (cache_key(key, config) + ".npz")
    if path.exists():
        try:
            tree = load_tree(path)
            if from_tree is not None:
                return from_tree(tree)
            cls = tree.get("__class__")
            if cls is not None:
                return _restore(tree)
            return tree
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
            warnings.warn(f"cache entry {path.name} is unreadable ({type(exc).__name__}: {exc}); "
                          "recomputing", RuntimeWarning, stacklevel=2)
    result = fn(config)
    tree = to_tree(result) if to_tree is not None else _to_tree(result)
    try:
        save_tree(path, tree)
    except OSError as exc:  # read-only checkout: still return the result
        warnings.warn(f"could not write cache entry {path}: {exc}", RuntimeWarning, stacklevel=2)
    return result


def _to_tree(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    if hasattr(result, "to_tree"):
        tree = dict(result.to_tree())
        tree["__class__"] = f"{type(result).__module__}:{type(result).__qualname__}"
        return tree
    raise TypeError(f"cannot cache a {type(result).__name__}: give it to_tree()/from_tree()")


def _restore(tree: dict[str, Any]) -> Any:
    import importlib

    mod, _, qual = str(tree.pop("__class__")).partition(":")
    obj: Any = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj.from_tree(tree)


# ----------------------------------------------------------------------------- full-mode results
def git_revision() -> str:
    root = repo_root()
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        rev = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_full_result(chapter: str, result: Any, config: Any, wall_time_s: float,
                     device: str, directory: str | Path | None = None) -> Path:
    """Write ``results/full/<chapter>.npz`` and ``<chapter>.json`` (device, wall time, revision)."""
    d = Path(directory) if directory is not None else results_dir()
    tree = _to_tree(result)
    save_tree(d / f"{chapter}.npz", tree)
    meta = {
        "chapter": chapter,
        "device": device,
        "wall_time_s": round(float(wall_time_s), 2),
        "git_revision": git_revision(),
        "package_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict() if hasattr(config, "to_dict") else config,
    }
    (d / f"{chapter}.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return d / f"{chapter}.npz"


def load_full_result(chapter: str, directory: str | Path | None = None) -> tuple[Any, dict] | None:
    """``(result, meta)`` from ``results/full``, or ``None`` when no full run was committed."""
    d = Path(directory) if directory is not None else results_dir()
    npz, js = d / f"{chapter}.npz", d / f"{chapter}.json"
    if not (npz.exists() and js.exists()):
        return None
    try:
        tree = load_tree(npz)
        meta = json.loads(js.read_text())
        return (_restore(tree) if "__class__" in tree else tree), meta
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
        warnings.warn(f"full-mode result {npz} is unreadable: {exc}", RuntimeWarning, stacklevel=2)
        return None


class TreeResult:
    """Mixin for result dataclasses: ``to_tree()``/``from_tree()`` for the cache.

    Fields may hold numbers, strings, booleans, numpy arrays, ``None``, (nested) dicts of those,
    and other ``TreeResult`` dataclasses (a result's parts), stored as subtrees that name their
    class and restored as that class; lists and tuples come back as numpy arrays.
    """

    def to_tree(self) -> dict[str, Any]:
        import dataclasses

        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, TreeResult):
                v = {**v.to_tree(), "__class__": f"{type(v).__module__}:{type(v).__qualname__}"}
            out[f.name] = v
        return out

    @classmethod
    def from_tree(cls, tree: dict[str, Any]) -> Any:
        import dataclasses

        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        missing = names - set(tree)
        if missing:
            raise KeyError(f"cached {cls.__name__} lacks fields {sorted(missing)}")
        kw = {}
        for k in names:
            v = tree[k]
            if isinstance(v, dict) and "__class__" in v:
                v = _restore(dict(v))
            kw[k] = v
        return cls(**kw)
