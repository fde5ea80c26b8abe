"""Chapter 4's figures, drawn from its result's parts at the book column's width
(:data:`plotting.COLUMN_IN`). Each form is drawn in the style its entry of
:data:`ch4_bnsl.FORMS` gives (looked up by name, never by position); where several panels show
the same forms, one legend under the figure names them and each panel's title carries the
numbers."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch4_bnsl import (
    FIGURE1,
    FORMS,
    RULE_FORMS,
    SIMULATION_TRUTH,
    SUBJECT,
    VARIANTS,
    Addition,
    Benchmark,
    DoubleDescent,
    RuleStudy,
    Simulation,
    Transformer,
    best_baseline,
)
from ..fit.bnsl import bnsl, segment_curves, segment_slopes
from ..plotting import PALETTE


def form_style(name: str) -> dict[str, Any]:
    """The drawing style of a registered form (its ``color`` resolved through
    :data:`PALETTE`); a form that is not registered is an error naming it."""
    if name not in FORMS:
        raise KeyError(f"form {name!r} is not in ch4_bnsl.FORMS")
    style = dict(FORMS[name].style)
    style["color"] = PALETTE.get(style.get("color", "grey"), style.get("color"))
    return style


def _forms(ax: plt.Axes, grid: np.ndarray, preds: Mapping[str, np.ndarray],
           errors: Mapping[str, float], loglog: bool = True, legend_numbers: bool = True) -> None:
    plot = ax.loglog if loglog else ax.plot
    for name, pr in preds.items():
        label = f"{name} ({float(errors[name]):.3f})" if legend_numbers else name
        plot(grid, pr, label=label, **form_style(name))


def _points(ax: plt.Axes, x, y, fit, loglog: bool = True, size: float = 4) -> None:
    plot = ax.loglog if loglog else ax.plot
    plot(x[fit], y[fit], "o", color=PALETTE["black"], markersize=size, label="fitted")
    plot(x[~fit], y[~fit], "o", color=PALETTE["green"], markersize=size, label="held out")


def _title(errors: Mapping[str, float]) -> str:
    name, value = best_baseline({n: np.asarray([e]) for n, e in errors.items()})
    return f"RMSLE: BNSL {float(errors[SUBJECT]):.3f}, best baseline {name[0]} {value[0]:.3f}"


def _row(d: Mapping[str, np.ndarray], i: int) -> dict[str, Any]:
    """Row ``i`` of every entry of a per-form mapping of arrays."""
    return {n: v[i] for n, v in d.items()}


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


def addition_figure(add: Addition) -> plt.Figure:
    """4-digit addition (the paper's data): every form fitted on the first points, extrapolated
    to the rest; extrapolation RMSLE in the legend."""
    fig, ax = plotting.column_figure(4.2)
    fit = np.arange(len(add.x)) < add.n_fit
    _forms(ax, add.grid, add.curves, add.forms_ext, loglog=False)
    _points(ax, add.x, add.y, fit, loglog=False)
    ax.set_xlim(140, 1000)
    ax.set_ylim(0, 2.5)
    plotting.labels(ax, "training dataset size", "test cross-entropy")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    return fig


def transformer_figure(tf: Transformer | None, label: str) -> plt.Figure | None:
    """The freshly trained addition curve (full mode, or the committed full run): fitted points,
    held-out points and every form's extrapolation; ``None`` (and a sentence saying why) when
    there is none."""
    if tf is None:
        print("No freshly trained addition curve here: it is part of full mode (a GPU), and no "
              "full-mode result is stored with the book yet.")
        return None
    fig, ax = plotting.column_figure(4.2)
    y = tf.loss.mean(0)
    fit = np.arange(len(tf.sizes)) < tf.n_fit
    _forms(ax, tf.grid, tf.pred, tf.ext_rmsle, loglog=False)
    _points(ax, tf.sizes, y, fit, loglog=False)
    plotting.labels(ax, "training dataset size", "test cross-entropy", label)
    ax.legend(fontsize=8, ncol=2)
    return fig


def predictability_figure(sim: Simulation) -> plt.Figure:
    """Top: the noiseless simulation and where the paper's procedure was cut. Bottom: the
    extrapolation error against the last x the fit saw, for the paper's procedure and ours."""
    fig, ax = plotting.column_figure(7.2, "A;B")
    x = np.arange(1, 4096.0)
    a = ax["A"]
    a.plot(x, bnsl(x, **SIMULATION_TRUTH), color=PALETTE["black"], linewidth=3, alpha=0.3,
           label="simulated curve")
    for split, e, col in zip(sim.splits, sim.official_ext, (PALETTE["green"], PALETTE["red"])):
        a.axvline(split, color=col, linestyle=":", linewidth=1)
        a.plot([], [], color=col, label=f"fit on x ≤ {split}: RMSLE {e:.1e}")
    a.set_xlim(140, 1500)
    a.set_ylim(0, 2.5)
    plotting.labels(a, "training dataset size", "test cross-entropy", "paper's procedure")
    a.legend(fontsize=8)
    b = ax["B"]
    med = np.median(sim.scan_ext, axis=0)
    for q, row, col in zip(sim.scan_noise, med, (PALETTE["orange"], PALETTE["purple"], PALETTE["sky"])):
        b.semilogy(sim.scan_splits, row, "o-", color=col, label=f"our fitter, noise {q:.0e}")
    b.semilogy(sim.splits, np.median(sim.ours_ext, 0), "s", color=PALETTE["blue"],
               markersize=8, label="our fitter, no noise")
    b.semilogy(sim.splits, sim.official_ext, "x", color=PALETTE["black"],
               markersize=9, mew=2, label="paper's procedure, no noise")
    d1 = SIMULATION_TRUTH["d"][0]
    b.axvline(d1, color=PALETTE["grey"], linestyle="--", linewidth=1)
    b.text(d1 * 1.01, 0.5, "break d₁", color=PALETTE["grey"], transform=b.get_xaxis_transform())
    plotting.labels(b, "last x seen by the fit", "extrapolation RMSLE",
                    "where the break becomes predictable")
    b.legend(fontsize=8)
    return fig


def _rmsle_scatter(ax: plt.Axes, rmsle: Mapping[str, np.ndarray],
                   groups: dict[str, np.ndarray], who: str = "M1–M4") -> None:
    """BNSL's extrapolation RMSLE against the best baseline's, per curve; the diagonal."""
    best = best_baseline(rmsle)[1]
    ours = np.asarray(rmsle[SUBJECT], float)
    cols = (PALETTE["blue"], PALETTE["orange"], PALETTE["purple"], PALETTE["green"])
    for (name, sel), col in zip(groups.items(), cols):
        ax.loglog(best[sel], ours[sel], "o", color=col, markersize=4,
                  label=f"{name} ({int(sel.sum())} curves)")
    lim = [min(best.min(), ours.min()) / 1.5, max(best.max(), ours.max()) * 1.5]
    ax.plot(lim, lim, "--", color=PALETTE["grey"], linewidth=1)
    plotting.labels(ax, f"RMSLE of the best of {who}", "RMSLE of BNSL")
    if len(groups) > 1:
        ax.legend(fontsize=8)


def benchmark_figure(bench: Benchmark, curves: Sequence[Any] | None = None) -> plt.Figure:
    """Top: two benchmark curves, every form fitted on the black points and extrapolated to the
    green (their RMSLE in each title). Bottom: BNSL against the best baseline on every curve.
    ``curves``: the benchmark's curves in the result's order (default: loaded in that order)."""
    if curves is None:
        from ..data import load_scaling_benchmark

        by_key = {c.key: c for b in dict.fromkeys(bench.suite.tolist())
                  for c in load_scaling_benchmark(domain=b)}
        curves = [by_key[k] for k in zip(bench.domain, bench.task, bench.model)]
    fig, ax = plotting.column_figure(6.6, "AB;CC")
    for j, (key, i) in enumerate(zip("AB", bench.showcase)):
        c = curves[int(i)]
        a = ax[key]
        errors = _row(bench.rmsle, int(i))
        _points(a, c.x, c.y, np.asarray(c.fit, bool), size=3)
        _forms(a, bench.showcase_grid[j], _row(bench.showcase_pred, j), errors,
               legend_numbers=False)
        plotting.labels(a, "seen examples", "loss")
        a.set_title(f"{c.label}\n" + _title(errors), fontsize=8)
    for key in "AB"[len(bench.showcase):]:
        ax[key].set_visible(False)      # fewer showcase curves than panels (a small run)
    doms = {d: bench.domain == d for d in ("NMT", "LM", "BB", "IC") if np.any(bench.domain == d)}
    _rmsle_scatter(ax["C"], bench.errors(), doms, who="Alabdulmohsin et al.'s M1–M4")
    plotting.legend_below(fig, [ax["A"]], ncol=4)
    return fig


def rule_figure(rule: RuleStudy) -> plt.Figure:
    """Extrapolation error per synthetic curve (dots) and its median (bar), per fit; the fit
    started at the truth (a reference) in grey at the right."""
    fig, ax = plotting.column_figure(3.8)
    for j, name in enumerate(RULE_FORMS):
        e = rule.rmsle[name]
        col = PALETTE["red"] if name.startswith("BNSL") else (
            PALETTE["sky"] if j == len(RULE_FORMS) - 1 else PALETTE["grey"])
        ax.semilogy(j + np.linspace(-0.15, 0.15, len(e)), e, "o", markersize=3.5, color=col)
        ax.hlines(np.median(e), j - 0.3, j + 0.3, color=PALETTE["black"], linewidth=2)
    ax.set_xticks(range(len(RULE_FORMS)), [n.replace(" ", "\n", 1) for n in RULE_FORMS],
                  fontsize=8)
    plotting.labels(ax, "", "extrapolation RMSLE against the true curve")
    return fig


def double_descent_figure(dd: DoubleDescent) -> plt.Figure:
    """Top left: test MSE against width for every trained curve and their median. Top right: one
    curve, every form fitted and extrapolated (RMSLE in the title). Bottom: BNSL against the best
    baseline on every curve."""
    fig, ax = plotting.column_figure(6.6, "AB;CC")
    x, k = dd.widths, dd.n_fit
    a = ax["A"]
    for c in range(len(dd.test)):
        a.loglog(x, dd.test[c], "-", linewidth=0.8, alpha=0.6)
    a.loglog(x, dd.median_test, "-", color=PALETTE["black"], linewidth=2.5,
             label="median over curves")
    a.axhline(dd.label_noise ** 2, color=PALETTE["black"], linestyle="--", linewidth=0.8,
              label="label-noise variance")
    a.axvline(x[k - 1], color=PALETTE["grey"], linewidth=0.6)
    plotting.labels(a, "width", "test MSE", "every curve")
    a.legend(fontsize=7, loc="lower left")
    b = ax["B"]
    fit = np.arange(len(x)) < k
    errors = _row(dd.rmsle, 0)
    _points(b, x, dd.test[0], fit)
    _forms(b, dd.grid[0], _row(dd.pred, 0), errors, legend_numbers=False)
    b.set_ylim(0.03, 3)
    plotting.labels(b, "width", "test MSE")
    b.set_title("curve 1\n" + _title(errors), fontsize=8)
    n = len(dd.test)
    _rmsle_scatter(ax["C"], dd.rmsle, {"double descent": np.ones(n, bool)})
    plotting.legend_below(fig, [b], ncol=4)
    return fig


def shares_table(bench: Benchmark, baselines: str = "paper") -> Any:
    """The paper's table layout (share of each group's curves on which each form extrapolates
    best; BNSL by the held-out rule), the best form of each group in bold, and the paper's
    column, empty here."""
    from ..book import html_table

    headers, rows = bench.table(baselines)
    who = ("Alabdulmohsin et al.'s own estimators (as in the paper)" if baselines == "paper"
           else "the book's fits")
    return html_table(headers, rows, fmt="{:.0%}", highlight_max=list(range(2, len(headers) - 1)),
                      caption=f"Share of each group's curves on which each form extrapolates best "
                              f"(ties at 3 decimals split); M1–M4 by {who}. The paper's column "
                              "stays empty: its table's numbers could not be read here.")


def sensitivity_table(bench: Benchmark) -> Any:
    """BNSL's share of the wins per group under every fitting variant, against both sets of
    baselines; the oracle is an upper bound (it picks the breaks on the held-out points)."""
    from ..book import html_table

    headers, rows = bench.sensitivity()
    return html_table(headers, rows, fmt="{:.0%}",
                      caption="BNSL's share of the wins per group: breaks chosen by the held-out "
                              "rule, one fixed break (as in the official scripts), or the best "
                              "candidate on the held-out points (" + VARIANTS[2] + ": an upper "
                              "bound, not a procedure); against Alabdulmohsin et al.'s estimators "
                              "(paper's) and the book's fits of M1–M4.")
