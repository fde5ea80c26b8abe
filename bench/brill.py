"""Benchmark: one paper-scale seed of chapter 5, our pipeline against a per-node implementation.

Builds one seed at the paper's scale (K = 316 critical clusters of 300 to 3e7 sites) with the
vectorised generators, times one nearest-neighbour pass over *all* nodes (numpy level sweeps, and
torch on CUDA when present), and times a straightforward per-node implementation of the same step
-- a breadth-first search from each node over its tree until a training node is met -- on a random
subsample of nodes, checks that both give the same distances there, and prints the estimated ratio
for the whole forest.

    python bench/brill.py [--subsample 300] [--s-max 30000000] [--train-fraction 0.01]
"""
from __future__ import annotations

import argparse
import time
from collections import deque

import numpy as np

from scalinglaws.data.percolation import brownian_targets, make_forest, n_clusters_for, sample_cluster_sizes
from scalinglaws.models.tree_nn import SHIFT, nn_keys


def per_node_nearest(forest, train: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Distance from each node to its nearest training node by BFS (the naive way)."""
    n = forest.n
    ch = np.flatnonzero(forest.parent >= 0)
    order = np.argsort(forest.parent[ch], kind="stable")
    kids = ch[order]
    start = np.searchsorted(forest.parent[ch][order], np.arange(n + 1))
    out = np.full(len(nodes), -1, dtype=np.int64)
    for i, v in enumerate(nodes):
        seen = {int(v)}
        q = deque([(int(v), 0)])
        while q:
            u, d = q.popleft()
            if train[u]:
                out[i] = d
                break
            nb = [int(w) for w in kids[start[u]:start[u + 1]]]
            if forest.parent[u] >= 0:
                nb.append(int(forest.parent[u]))
            for w in nb:
                if w not in seen:
                    seen.add(w)
                    q.append((w, d + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--s-min", type=int, default=300)
    ap.add_argument("--s-max", type=int, default=30_000_000)
    ap.add_argument("--subsample", type=int, default=300)
    ap.add_argument("--train-fraction", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    K = n_clusters_for(args.s_min, args.s_max)
    t0 = time.perf_counter()
    sizes = sample_cluster_sizes(K, args.s_min, args.s_max, rng)
    t_sizes = time.perf_counter() - t0
    t0 = time.perf_counter()
    forest = make_forest(sizes, rng)
    t_forest = time.perf_counter() - t0
    t0 = time.perf_counter()
    brownian_targets(forest, rng)
    t_y = time.perf_counter() - t0
    print(f"one seed: K = {K} clusters, {forest.n:,} sites (largest {sizes.max():,}), "
          f"{forest.n_levels:,} depth levels")
    print(f"  sizes {t_sizes:.1f} s, forest {t_forest:.1f} s, targets {t_y:.1f} s")
    train = rng.random(forest.n) < args.train_fraction
    t0 = time.perf_counter()
    key = nn_keys(forest, train)
    t_ours = time.perf_counter() - t0
    print(f"  our nearest-neighbour pass, all {forest.n:,} nodes (numpy): {t_ours:.2f} s")
    try:
        import torch

        if torch.cuda.is_available():
            from scalinglaws.models.tree_nn import nn_keys_torch

            nn_keys_torch(forest, train[None], device="cuda")
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            nn_keys_torch(forest, train[None], device="cuda")
            torch.cuda.synchronize()
            print(f"  our pass on CUDA: {time.perf_counter() - t0:.2f} s")
    except ImportError:  # pragma: no cover
        pass
    nodes = rng.choice(forest.n, size=args.subsample, replace=False)
    t0 = time.perf_counter()
    d_naive = per_node_nearest(forest, train, nodes)
    t_naive = time.perf_counter() - t0
    d_ours = np.where(key[nodes] < (1 << 62), key[nodes] >> SHIFT, -1)
    agree = np.array_equal(d_naive, d_ours)
    est = t_naive / args.subsample * forest.n
    print(f"  per-node BFS on {args.subsample} random nodes: {t_naive:.2f} s "
          f"({t_naive / args.subsample * 1e3:.1f} ms per node); distances agree: {agree}")
    print(f"  estimated per-node time for all nodes: {est:,.0f} s  ->  ratio {est / t_ours:,.0f}x")


if __name__ == "__main__":
    main()
