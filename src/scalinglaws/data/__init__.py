"""Data generators shared by the chapters: targets, teachers, manifolds.

Every generator takes an explicit seed or ``numpy.random.Generator`` and returns numpy arrays
(float64); experiments move them to torch themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import rng as _rng


def _as_rng(seed_or_rng: int | np.random.Generator) -> np.random.Generator:
    return seed_or_rng if isinstance(seed_or_rng, np.random.Generator) else _rng(seed_or_rng)


# ----------------------------------------------------------------------------- 1-D targets
def grid(n: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """``n`` evenly spaced points on ``[lo, hi]`` as a column, shape (n, 1)."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    return np.linspace(lo, hi, n)[:, None]


def uniform(n: int, d: int, seed: int | np.random.Generator, lo: float = -1.0,
            hi: float = 1.0) -> np.ndarray:
    """``n`` points uniform in the cube ``[lo, hi]^d``, shape (n, d)."""
    return _as_rng(seed).uniform(lo, hi, size=(n, d))


# ----------------------------------------------------------------------------- Zipf teacher
def zipf_probabilities(K: int, exponent: float) -> np.ndarray:
    """``p_k ∝ k^-(1+exponent)`` for ``k = 1..K``, normalised (the quanta model's frequencies)."""
    if K < 2:
        raise ValueError(f"K must be >= 2, got {K}")
    if not exponent > 0:
        raise ValueError(f"exponent must be > 0, got {exponent}")
    p = np.arange(1, K + 1, dtype=float) ** (-(1.0 + exponent))
    return p / p.sum()


