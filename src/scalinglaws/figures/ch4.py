"""Chapter 4's figures, drawn from its result at the book column's width
(:data:`plotting.COLUMN_IN`). Each form of :data:`ch4_bnsl.FORMS` is drawn in the style of
:data:`FORM_STYLES` (looked up by name, never by position); where several panels show the same
forms, one legend under the figure names them and each panel's title carries the numbers."""
from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch4_bnsl import FIGURE1, FORMS, RULE_FORMS, SIMULATION_TRUTH, Config, Result
from ..fit.bnsl import bnsl, segment_curves, segment_slopes
from ..plotting import PALETTE

#: how each comparison form is drawn (the book's convention: BNSL bold red, the baselines grey)
FORM_STYLES: dict[str, dict[str, Any]] = {
    "M1": dict(color=PALETTE["grey"], linestyle=":", linewidth=1.2),
    "M2": dict(color=PALETTE["grey"], linestyle="-.", linewidth=1.2),
    "M3": dict(color=PALETTE["grey"], linestyle="--", linewidth=1.2),
    "M4": dict(color=PALETTE["grey"], linestyle=(0, (5, 1, 1, 1)), linewidth=1.2),
    "BNSL": dict(color=PALETTE["red"], linestyle="-", linewidth=2.2),
}


def form_style(name: str) -> dict[str, Any]:
    """The drawing style of a form; a form without one is an error naming it."""
    if name not in FORM_STYLES:
        raise KeyError(f"form {name!r} has no entry in figures.ch4.FORM_STYLES")
    return FORM_STYLES[name]


def _forms(ax: plt.Axes, grid: np.ndarray, preds: Sequence[np.ndarray], errors: Sequence[float],
           loglog: bool = True, legend_numbers: bool = True) -> None:
    plot = ax.loglog if loglog else ax.plot
    for name, pr, e in zip(FORMS, preds, errors):
        plot(grid, pr, label=f"{name} ({e:.3f})" if legend_numbers else name, **form_style(name))


def _points(ax: plt.Axes, x, y, fit, loglog: bool = True, size: float = 4) -> None:
    plot = ax.loglog if loglog else ax.plot
    plot(x[fit], y[fit], "o", color=PALETTE["black"], markersize=size, label="fitted")
    plot(x[~fit], y[~fit], "o", color=PALETTE["green"], markersize=size, label="held out")


def _title(names_errors: dict[str, float]) -> str:
    best = min((e, n) for n, e in names_errors.items() if n != "BNSL")
    return f"RMSLE: BNSL {names_errors['BNSL']:.3f}, best baseline {best[1]} {best[0]:.3f}"


def decomposition_figure() -> plt.Figure:
    """A BNSL with three breaks (the paper's Figure 1 parameters) and its power-law segments."""
    fig, ax = plotting.column_figure(4.2)
    p = FIGURE1
    x = np.logspace(-1, 26, 2000)
    ax.loglog(x, bnsl(x, **p), color=PALETTE["black"], linewidth=2.5, label="BNSL with 3 breaks")
    for k, (seg, s) in enumerate(zip(segment_curves(x, p["b"], p["c0"], p["c"], p["d"]),
                                     segment_slopes(p["c0"], p["c"]))):
        ax.loglog(x, p["a"] + seg, "--", linewidth=1.2, label=f"segment {k + 1}: slope {s:+.3f}")
    for d in p["d"]:
        ax.axvline(d, color=PALETTE["grey"], linewidth=0.6, linestyle=":")
    ax.set_ylim(1e-3, 1e4)
    plotting.labels(ax, "x (e.g. training compute)", "y (e.g. test loss)")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def addition_figure(result: Result, config: Config) -> plt.Figure:
    """4-digit addition (the paper's data): every form fitted on the first points, extrapolated
    to the rest; extrapolation RMSLE in the legend."""
    fig, ax = plotting.column_figure(4.2)
    k = config.addition_split
    fit = np.arange(len(result.addition_x)) < k
    _forms(ax, result.addition_grid, result.addition_curves, result.addition_forms_ext,
           loglog=False)
    _points(ax, result.addition_x, result.addition_y, fit, loglog=False)
    ax.set_xlim(140, 1000)
    ax.set_ylim(0, 2.5)
    plotting.labels(ax, "training dataset size", "test cross-entropy")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    return fig


