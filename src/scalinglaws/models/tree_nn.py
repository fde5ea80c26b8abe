"""Nearest-neighbour regression on trees, for every node at once (Brill 2024, Appendix H).

The "model" of the percolation chapter is 1-NN regression with graph (chemical) distance: each
test site is predicted from the nearest training site of its own cluster, shrunk towards 0 by
``1 / (1 + l / sqrt(s))`` (``l`` the tree distance, ``s`` the cluster size); a cluster with no
training site predicts 0.  On a :class:`~scalinglaws.data.percolation.Forest` the nearest training
site of every node follows from two sweeps over the depth levels -- up (best candidate in the
subtree) and down (best candidate through the parent) -- on keys ``dist * 2^32 + index`` whose
minimum is the nearest site with ties broken by the smaller index.  This is O(n) for all nodes and
all clusters together; :func:`nn_keys_torch` does the same for a batch of training masks on any
torch device and gives identical integers.

The chapter's sweeps use :func:`nn_predict_thresholds`: a batch of training sets given by a score
per node and a threshold per (set, cluster), so no (sets x nodes) mask is ever stored.  On the CPU
it runs the C++ kernel ``_kernels/tree_nn.cpp`` (two sequential sweeps per set, sets spread over
threads; peak memory one int64 key per node and thread); elsewhere, or without a compiler, torch
on masks built one chunk at a time.
"""
from __future__ import annotations

import ctypes
import os
import warnings

import numpy as np

from ..data.percolation import Forest

SHIFT = 32
STEP = 1 << SHIFT
INF = 1 << 62


def nn_keys(forest: Forest, train: np.ndarray) -> np.ndarray:
    """Keys ``dist * 2^32 + index`` of every node's nearest training node (``>= INF``: none)."""
    train = np.asarray(train, dtype=bool)
    if train.shape != (forest.n,):
        raise ValueError(f"train mask must have shape ({forest.n},), got {train.shape}")
    key = np.where(train, np.arange(forest.n, dtype=np.int64), INF)
    levels = list(forest.levels())
    for lo, hi in reversed(levels[1:]):  # up: children -> parent (parents sorted within a level)
        par = forest.parent[lo:hi]
        starts = np.flatnonzero(np.r_[True, par[1:] != par[:-1]])
        best = np.minimum.reduceat(key[lo:hi], starts) + STEP
        up = par[starts]
        key[up] = np.minimum(key[up], best)
    for lo, hi in levels[1:]:  # down: parent -> children
        key[lo:hi] = np.minimum(key[lo:hi], key[forest.parent[lo:hi]] + STEP)
    return key


def predict_from_keys(key: np.ndarray, y: np.ndarray, site_size: np.ndarray,
                      shrink: bool = True) -> np.ndarray:
    """``y[nearest] / (1 + dist / sqrt(s))`` (or ``y[nearest]``), and 0 where no training node."""
    key = np.asarray(key)
    has = key < INF
    idx = np.where(has, key & (STEP - 1), 0)
    dist = np.where(has, key >> SHIFT, 0).astype(float)
    pred = y[..., idx] if y.ndim == 1 else np.take_along_axis(y, idx, -1)
    if shrink:
        pred = pred / (1.0 + dist / np.sqrt(site_size))
    return np.where(has, pred, 0.0)


def nn_predict(forest: Forest, y: np.ndarray, train: np.ndarray, shrink: bool = True) -> np.ndarray:
    """1-NN prediction (with the paper's shrinkage) for every node, numpy."""
    return predict_from_keys(nn_keys(forest, train), y, forest.site_size(), shrink)


def nn_keys_torch(forest: Forest, train, device=None):
    """:func:`nn_keys` for a batch of masks ``train[B, n]`` as a torch tensor on ``device``."""
    import torch

    dev = torch.device(device) if device is not None else None
    tr = torch.as_tensor(np.asarray(train), dtype=torch.bool, device=dev)
    if tr.dim() == 1:
        tr = tr[None]
    B, n = tr.shape
    if n != forest.n:
        raise ValueError(f"train masks must have {forest.n} columns, got {n}")
    ar = torch.arange(n, dtype=torch.int64, device=tr.device)
    key = torch.where(tr, ar.expand(B, n), torch.full((B, n), INF, dtype=torch.int64, device=tr.device))
    parent = torch.as_tensor(forest.parent, device=tr.device).long()
    levels = list(forest.levels())
    for lo, hi in reversed(levels[1:]):
        par = parent[lo:hi].expand(B, hi - lo)
        key.scatter_reduce_(1, par, key[:, lo:hi] + STEP, reduce="amin", include_self=True)
    for lo, hi in levels[1:]:
        key[:, lo:hi] = torch.minimum(key[:, lo:hi], key[:, parent[lo:hi]] + STEP)
    return key


