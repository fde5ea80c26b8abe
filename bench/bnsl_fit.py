"""Benchmark: fitting the BNSL benchmark table, and the official procedure on the addition curve.

(1) Times fitting every curve of both benchmarks of Alabdulmohsin et al. (2022) -- 20 language and
72 vision curves -- with this book's BNSL fitter (number of breaks chosen per curve by
extrapolation to its last fit points) and with M1-M4, with chapter 4's settings, in one process
and spread over the cores as the chapter does.  The table must fit in under 60 s on 2 cores.
(2) Times the BNSL paper's own procedure -- a brute-force 6-D grid with the ranges of its
4-digit-addition script, then Levenberg-Marquardt on log(y + 1), reimplemented -- against this
book's fitter on the same 14 points, and prints both extrapolation errors.

    python bench/bnsl_fit.py
"""
from __future__ import annotations

import time

import numpy as np

from scalinglaws.config import n_workers, parallel_map
from scalinglaws.data import load_addition_curve, load_scaling_benchmark
from scalinglaws.experiments.ch4_bnsl import OFFICIAL_GRID_ADDITION, Config, _bench_task, _grid
from scalinglaws.fit.bnsl import fit_bnsl, fit_bnsl_official_grid, rmsle


def main() -> None:
    cfg = Config.fast()
    curves = [c for b in cfg.benchmarks for c in load_scaling_benchmark(domain=b)]
    jobs = [(c.x, c.y, c.fit, tuple(cfg.benchmark_breaks), cfg.benchmark_starts,
             min(cfg.n_refine, 4), 0) for c in curves]
    t0 = time.perf_counter()
    serial = [_bench_task(j) for j in jobs]
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    parallel_map(_bench_task, jobs)
    t_par = time.perf_counter() - t0
    errs = np.stack([s[0] for s in serial])
    print(f"benchmark table: {len(curves)} curves x 5 forms (M1-M4, BNSL)")
    print(f"  one process:          {t_serial:6.1f} s")
    print(f"  {n_workers()} worker processes:   {t_par:6.1f} s   (limit 60 s on 2 cores: "
          f"{'met' if t_par < 60 else 'NOT met'})")
    print(f"  median extrapolation RMSLE  M1 {np.median(errs[:, 0]):.4f}  M2 {np.median(errs[:, 1]):.4f}"
          f"  M3 {np.median(errs[:, 2]):.4f}  M4 {np.median(errs[:, 3]):.4f}"
          f"  BNSL {np.median(errs[:, 4]):.4f}")

    add = load_addition_curve()
    x, y, k = add.x, add.y, 14
    t0 = time.perf_counter()
    off = fit_bnsl_official_grid(x[:k], y[:k], _grid(OFFICIAL_GRID_ADDITION), b_base=1.25, b_shift=0.9)
    t_off = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = fit_bnsl(x[:k], y[:k], 1)
    t_ours = time.perf_counter() - t0
    print("4-digit addition, fit on 14 points, extrapolate 3:")
    print(f"  official procedure ({off.n_starts:,}-point grid + LM on log(y+1)): {t_off:6.2f} s, "
          f"extrapolation RMSLE {rmsle(off.predict(x[k:]), y[k:]):.4f}, d1 = {off.d[0]:.1f}")
    print(f"  this book's fitter ({ours.n_starts:,} Sobol shapes + bounded LS on log y): {t_ours:6.2f} s, "
          f"extrapolation RMSLE {rmsle(ours.predict(x[k:]), y[k:]):.4f}, d1 = {ours.d[0]:.1f}")
    print(f"  ratio official / ours: {t_off / t_ours:.1f}x")


if __name__ == "__main__":
    main()
