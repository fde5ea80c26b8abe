"""Benchmark: fitting the BNSL benchmark table, and the official procedure on the addition curve.

(1) Times fitting every curve of both benchmarks of Alabdulmohsin et al. (2022) -- 20 language and
72 vision curves -- with this book's BNSL fitter (0, 1 and 2 breaks, the held-out rule choosing)
and with the book's M1-M4, with chapter 4's settings, in one process and spread over the cores as
the chapter does.  The table must fit in under 90 s on 2 cores.
(2) Times Alabdulmohsin et al.'s own estimators (re-stated, scalinglaws.fit.revisiting) on the
same curves: one batched program per form against the naive way, one curve at a time (as their
code runs), 1,000 rounds each, and the largest difference between their extrapolation errors.
(3) Times the BNSL paper's own procedure -- a brute-force 6-D grid with the ranges of its
4-digit-addition script, then Levenberg-Marquardt on log(y + 1), reimplemented -- against this
book's fitter on the same 14 points, and prints both extrapolation errors.

    python bench/bnsl_fit.py
"""
from __future__ import annotations

import time

import numpy as np

from scalinglaws.config import n_workers, parallel_map
from scalinglaws.data import load_addition_curve, load_scaling_benchmark
from scalinglaws.experiments.ch4_bnsl import OFFICIAL_GRID_ADDITION, Config, _grid, fit_curve
from scalinglaws.fit.bnsl import fit_bnsl, fit_bnsl_official_grid, rmsle
from scalinglaws.fit.revisiting import fit_revisiting


def main() -> None:
    cfg = Config.fast()
    curves = [c for b in cfg.benchmarks for c in load_scaling_benchmark(domain=b)]
    jobs = [(c.x, c.y, c.fit, tuple(cfg.benchmark_breaks), cfg.benchmark_starts,
             min(cfg.n_refine, 3), 0, cfg.penalty) for c in curves]
    t0 = time.perf_counter()
    serial = [fit_curve(j) for j in jobs]
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    parallel_map(fit_curve, jobs)
    t_par = time.perf_counter() - t0
    names = list(serial[0].rmsle)
    errs = {n: np.asarray([s.rmsle[n] for s in serial]) for n in names}
    print(f"benchmark table: {len(curves)} curves x {len(names)} forms ({', '.join(names)})")
    print(f"  one process:          {t_serial:6.1f} s")
    print(f"  {n_workers()} worker processes:   {t_par:6.1f} s   (limit 90 s on 2 cores: "
          f"{'met' if t_par < 90 else 'NOT met'})")
    print("  median extrapolation RMSLE  " + "  ".join(f"{n} {np.median(e):.4f}"
                                                     for n, e in errs.items()))

    xy = [(c.x[c.fit], c.y[c.fit]) for c in curves]
    doms = [c.key[0] for c in curves]
    kw = dict(max_iterations=1000, newton=(100, 0.1))
    print("Alabdulmohsin et al.'s estimators, 1,000 rounds, every curve:")
    for form in ("M2", "M3", "M4"):
        t0 = time.perf_counter()
        batched = fit_revisiting(xy, form, domains=doms, **kw)
        t_b = time.perf_counter() - t0
        t0 = time.perf_counter()
        alone = [fit_revisiting([p], form, domains=[d], **kw)[0] for p, d in zip(xy, doms)]
        t_a = time.perf_counter() - t0
        diff = max(abs(rmsle(a.predict(c.x[~c.fit]), c.y[~c.fit])
                       - rmsle(b.predict(c.x[~c.fit]), c.y[~c.fit]))
                   for a, b, c in zip(alone, batched, curves))
        print(f"  {form}: batched {t_b:6.1f} s, one curve at a time {t_a:6.1f} s "
              f"({t_a / t_b:.1f}x); largest difference in extrapolation RMSLE {diff:.1e}")

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