def nn_predict_at(forest: Forest, y: np.ndarray, train: np.ndarray, at: np.ndarray, *,
                  device=None, shrink: bool = True, max_bytes: float = 2e9) -> np.ndarray:
    """Predictions at the nodes ``at`` for a batch of training masks ``train[B, n]``.

    Runs :func:`nn_keys_torch` in batches sized to keep the int64 keys under ``max_bytes`` and
    returns ``(B, len(at))`` numpy predictions (with the paper's shrinkage)."""
    import torch

    train = np.atleast_2d(np.asarray(train, dtype=bool))
    B, n = train.shape
    at = np.asarray(at, dtype=np.int64)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    yt = torch.as_tensor(np.asarray(y, dtype=float), device=dev)
    st = torch.as_tensor(np.sqrt(forest.site_size().astype(float))[at], device=dev)
    at_t = torch.as_tensor(at, device=dev)
    per = max(1, int(max_bytes // (8 * n)))
    out = np.empty((B, len(at)))
    for i in range(0, B, per):
        key = nn_keys_torch(forest, train[i:i + per], device=dev)[:, at_t]
        has = key < INF
        idx = torch.where(has, key & (STEP - 1), torch.zeros_like(key))
        pred = yt[idx]
        if shrink:
            pred = pred / (1.0 + (key >> SHIFT).to(pred.dtype) / st)
        out[i:i + per] = torch.where(has, pred, torch.zeros_like(pred)).cpu().numpy()
    return out


class _TreeKernel:
    """``_kernels/tree_nn.cpp``, built on first use and cached (see :mod:`scalinglaws._kernels`)."""

    def __init__(self) -> None:
        self.lib: ctypes.CDLL | None = None
        self.failed: str | None = None

    def available(self) -> bool:
        if self.lib is None and self.failed is None:
            from .._kernels import build

            try:
                lib, _ = build("tree_nn")
            except (OSError, RuntimeError) as exc:
                self.failed = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"tree-NN CPU kernel unavailable ({self.failed[:200]}); using torch",
                              RuntimeWarning, stacklevel=3)
                return False
            i64, vp = ctypes.c_int64, ctypes.c_void_p
            lib.tree_nn_predict.argtypes = [i64, i64, i64, i64] + [vp] * 8 + [ctypes.c_int, vp,
                                                                             ctypes.c_int]
            lib.tree_nn_predict.restype = ctypes.c_int
            lib.tree_nn_check_layout.argtypes = [i64, vp]
            lib.tree_nn_check_layout.restype = i64
            self.lib = lib
        return self.lib is not None


tree_kernel = _TreeKernel()


def _threads(threads: int | None) -> int:
    if threads is not None:
        return max(1, int(threads))
    import torch

    return max(1, torch.get_num_threads())


def nn_predict_thresholds(forest: Forest, y: np.ndarray, score: np.ndarray, excluded: np.ndarray,
                          thresh: np.ndarray, at: np.ndarray, *, device=None, shrink: bool = True,
                          threads: int | None = None, max_bytes: float = 1e9,
                          max_key_bytes: float = 4e9) -> np.ndarray:
    """Predictions at the nodes ``at`` for ``B`` training sets, set ``b`` being the nodes with
    ``score < thresh[b, cluster]`` that are not ``excluded``.

    ``score`` (n,) and ``thresh`` (B, K) are floats, ``excluded`` (n,) bool.  Returns
    ``(B, len(at))``, equal to :func:`nn_predict_at` on the masks these define.  CPU: the C++
    kernel, unless ``BOOK_TREE_KERNEL=0`` or it cannot be built (its key buffers kept under
    ``max_key_bytes`` by using one thread on huge forests); else torch on ``device`` with
    masks built ``max_bytes`` at a time."""
    n, K = forest.n, len(forest.sizes)
    thresh = np.ascontiguousarray(np.atleast_2d(thresh), dtype=np.float64)
    if thresh.shape[1] != K:
        raise ValueError(f"thresh must have one column per cluster ({K}), got {thresh.shape}")
    score = np.ascontiguousarray(score, dtype=np.float64)
    excluded = np.ascontiguousarray(excluded, dtype=bool)
    if score.shape != (n,) or excluded.shape != (n,):
        raise ValueError(f"score and excluded must have shape ({n},), got {score.shape}, "
                         f"{excluded.shape}")
    at = np.ascontiguousarray(at, dtype=np.int64)
    B = thresh.shape[0]
    on_cpu = device is None or str(device) == "cpu"
    use_kernel = on_cpu and os.environ.get("BOOK_TREE_KERNEL", "1") != "0" and tree_kernel.available()
    if not use_kernel:
        out = np.empty((B, len(at)))
        per = max(1, int(max_bytes // max(1, 9 * n)))
        cid = forest.cluster
        for i in range(0, B, per):
            masks = (score[None, :] < thresh[i:i + per][:, cid]) & ~excluded[None, :]
            out[i:i + per] = nn_predict_at(forest, y, masks, at, device=device, shrink=shrink,
                                           max_bytes=max_bytes)
        return out
    lib = tree_kernel.lib
    parent = np.ascontiguousarray(forest.parent, dtype=np.int32)
    cluster = np.ascontiguousarray(forest.cluster, dtype=np.int32)
    bad = lib.tree_nn_check_layout(n, parent.ctypes.data)
    if bad >= 0:
        raise ValueError(f"forest layout: node {bad} does not follow its parent (make_forest's "
                         "depth order is required)")
    yv = np.ascontiguousarray(y, dtype=np.float64)
    ss = np.sqrt(forest.sizes.astype(float))[cluster[at]]
    out = np.empty((B, len(at)))
    # each thread holds 4 int64 keys per node: past ``max_key_bytes`` in all, one thread
    nthr = _threads(threads)
    if nthr > 1 and nthr * 32 * n > max_key_bytes:
        nthr = 1
    lib.tree_nn_predict(n, K, B, len(at), parent.ctypes.data, cluster.ctypes.data,
                        score.ctypes.data, excluded.view(np.uint8).ctypes.data, thresh.ctypes.data,
                        at.ctypes.data, yv.ctypes.data, ss.ctypes.data, int(shrink),
                        out.ctypes.data, nthr)
    return out
