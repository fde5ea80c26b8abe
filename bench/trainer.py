"""Benchmark: the batched trainer against the naive one-network-at-a-time loop.

The sweep of the foundation issue: hidden widths 1, 2, 4, ..., 256 x 32 seeds (288 networks),
one hidden layer (SiLU), 1024 training points of y = x^2 on [-1, 1], the same number of full-batch
Adam steps for both.  (a) trains each network alone with ``torch.nn.Sequential`` + Adam, as the
papers' scripts do; (b) trains all 288 with :func:`scalinglaws.train.train` on a
:class:`~scalinglaws.models.BatchedMLP` (networks grouped by width, no padding).  Both start from
identical weights, so their final losses must agree; the script checks that and prints both wall
times and the ratio, on the CPU and, when present, on CUDA.

    python bench/trainer.py [--steps 200] [--seeds 32] [--dtype float32]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from scalinglaws.config import device_name
from scalinglaws.models import BatchedMLP, reference_mlp
from scalinglaws.train import lr_at, train


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def naive(widths, seeds, x, y, steps, lr, dtype, dev) -> tuple[float, np.ndarray]:
    sync(dev)
    t0 = time.perf_counter()
    finals = []
    for w, s in zip(widths, seeds):
        net = reference_mlp(w, seed=s).to(dtype=dtype, device=dev)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for k in range(steps):
            for pg in opt.param_groups:
                pg["lr"] = lr_at(k, steps, lr, "cosine", 1e-3)
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            finals.append(float(((net(x) - y) ** 2).mean()))
    sync(dev)
    return time.perf_counter() - t0, np.asarray(finals)


def batched(widths, seeds, x, y, steps, lr, dtype, dev) -> tuple[float, np.ndarray]:
    sync(dev)
    t0 = time.perf_counter()
    model = BatchedMLP(widths, seeds=seeds, dtype=dtype, device=dev)
    hist = train(model, x, y, steps=steps, lr=lr, schedule="cosine", progress=False)
    sync(dev)
    return time.perf_counter() - t0, hist.final_train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=32)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--max-width", type=int, default=256)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--devices", nargs="*", default=None, help="default: cpu, and cuda if present")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    # the sweep, then its small-width part alone (where per-step overhead dominates, as in
    # the lottery-ticket chapter's thousands of 2-neuron networks)
    sweeps = [("full sweep", args.max_width), ("small widths only", min(16, args.max_width))]
    for d in devices:
        dev = torch.device(d)
        x = torch.linspace(-1, 1, args.points, dtype=dtype, device=dev)[:, None]
        y = x ** 2
        batched([1, 2], [0, 1], x, y, 2, 1e-2, dtype, dev)  # warm-up (allocator, kernels)
        print(f"[{device_name(dev)}]")
        for name, max_w in sweeps:
            ws = [2 ** k for k in range(int(np.log2(max_w)) + 1)]
            widths = [w for w in ws for _ in range(args.seeds)]
            seeds = [s for _ in ws for s in range(args.seeds)]
            print(f"  {name}: widths {ws} x {args.seeds} seeds = {len(widths)} networks, "
                  f"1 hidden layer (SiLU), {args.points} points, {args.steps} Adam steps, {args.dtype}")
            tb, lb = batched(widths, seeds, x, y, args.steps, 1e-2, dtype, dev)
            tn, ln = naive(widths, seeds, x, y, args.steps, 1e-2, dtype, dev)
            rel = np.abs(lb - ln) / np.maximum(np.abs(ln), 1e-12)
            print(f"    naive loop (nn.Sequential + Adam, one network at a time): {tn:8.2f} s")
            print(f"    batched (BatchedMLP + train, grouped by width):           {tb:8.2f} s")
            print(f"    speed-up: {tn / tb:.1f}x   |   max relative difference of final losses: "
                  f"{rel.max():.1e} (median {np.median(rel):.1e})")


if __name__ == "__main__":
    main()