def transformer_figure(tf: Any, config: Config, label: str) -> plt.Figure:
    """The freshly trained addition curve (full mode, or the committed full run): fitted points,
    held-out points and every form's extrapolation."""
    fig, ax = plotting.column_figure(4.2)
    k = int(config.tf_fit_points)
    y = tf.tf_loss.mean(0)
    fit = np.arange(len(tf.tf_sizes)) < k
    _forms(ax, tf.tf_grid, tf.tf_pred, tf.tf_ext_rmsle, loglog=False)
    _points(ax, tf.tf_sizes, y, fit, loglog=False)
    plotting.labels(ax, "training dataset size", "test cross-entropy", label)
    ax.legend(fontsize=8, ncol=2)
    return fig


def predictability_figure(result: Result) -> plt.Figure:
    """Top: the noiseless simulation and where the paper's procedure was cut. Bottom: the
    extrapolation error against the last x the fit saw, for the paper's procedure and ours."""
    fig, ax = plotting.column_figure(7.2, "A;B")
    x = np.arange(1, 4096.0)
    a = ax["A"]
    a.plot(x, bnsl(x, **SIMULATION_TRUTH), color=PALETTE["black"], linewidth=3, alpha=0.3,
           label="simulated curve")
    for split, e, col in zip(result.sim_splits, result.sim_official_ext,
                             (PALETTE["green"], PALETTE["red"])):
        a.axvline(split, color=col, linestyle=":", linewidth=1)
        a.plot([], [], color=col, label=f"fit on x ≤ {split}: RMSLE {e:.1e}")
    a.set_xlim(140, 1500)
    a.set_ylim(0, 2.5)
    plotting.labels(a, "training dataset size", "test cross-entropy", "paper's procedure")
    a.legend(fontsize=8)
    b = ax["B"]
    med = np.median(result.scan_ext, axis=0)
    for q, row, col in zip(result.scan_noise, med,
                           (PALETTE["orange"], PALETTE["purple"], PALETTE["sky"])):
        b.semilogy(result.scan_splits, row, "o-", color=col, label=f"our fitter, noise {q:.0e}")
    b.semilogy(result.sim_splits, np.median(result.sim_ours_ext, 0), "s", color=PALETTE["blue"],
               markersize=8, label="our fitter, no noise")
    b.semilogy(result.sim_splits, result.sim_official_ext, "x", color=PALETTE["black"],
               markersize=9, mew=2, label="paper's procedure, no noise")
    d1 = SIMULATION_TRUTH["d"][0]
    b.axvline(d1, color=PALETTE["grey"], linestyle="--", linewidth=1)
    b.text(d1 * 1.01, 0.5, "break d₁", color=PALETTE["grey"], transform=b.get_xaxis_transform())
    plotting.labels(b, "last x seen by the fit", "extrapolation RMSLE",
                    "where the break becomes predictable")
    b.legend(fontsize=8)
    return fig


def _rmsle_scatter(ax: plt.Axes, rmsle: np.ndarray, groups: dict[str, np.ndarray]) -> None:
    """BNSL's extrapolation RMSLE against the best baseline's, per curve; the diagonal."""
    cols = [FORMS.index(n) for n in FORMS if n != "BNSL"]
    best = rmsle[:, cols].min(1)
    ours = rmsle[:, FORMS.index("BNSL")]
    for (name, sel), col in zip(groups.items(), (PALETTE["blue"], PALETTE["orange"])):
        ax.loglog(best[sel], ours[sel], "o", color=col, markersize=4,
                  label=f"{name} ({int(sel.sum())} curves)")
    lim = [min(best.min(), ours.min()) / 1.5, max(best.max(), ours.max()) * 1.5]
    ax.plot(lim, lim, "--", color=PALETTE["grey"], linewidth=1)
    plotting.labels(ax, "RMSLE of the best of M1–M4", "RMSLE of BNSL")
    if len(groups) > 1:
        ax.legend(fontsize=8)


