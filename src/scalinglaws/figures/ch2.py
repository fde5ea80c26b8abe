"""Chapter 2's figures, drawn from its result at the book column's width
(:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its metadata
(``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch2_explaining import Config, Result
from ..plotting import PALETTE

#: legend text inside the figures' half-width panels
SMALL = 7


def _variance_panel(ax: plt.Axes, x, excess, label: str, colour: str, xlabel: str, ylabel: str,
                    reference_label: str, theory=None, theory_label: str = "", raw=None) -> None:
    """A variance-limited curve: mean excess with its band, the theory if any, the raw
    per-teacher points if any, and the paper's 1/x (dashed)."""
    ax.loglog(x, excess.mean(0), "o-", color=colour, label=label)
    plotting.band(ax, x, excess, colour)
    if theory is not None:
        ax.loglog(x, theory.mean(0), color=PALETTE["black"], linewidth=1, label=theory_label)
    if raw is not None:
        ax.loglog(x, np.where(raw > 0, raw, np.nan).T, ".", color=colour, alpha=0.3)
    plotting.reference_slope(ax, x, 1.0, (x[0], 1.6 * excess.mean(0)[0]), label=reference_label)
    plotting.labels(ax, xlabel, ylabel)
    plotting.log_ticks(ax, x[::2])
    ax.legend(fontsize=SMALL)


def regimes_figure(result: Result, config: Config, full: tuple[Any, dict] | None = None
                   ) -> plt.Figure:
    """The four regimes of one random-feature model (mean over teachers, 16-84 % band): variance-
    limited in D (top left) and in P (bottom right) with their 1/D, 1/P predictions;
    resolution-limited in D (top right) and in P (bottom left) against the exact-spectrum theory
    and the neighbouring dimension's theory (the alternative)."""
    fig, ax = plotting.column_figure(7.4, "AB;CD")
    e = result.exponents["var_D"]
    _variance_panel(ax["A"], result.var_D, result.var_D_excess,
                    f"measured excess (α = {e[0]:.2f} [{e[1]:.2f}, {e[2]:.2f}])", PALETTE["orange"],
                    "training points D", "excess over the P-feature optimum", "paper: 1/D",
                    theory=result.var_D_theory, theory_label="L(∞) P/(D−P−1)")
    e = result.exponents["var_P"]
    _variance_panel(ax["D"], result.var_P, result.var_P_excess,
                    f"E_W ||f_P − f_∞||² (α = {e[0]:.2f} [{e[1]:.2f}, {e[2]:.2f}])", PALETTE["red"],
                    f"features P (D = {config.var_P_D})", "excess over the kernel limit",
                    "paper: 1/P", raw=result.var_P_raw)
    for key, x, Y, T, nb, col, xl, loss in (
            ("B", result.res_D, result.res_D_loss, result.res_D_theory,
             result.neighbour_D.get("d+1"), PALETTE["blue"], "training points D (P = ∞)",
             "res_D_loss"),
            ("C", result.res_P, result.res_P_loss, result.res_P_theory,
             result.neighbour_D.get("d+1 features"), PALETTE["green"],
             f"features P (D = {config.res_P_data})", "res_P_loss")):
        a = ax[key]
        a.loglog(x, Y.mean(0), "o-", color=col, label="measured")
        plotting.band(a, x, Y, col)
        a.loglog(x, T.mean(0), "-", color=PALETTE["black"], linewidth=1.4,
                 label="theory, exact spectrum")
        if nb is not None:
            a.loglog(x, nb, ":", color=PALETTE["grey"], linewidth=1.4,
                     label=f"theory for d = {config.d + 1}")
        if full is not None:
            fr, meta = full
            plotting.full_overlay(a, x, getattr(fr, loss).mean(0), meta)
        plotting.labels(a, xl, "test loss")
        plotting.log_ticks(a, x[::2])
        a.legend(fontsize=SMALL)
    return fig


def dims_figure(result: Result) -> plt.Figure:
    """Left: kernel-regression loss against D for spheres of several dimensions. Right: the
    fitted exponent against d with the exact theory's local exponent on the same range, the
    asymptotic 3/(d-1) and the piecewise-linear 4/(d-1)."""
    fig, ax = plotting.column_figure(3.6, "AB")
    a, b = ax["A"], ax["B"]
    for dd, L, al, col in zip(result.dims, result.dim_loss, result.dim_alpha, plotting.CYCLE):
        a.loglog(result.dim_D, L.mean(0), "o-", color=col, markersize=3,
                 label=f"d = {dd} (α_D = {al[0]:.2f})")
    plotting.labels(a, "training points D", "test loss")
    plotting.log_ticks(a, result.dim_D[::2])
    a.legend(fontsize=SMALL)
    ds = np.array(sorted(int(k) for k in result.dim_theory))
    b.plot(ds, [result.dim_theory[str(k)] for k in ds], "-", color=PALETTE["black"],
           label="exact theory, same range")
    al = result.dim_alpha
    b.errorbar(result.dims, al[:, 0], yerr=[al[:, 0] - al[:, 1], al[:, 2] - al[:, 0]], fmt="o",
               color=PALETTE["blue"], capsize=3, label="measured α_D")
    xx = np.linspace(ds.min(), ds.max(), 100)
    b.plot(xx, 3 / (xx - 1), "--", color=PALETTE["grey"], label="asymptotic 3/(d−1)")
    b.plot(xx, 4 / (xx - 1), ":", color=PALETTE["red"], label="4/(d−1): piecewise linear")
    plotting.labels(b, "ambient dimension d", "resolution-limited exponent")
    b.legend(fontsize=SMALL)
    return fig


def trained_figure(result: Result) -> plt.Figure:
    """Left: variance over initialisations of trained networks against width (NTK with gradient
    descent at each budget, and Adam) with 1/width. Right: kernel regression on the digits."""
    fig, ax = plotting.column_figure(3.8, "AB")
    a, b = ax["A"], ax["B"]
    n = max(1, len(result.ntk_steps) - 1)
    for k, (T, v, s) in enumerate(zip(result.ntk_steps, result.ntk_variance, result.ntk_slope)):
        a.loglog(result.nn_widths, v, "o-", color=PALETTE["purple"], alpha=0.5 + 0.5 * k / n,
                 label=f"NTK, GD, {T} steps (slope {s:.2f})")
    a.loglog(result.nn_widths, result.adam_variance, "s-", color=PALETTE["orange"],
             label=f"standard, Adam (slope {result.adam_slope:.2f})")
    plotting.reference_slope(a, result.nn_widths, 1.0,
                             (result.nn_widths[0], result.ntk_variance[-1][0]), label="1/width")
    plotting.labels(a, "hidden width", "variance over initialisations")
    plotting.log_ticks(a, result.nn_widths[::2])
    a.legend(fontsize=SMALL)
    plotting.scaling_plot(b, result.digits_D, result.digits_loss, label="digits, arc-cosine kernel",
                          color=PALETTE["blue"], fit_range=(result.digits_D[1], None))
    plotting.labels(b, "training images D", "test loss (squared error)")
    plotting.log_ticks(b, result.digits_D[::2])
    b.legend(fontsize=SMALL)
    return fig
