"""Benchmark: the fused trainer against the batched eager trainer and the one-network-at-a-time loop.

The sweep: hidden widths 1, 2, 4, ..., 256 x 32 seeds (288 networks), one hidden layer (SiLU), 1024
training points of y = x^2 on [-1, 1], the same number of full-batch Adam steps for all three:

(a) **loop** -- each network alone with ``torch.nn.Sequential`` + Adam, as the papers' scripts do;
(b) **batched eager** -- all networks in one :class:`~scalinglaws.models.BatchedMLP` (grouped by
    width), gradients by autograd (``train(..., engine="eager")``);
(c) **fused** -- the same batch, gradients from the compiled hand-derived program of
    :mod:`scalinglaws.fused` (``engine="fused"``); its first-call compilation is timed separately
    and included in the ratio marked "incl. compile";
(d) **torch.func** -- what a PyTorch user would reach for to train many small models at once:
    per width, the networks' parameters stacked by ``torch.func.stack_module_state``, one
    ``vmap(functional_call)`` for all of them, autograd, and ``torch.optim.Adam`` on the stacked
    leaves (exactly each network's own Adam, since Adam is elementwise).

All four start from identical weights, so their final losses must agree; the script prints the
wall times, ratios, peak memory and the cycles spent per neuron-point (network x point x hidden
neuron) per step, on the CPU and, when present, on CUDA.  With ``--save`` the numbers are written
to ``results/bench/trainer-<device>.json`` (device, git revision).

    python bench/trainer.py [--steps 200] [--seeds 32] [--dtype float32] [--save]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import torch

from scalinglaws.cache import git_revision, repo_root
from scalinglaws.config import device_name
from scalinglaws.models import BatchedMLP, reference_mlp
from scalinglaws.train import train, train_one


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def peak_mb(dev: torch.device) -> float:
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)


def loop(widths, seeds, x, y, steps, lr, dtype, dev) -> tuple[float, np.ndarray]:
    """(a): one ``nn.Sequential`` at a time, plain Adam."""
    sync(dev)
    t0 = time.perf_counter()
    finals = []
    for w, s in zip(widths, seeds):
        net = reference_mlp(w, seed=s).to(dtype=dtype, device=dev)
        finals.append(train_one(net, x, y, steps=steps, lr=lr))
    sync(dev)
    return time.perf_counter() - t0, np.asarray(finals)


def torch_func(widths, seeds, x, y, steps, lr, dtype, dev) -> tuple[float, np.ndarray]:
    """(d): per width, the stacked networks under ``vmap(functional_call)``, autograd, and
    ``torch.optim.Adam`` on the stacked parameters, the loop's schedule."""
    from torch.func import functional_call, stack_module_state, vmap

    from scalinglaws.train import lr_at

    sync(dev)
    t0 = time.perf_counter()
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(widths):
        groups.setdefault(w, []).append(i)
    stacks = []
    for w, idx in groups.items():
        nets = [reference_mlp(w, seed=seeds[i]).to(dtype=dtype, device=dev) for i in idx]
        params, buffers = stack_module_state(nets)
        base = reference_mlp(w, seed=seeds[idx[0]]).to(dtype=dtype, device="meta")
        fwd = vmap(lambda p, b, xx, m=base: functional_call(m, (p, b), (xx,)), in_dims=(0, 0, None))
        stacks.append((idx, params, buffers, fwd))
    opt = torch.optim.Adam([p for _, ps, _, _ in stacks for p in ps.values()], lr=lr)
    for k in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(k, steps, lr, "cosine", 1e-3)
        opt.zero_grad()
        loss = sum(((fwd(ps, bs, x) - y) ** 2).mean((1, 2)).sum() for _, ps, bs, fwd in stacks)
        loss.backward()
        opt.step()
    finals = np.empty(len(widths))
    with torch.no_grad():
        for idx, ps, bs, fwd in stacks:
            finals[idx] = ((fwd(ps, bs, x) - y) ** 2).mean((1, 2)).cpu().numpy()
    sync(dev)
    return time.perf_counter() - t0, finals


def batched(widths, seeds, x, y, steps, lr, dtype, dev, engine) -> tuple[float, np.ndarray, float]:
    """(b) or (c): one batched program; returns wall time, final losses, compile seconds."""
    sync(dev)
    t0 = time.perf_counter()
    model = BatchedMLP(widths, seeds=seeds, dtype=dtype, device=dev)
    hist = train(model, x, y, steps=steps, lr=lr, schedule="cosine", progress=False, engine=engine)
    sync(dev)
    if hist.engine != engine:
        raise RuntimeError(f"asked for the {engine} engine, ran {hist.engine}")
    return time.perf_counter() - t0, hist.final_train, hist.compile_time_s