def benchmark_figure(result: Result, curves: Sequence[Any]) -> plt.Figure:
    """Top: two benchmark curves, every form fitted on the black points and extrapolated to the
    green (their RMSLE in each title). Bottom: BNSL against the best baseline on every curve."""
    fig, ax = plotting.column_figure(6.6, "AB;CC")
    for key, i, grid, preds in zip("AB", result.showcase, result.showcase_grid,
                                   result.showcase_pred):
        c = curves[int(i)]
        a = ax[key]
        _points(a, c.x, c.y, np.asarray(c.fit, bool), size=3)
        _forms(a, grid, preds, result.bench_rmsle[i], legend_numbers=False)
        plotting.labels(a, "seen examples", "loss")
        a.set_title(f"{c.label}\n" + _title(dict(zip(FORMS, result.bench_rmsle[i]))), fontsize=8)
    for key in "AB"[len(result.showcase):]:
        ax[key].set_visible(False)      # fewer showcase curves than panels (a small run)
    _rmsle_scatter(ax["C"], result.bench_rmsle,
                   {b: result.bench_set == b for b in ("lang", "vision")})
    plotting.legend_below(fig, [ax["A"]], ncol=4)
    return fig


def rule_figure(result: Result) -> plt.Figure:
    """Extrapolation error per synthetic curve (dots) and its median (bar), per fit."""
    fig, ax = plotting.column_figure(3.8)
    for j, name in enumerate(RULE_FORMS):
        e = result.rule_rmsle[:, j]
        ax.semilogy(j + np.linspace(-0.15, 0.15, len(e)), e, "o", markersize=4,
                    color=PALETTE["red"] if name == "held-out rule" else PALETTE["grey"])
        ax.hlines(np.median(e), j - 0.3, j + 0.3, color=PALETTE["black"], linewidth=2)
    ax.set_xticks(range(len(RULE_FORMS)), RULE_FORMS)
    plotting.labels(ax, "fit", "extrapolation RMSLE against the true curve")
    return fig


def double_descent_figure(result: Result, config: Config) -> plt.Figure:
    """Top left: test MSE against width for every trained curve and their median. Top right: one
    curve, every form fitted and extrapolated (RMSLE in the title). Bottom: BNSL against the best
    baseline on every curve."""
    fig, ax = plotting.column_figure(6.6, "AB;CC")
    x, k = result.dd_widths, config.dd_fit_points
    a = ax["A"]
    for c in range(len(result.dd_test)):
        a.loglog(x, result.dd_test[c], "-", linewidth=0.8, alpha=0.6)
    a.loglog(x, np.median(result.dd_test, 0), "-", color=PALETTE["black"], linewidth=2.5,
             label="median over curves")
    a.axhline(config.dd_label_noise ** 2, color=PALETTE["black"], linestyle="--", linewidth=0.8,
              label="label-noise variance")
    a.axvline(x[k - 1], color=PALETTE["grey"], linewidth=0.6)
    plotting.labels(a, "width", "test MSE", "every curve")
    a.legend(fontsize=7, loc="lower left")
    b = ax["B"]
    fit = np.arange(len(x)) < k
    _points(b, x, result.dd_test[0], fit)
    _forms(b, result.dd_grid[0], result.dd_pred[0], result.dd_rmsle[0], legend_numbers=False)
    b.set_ylim(0.03, 3)
    plotting.labels(b, "width", "test MSE")
    b.set_title("curve 1\n" + _title(dict(zip(FORMS, result.dd_rmsle[0]))), fontsize=8)
    _rmsle_scatter(ax["C"], result.dd_rmsle, {"double descent": np.ones(len(result.dd_rmsle), bool)})
    plotting.legend_below(fig, [b], ncol=4)
    return fig