@dataclass(frozen=True)
class ZipfTeacher:
    """A teacher on K discrete inputs ("skills") with Zipf-distributed frequencies.

    Input ``k`` is the one-hot vector ``e_k``; its target is row ``k`` of ``Y`` (K x d_out),
    random orthogonal rows scaled so that every output has mean square 1.  The loss of a student
    is the frequency-weighted mean squared error ``sum_k p_k mean_j (f_j(e_k) - Y_kj)^2``.

    A student whose hidden layer has width N outputs an affine map of rank <= N of the inputs, so
    by the Eckart-Young theorem its loss is at least :meth:`optimal_loss` ``(N)``: the tail
    ``sum_{i>N} s_i^2 / d_out`` of the squared singular values ``s_i`` of
    ``diag(sqrt p) (Y - 1 mu^T)`` (``mu`` the frequency-weighted mean row, which the output
    bias absorbs).  Because ``s_i^2 ~ p_i``, the optimum falls like ``N^-exponent`` (Michaud et
    al. 2023's quanta argument) up to finite-K corrections this class computes exactly.
    """

    K: int
    exponent: float
    Y: np.ndarray          # (K, d_out) targets
    p: np.ndarray          # (K,) frequencies
    singular_values: np.ndarray  # of the weighted, centred target matrix

    @classmethod
    def make(cls, K: int, exponent: float, seed: int | np.random.Generator,
             d_out: int | None = None) -> "ZipfTeacher":
        r = _as_rng(seed)
        d_out = K if d_out is None else d_out
        if d_out < K:
            raise ValueError(f"d_out must be >= K={K} for orthogonal rows, got {d_out}")
        Q, R = np.linalg.qr(r.standard_normal((d_out, K)))
        Q = Q * np.sign(np.diag(R))  # Haar-distributed orthonormal columns
        Y = Q.T * np.sqrt(d_out)     # rows orthogonal, each output has mean square 1
        p = zipf_probabilities(K, exponent)
        mu = p @ Y
        C = np.sqrt(p)[:, None] * (Y - mu)
        s = np.linalg.svd(C, compute_uv=False)
        return cls(K, float(exponent), Y, p, s)

    @property
    def d_out(self) -> int:
        return self.Y.shape[1]

    def inputs(self) -> np.ndarray:
        """All K one-hot inputs, shape (K, K)."""
        return np.eye(self.K)

    def optimal_loss(self, width: int | np.ndarray) -> np.ndarray:
        """Eckart-Young lower bound on the weighted MSE of any width-N student."""
        w = np.atleast_1d(np.asarray(width, dtype=int))
        tails = np.concatenate([np.cumsum((self.singular_values ** 2)[::-1])[::-1], [0.0]])
        return tails[np.clip(w, 0, self.K)] / self.d_out

    def sample(self, n: int, seed: int | np.random.Generator,
               noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` item indices drawn with probabilities ``p`` and their targets plus Gaussian label
        noise of standard deviation ``noise``: returns ``(index[n], y[n, d_out])``."""
        r = _as_rng(seed)
        idx = r.choice(self.K, size=n, p=self.p)
        y = self.Y[idx] + noise * r.standard_normal((n, self.d_out))
        return idx, y


# ----------------------------------------------------------------------------- BNSL data files
#: environment variable naming a folder that holds the BNSL chapter's data files
BNSL_DATA_ENV = "BNSL_DATA_DIR"
#: public sources of the files (downloaded into the user's cache when no local copy exists)
BNSL_SOURCES = {
    "benchmark.lang.csv": "https://raw.githubusercontent.com/google-research/google-research/"
                          "master/revisiting_neural_scaling_laws/data/benchmark.lang.csv",
    "benchmark.vision.csv": "https://raw.githubusercontent.com/google-research/google-research/"
                            "master/revisiting_neural_scaling_laws/data/benchmark.vision.csv",
    "addition_4digit.csv": "https://raw.githubusercontent.com/ethancaballero/"
                           "broken_neural_scaling_laws/main/fit_bnsl_and_extrapolate__4_digit_"
                           "addition__dataset_size_x-axis.py",
}


def _user_cache() -> "Path":
    import os
    from pathlib import Path

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scalinglaws"


def _addition_csv_from_script(text: str) -> str:
    """The 17 (x, y) points of the 4-digit-addition curve from the BNSL paper's script."""
    import re

    def array(name: str) -> list[float]:
        m = re.search(rf"^{name}\s*=\s*np\.array\(\[(.*?)\]\)", text, re.S | re.M)
        if not m:
            raise ValueError(f"could not find the array '{name}' in the downloaded script")
        return [float(v) for v in re.findall(r"[-+0-9.eE]+", m.group(1))]

    xs, ys = array("x"), array("y")
    if len(xs) != len(ys):
        raise ValueError("the downloaded script's x and y differ in length")
    lines = ["train_set_size,test_cross_entropy,role"]
    lines += [f"{int(x)},{y},{'fit' if i < 14 else 'extrapolate'}" for i, (x, y) in enumerate(zip(xs, ys))]
    return "\n".join(lines) + "\n"


def bnsl_data_file(name: str, path: "str | Path | None" = None, download: bool = True) -> "Path":
    """Locate one of the BNSL chapter's data files.

    Looks, in order, at ``path`` (a file or a folder), the folder in ``$BNSL_DATA_DIR``, the
    ``shared/data/bnsl`` folder beside the repository checkout, and the user's cache
    (``~/.cache/scalinglaws/bnsl``); failing all, downloads the file from its public source
    (:data:`BNSL_SOURCES`) into that cache.
    """
    import os
    from pathlib import Path

    from ..cache import repo_root

    if name not in BNSL_SOURCES:
        raise ValueError(f"unknown BNSL data file {name!r}; known: {sorted(BNSL_SOURCES)}")
    tried = []
    cands = []
    if path is not None:
        p = Path(path)
        cands.append(p / name if p.is_dir() else p)
    if os.environ.get(BNSL_DATA_ENV):
        cands.append(Path(os.environ[BNSL_DATA_ENV]) / name)
    root = repo_root()
    if root is not None:
        cands.append(root.parent / "shared" / "data" / "bnsl" / name)
    cache = _user_cache() / "bnsl" / name
    cands.append(cache)
    for c in cands:
        tried.append(str(c))
        if c.is_file():
            return c
    if not download:
        raise FileNotFoundError(f"{name} not found; looked at: {', '.join(tried)}")
    import urllib.request

    url = BNSL_SOURCES[name]
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            text = r.read().decode()
    except OSError as exc:
        raise FileNotFoundError(
            f"{name} not found (looked at: {', '.join(tried)}) and downloading {url} failed: {exc}. "
            f"Pass a path or set {BNSL_DATA_ENV} to a folder holding the file.") from None
    if name == "addition_4digit.csv":
        text = _addition_csv_from_script(text)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(text)
    return cache


@dataclass(frozen=True)
class Curve:
    """One scaling curve: x, y, and which points are for fitting (the rest are held out)."""

    key: tuple[str, str, str]   # (domain, task, model)
    x: np.ndarray
    y: np.ndarray
    fit: np.ndarray             # bool mask

    @property
    def label(self) -> str:
        """``domain | task | model`` in words: a task the file stores as a tuple's repr
        (``"('qa', '1-shot')"``) reads ``qa, 1-shot``."""
        import ast

        domain, task, model = self.key
        try:
            parts = ast.literal_eval(task)
        except (ValueError, SyntaxError):
            parts = task
        if isinstance(parts, tuple):
            task = ", ".join(str(p) for p in parts)
        return f"{domain} | {task} | {model}"


def load_scaling_benchmark(path: "str | Path | None" = None, domain: str = "lang") -> list[Curve]:
    """A benchmark of Alabdulmohsin et al. (2022), ``domain="lang"`` (20 curves: NMT, LM,
    BIG-Bench) or ``"vision"`` (72 image-classification curves): one :class:`Curve` per
    (Domain, Task, Model), sorted by x, with ``fit`` from the file's ``Training`` column."""
    import csv

    if domain not in ("lang", "vision"):
        raise ValueError(f"domain must be 'lang' or 'vision', got {domain!r}")
    f = bnsl_data_file(f"benchmark.{domain}.csv", path)
    rows: dict[tuple[str, str, str], list[tuple[float, float, int]]] = {}
    with open(f, newline="") as fh:
        for r in csv.DictReader(fh):
            key = (r["Domain"], r["Task"], r["Model"])
            rows.setdefault(key, []).append((float(r["Seen Examples"]), float(r["Loss"]),
                                             int(r["Training"])))
    curves = []
    for key, v in rows.items():
        a = np.asarray(sorted(v))
        curves.append(Curve(key, a[:, 0], a[:, 1], a[:, 2] == 1))
    return curves


def load_addition_curve(path: "str | Path | None" = None) -> Curve:
    """The 17-point 4-digit-addition curve of the BNSL paper (test cross-entropy against
    training-set size); the first 14 points are for fitting, the last 3 are extrapolated."""
    import csv

    f = bnsl_data_file("addition_4digit.csv", path)
    with open(f, newline="") as fh:
        rows = list(csv.DictReader(fh))
    x = np.array([float(r["train_set_size"]) for r in rows])
    y = np.array([float(r["test_cross_entropy"]) for r in rows])
    fit = np.array([r["role"] == "fit" for r in rows])
    return Curve(("arithmetic", "4-digit addition", "minGPT"), x, y, fit)


# ----------------------------------------------------------------------------- manifolds
def sphere(n: int, d: int, seed: int | np.random.Generator) -> np.ndarray:
    """``n`` points uniform on the unit sphere S^(d-1) in R^d (intrinsic dimension d - 1)."""
    if d < 2:
        raise ValueError(f"d must be >= 2, got {d}")
    x = _as_rng(seed).standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@dataclass(frozen=True)
class RandomFeatureTeacher:
    """A wide random ReLU network, ``f(x) = sqrt(2/M) sum_m omega_m relu(w_m . x)`` with
    ``w_m ~ N(0, I_d)`` and ``omega_m ~ N(0, 1)``: close to a Gaussian-process sample of the
    order-1 arc-cosine kernel, the same family as the random-feature students of chapter 2."""

    W: np.ndarray       # (M, d)
    omega: np.ndarray   # (M,)

    @classmethod
    def make(cls, d: int, M: int, seed: int | np.random.Generator) -> "RandomFeatureTeacher":
        r = _as_rng(seed)
        return cls(r.standard_normal((M, d)), r.standard_normal(M))

    def __call__(self, X: np.ndarray, chunk: int = 4096) -> np.ndarray:
        out = np.empty(len(X))
        scale = np.sqrt(2.0 / len(self.omega))
        for i in range(0, len(X), chunk):
            out[i:i + chunk] = scale * np.maximum(X[i:i + chunk] @ self.W.T, 0.0) @ self.omega
        return out


def load_digits_sphere() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), centred and projected onto
    the unit sphere, with one-hot targets: ``(X[1797, 64], Y[1797, 10])``."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X - X.mean(0)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, np.eye(10)[y]


def addition_problems(n: int, seed: int | np.random.Generator, digits: int = 4
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct ``digits``-digit addition problems as token sequences, as in minGPT's adder:
    the digits of a, the digits of b, then the digits of a + b (``digits + 1`` of them) *reversed*
    (so each answer digit depends on the carries already written).  Returns ``(tokens[n, L],
    answer_mask[n, L - 1])``, where the mask marks the positions whose next token is an answer
    digit (the loss is taken there only).  Tokens are the digits 0-9."""
    r = _as_rng(seed)
    top = 10 ** digits
    if not 1 <= n <= top * top:
        raise ValueError(f"n must be in [1, {top * top}], got {n}")
    pairs = r.choice(top * top, size=n, replace=False)
    a, b = pairs // top, pairs % top
    def to_digits(v: np.ndarray, k: int) -> np.ndarray:
        return (v[:, None] // 10 ** np.arange(k - 1, -1, -1)) % 10
    c = to_digits(a + b, digits + 1)[:, ::-1]
    tokens = np.concatenate([to_digits(a, digits), to_digits(b, digits), c], 1)
    mask = np.zeros((n, tokens.shape[1] - 1), bool)
    mask[:, 2 * digits - 1:] = True
    return tokens.astype(np.int64), mask