def warm_up(dev: torch.device, dtype) -> float:
    """What every method pays once per process, paid before any is timed: the first
    ``torch.optim.Adam`` imports ``torch._dynamo`` (about a second), and the fused engine
    builds or loads its CPU kernel.  Returns the seconds it took."""
    t0 = time.perf_counter()
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    x = torch.linspace(-1, 1, 8, dtype=dtype, device=dev)[:, None]
    batched([1, 2], [0, 1], x, x ** 2, 2, 1e-2, dtype, dev, "fused")
    return time.perf_counter() - t0


def run_device(dev: torch.device, args, dtype) -> dict:
    x = torch.linspace(-1, 1, args.points, dtype=dtype, device=dev)[:, None]
    y = x ** 2
    print(f"  warm-up (imports, kernel build or load): {warm_up(dev, dtype):.2f} s, not timed")
    ghz = args.ghz
    threads = torch.get_num_threads()
    out = {"device": device_name(dev), "dtype": args.dtype, "steps": args.steps, "sweeps": {}}
    print(f"[{device_name(dev)}]")
    for name, max_w in (("full sweep", args.max_width), ("small widths only", min(16, args.max_width))):
        ws = [2 ** k for k in range(int(np.log2(max_w)) + 1)]
        widths = [w for w in ws for _ in range(args.seeds)]
        seeds = [s for _ in ws for s in range(args.seeds)]
        np_per_step = args.points * sum(widths)
        print(f"  {name}: widths {ws} x {args.seeds} seeds = {len(widths)} networks, 1 hidden layer "
              f"(SiLU), {args.points} points, {args.steps} Adam steps, {args.dtype}")
        rows = {}
        reset_peak(dev)
        tf, lf, tc = batched(widths, seeds, x, y, args.steps, 1e-2, dtype, dev, "fused")
        rows["fused"] = (tf - tc, lf, peak_mb(dev))
        rows["fused incl. compile"] = (tf, lf, peak_mb(dev))
        reset_peak(dev)
        te, le, _ = batched(widths, seeds, x, y, args.steps, 1e-2, dtype, dev, "eager")
        rows["batched eager"] = (te, le, peak_mb(dev))
        reset_peak(dev)
        tt, lt = torch_func(widths, seeds, x, y, args.steps, 1e-2, dtype, dev)
        rows["torch.func"] = (tt, lt, peak_mb(dev))
        reset_peak(dev)
        tl, ll = loop(widths, seeds, x, y, args.steps, 1e-2, dtype, dev)
        rows["loop"] = (tl, ll, peak_mb(dev))
        res = {}
        for k, (t, finals, mem) in rows.items():
            rel = np.abs(finals - ll) / np.maximum(np.abs(ll), 1e-12)
            cyc = t * ghz * 1e9 * (threads if dev.type == "cpu" else 1) / (np_per_step * args.steps)
            res[k] = dict(seconds=round(t, 3), speedup_vs_loop=round(tl / t, 2),
                          speedup_vs_torch_func=round(tt / t, 2),
                          cycles_per_neuron_point=round(cyc, 2) if dev.type == "cpu" else None,
                          peak_memory_mb=round(mem, 1), max_rel_diff_vs_loop=float(rel.max()))
            cyc_s = f"{cyc:6.2f} cycles/neuron-point" if dev.type == "cpu" else ""
            print(f"    {k:<22} {t:8.2f} s   {tl / t:6.1f}x the loop   {tt / t:6.1f}x torch.func   {cyc_s}   "
                  f"peak {mem:7.0f} MB   max rel. diff of final losses vs loop {rel.max():.1e}")
        print(f"    (fused compile: {tc:.2f} s; fused vs batched eager: {te / (tf - tc):.1f}x; "
              f"fused vs torch.func: {tt / (tf - tc):.1f}x)")
        out["sweeps"][name] = res
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=32)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--max-width", type=int, default=256)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--devices", nargs="*", default=None, help="default: cpu, and cuda if present")
    ap.add_argument("--ghz", type=float, default=2.5,
                    help="clock used for cycles per neuron-point (CPU cores x seconds x GHz)")
    ap.add_argument("--save", action="store_true", help="write results/bench/trainer-<device>.json")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    results = [run_device(torch.device(d), args, dtype) for d in devices]
    if args.save:
        root = repo_root() or os.getcwd()
        d = os.path.join(root, "results", "bench")
        os.makedirs(d, exist_ok=True)
        for r in results:
            tag = "cuda" if "CPU" not in r["device"] else "cpu"
            r.update(git_revision=git_revision(), date=time.strftime("%Y-%m-%d"))
            with open(os.path.join(d, f"trainer-{tag}.json"), "w") as f:
                json.dump(r, f, indent=2)
            print(f"saved results/bench/trainer-{tag}.json")


if __name__ == "__main__":
    main()
