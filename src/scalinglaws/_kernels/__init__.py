"""Build and cache the package's C++ kernels (loaded with ``ctypes``).

A kernel is compiled once per machine with the system C++ compiler (``$CXX``, else ``g++``) and
kept under :func:`kernel_cache_dir`, keyed on its source, the flags, the compiler's version and
the CPU's instruction-set flags (a kernel built with ``-march=native`` runs only there).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: flags every kernel is built with (fast maths only where a kernel's own flags add it)
BASE_FLAGS = ("-O3", "-march=native", "-fopenmp", "-fPIC", "-shared", "-std=c++17")
HERE = Path(__file__).resolve().parent


def kernel_cache_dir() -> Path:
    """Where built kernels are kept: ``$BOOK_KERNEL_DIR``, else ``~/.cache/scalinglaws/kernels``."""
    env = os.environ.get("BOOK_KERNEL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scalinglaws" / "kernels"


def cpu_signature() -> str:
    """The CPU's instruction-set flags."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() + platform.machine()


def build(name: str, extra_flags: tuple[str, ...] = ()) -> tuple[ctypes.CDLL, float]:
    """Compile ``_kernels/<name>.cpp`` (or reuse the cached build) and load it.

    Returns the library and the seconds spent compiling (0 when loaded from the cache).  Raises
    ``RuntimeError`` naming the compiler's error when there is no compiler or the build fails."""
    src_path = HERE / f"{name}.cpp"
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise RuntimeError("no C++ compiler (g++) found")
    flags = [*BASE_FLAGS, *extra_flags]
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
    key = hashlib.sha256(b"\0".join([src_path.read_bytes(), " ".join(flags).encode(),
                                     version.encode(), cpu_signature().encode()])).hexdigest()[:16]
    d = kernel_cache_dir()
    so = d / f"{name}-{key}.so"
    seconds = 0.0
    if not so.exists():
        t0 = time.perf_counter()
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=d) as tmp:
            out = Path(tmp) / so.name
            r = subprocess.run([cxx, *flags, str(src_path), "-o", str(out)],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError(f"{cxx} failed on {src_path.name}: {r.stderr.strip()[:500]}")
            os.replace(out, so)  # atomic: concurrent builders agree on the result
        seconds = time.perf_counter() - t0
    return ctypes.CDLL(str(so)), seconds
