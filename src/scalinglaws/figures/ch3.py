"""Chapter 3's figures, one per section, each drawn from a part of its result at the book column's
width (:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its metadata
(``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch3_lottery_tickets import Mechanism, Relu, TwoNeuron, WidthSweep
from ..plotting import PALETTE


def budget_colours(n: int) -> np.ndarray:
    """One blue per budget of the ladder, darker for longer training."""
    return plt.cm.Blues(np.linspace(0.45, 0.95, n))


def budget_figure(sweep: WidthSweep, relu: Relu, full: tuple[Any, dict] | None = None
                  ) -> plt.Figure:
    """Top: median test MSE against width for SiLU at each budget (blues), after the L-BFGS
    polish (grey, black), ReLU at small widths on the last budget, the paper's N^-1 and the full
    run if any. Bottom left: the SiLU exponent against the budget with its bootstrap interval, the
    paper's value and the alternative. Bottom right: local exponents between neighbouring widths
    at each budget."""
    fig, ax = plotting.column_figure(8.8, "AA;BC")
    a = ax["A"]
    blues = budget_colours(len(sweep.budgets))
    fit = (sweep.fit_min, None)
    for j, T in enumerate(sweep.budgets):
        plotting.scaling_plot(a, sweep.widths, sweep.test_mse[0, j], label=f"SiLU, {T} steps",
                              color=blues[j], fit_range=fit, show_fit=False)
    plotting.scaling_plot(a, sweep.widths, sweep.polished_half_mse, color=PALETTE["grey"],
                          label=f"SiLU, + {sweep.polish_iterations // 2} L-BFGS",
                          fit_range=fit, show_fit=False, bootstrap=False)
    plotting.scaling_plot(a, sweep.widths, sweep.polished_mse, color=PALETTE["black"],
                          label=f"SiLU, + {sweep.polish_iterations} L-BFGS", fit_range=fit,
                          show_fit=False)
    plotting.scaling_plot(a, relu.widths, relu.mse[-1], label=f"ReLU, {relu.budgets[-1]} steps",
                          color=PALETTE["orange"], marker="s", show_fit=False)
    if len(relu.leaky_mse):
        plotting.scaling_plot(a, relu.widths, relu.leaky_mse[-1],
                              label=f"LeakyReLU, {relu.budgets[-1]} steps", color=PALETTE["red"],
                              marker="^", show_fit=False)
    if full is not None:
        fr, meta = full
        plotting.full_overlay(a, fr.sweep.widths, np.median(fr.sweep.test_mse[0, -1], 0), meta,
                              label=f"SiLU {fr.sweep.budgets[-1]} steps, full mode")
    med = np.median(sweep.test_mse[0, 0], 0)
    plotting.reference_slope(a, sweep.widths, 1.0, (sweep.widths[0], 2 * med[0]),
                             label="paper: N⁻¹")
    plotting.labels(a, "hidden neurons N", "test MSE")
    plotting.log_ticks(a, sweep.widths)
    b = ax["B"]
    al = sweep.alpha[0]
    b.errorbar(sweep.budgets, al[:, 0], yerr=[al[:, 0] - al[:, 1], al[:, 2] - al[:, 0]],
               marker="o", color=PALETTE["blue"], capsize=3, label="SiLU, cosine")
    for i in range(1, len(sweep.schedules)):
        b.plot(sweep.budgets, sweep.alpha[i, :, 0], marker="s", color=PALETTE["purple"],
               label=f"SiLU, {sweep.schedules[i]}")
    b.axhline(1.0, color=PALETTE["grey"], linestyle="--", label="paper: α = 1")
    b.axhline(0.0, color=PALETTE["grey"], linestyle=":", label="no N-dependence")
    b.set_xscale("log")
    plotting.log_ticks(b, sweep.budgets)
    plotting.labels(b, "budget T (Adam steps)", f"exponent α (N ≥ {sweep.fit_min})")
    c = ax["C"]
    for j in range(len(sweep.budgets)):
        x, s = sweep.local(j)
        c.semilogx(x, s, "o-", color=blues[j], markersize=4)
    c.axhline(1.0, color=PALETTE["grey"], linestyle="--")
    c.axhline(0.0, color=PALETTE["grey"], linestyle=":")
    plotting.labels(c, "hidden neurons N (midpoint)", "local exponent")
    plotting.log_ticks(c, sweep.widths)
    plotting.legend_below(fig, [a, b], ncol=2)
    return fig


def mechanism_figure(mech: Mechanism) -> plt.Figure:
    """Top: the mirror ratio at initialisation and after each budget (one point per network, bar
    at the median). Bottom: test MSE of k mirror pairs kept (readout x M/k) at each budget, with
    the ensembling prediction k^-1."""
    fig, ax = plotting.column_figure(7.6, "A;B")
    a, b = ax["A"], ax["B"]
    blues = budget_colours(len(mech.budgets))
    rs = np.random.default_rng(0)
    groups = [mech.mirror_init] + list(mech.mirror)
    names = ["init"] + [f"{T}" for T in mech.budgets]
    for i, (g, col) in enumerate(zip(groups, [PALETTE["grey"]] + list(blues))):
        a.scatter(i + 0.15 * rs.standard_normal(len(g)), g, s=10, color=col, alpha=0.7)
        a.plot([i - 0.3, i + 0.3], [np.median(g)] * 2, color=PALETTE["black"])
    a.axhline(0, color=PALETTE["grey"], linestyle="--", label="paper: mirror pairs")
    a.axhline(mech.null, color=PALETTE["grey"], linestyle=":",
              label="no mirror structure (initialisation)")
    a.set_xticks(range(len(names)), names)
    plotting.labels(a, f"budget (Adam steps; init = before training), width {mech.mirror_width}",
                    "mirror ratio")
    a.legend(fontsize=8)
    for j, T in enumerate(mech.budgets):
        b.loglog(mech.keep, np.median(mech.ensemble_mse[j], 0), "o-", color=blues[j],
                 label=f"{T} steps (exponent {mech.ensemble_slope[j, 0]:.1f})")
    plotting.reference_slope(b, mech.keep, 1.0,
                             (mech.keep[0], np.median(mech.ensemble_mse[0], 0)[0]),
                             label="ensemble of tickets: k⁻¹")
    plotting.labels(b, "mirror pairs kept k", "test MSE, trained readout × M/k")
    plotting.log_ticks(b, mech.keep)
    b.legend(fontsize=8)
    return fig


def pairs_figure(pairs: TwoNeuron) -> plt.Figure:
    """Left: final test MSE of the two-neuron networks (tickets orange, others grey) with the
    lowest mode's extent. Right: input weights and biases of every ticket's two neurons, with
    the bias at which silu'''' vanishes."""
    fig, ax = plotting.column_figure(3.8, "AB")
    a, b = ax["A"], ax["B"]
    lg = np.log10(np.maximum(pairs.loss, 1e-300))
    bins = np.linspace(lg.min() - 0.1, lg.max() + 0.1, 60)
    t = np.asarray(pairs.ticket, bool)
    a.hist([lg[~t], lg[t]], bins=bins, stacked=True, color=[PALETTE["grey"], PALETTE["orange"]],
           label=["other solutions", "symmetric tickets"])
    if np.any(pairs.in_peak):
        a.axvline(lg[pairs.in_peak].max(), color=PALETTE["black"], linestyle=":",
                  label="end of the lowest mode")
    plotting.labels(a, "log10 test MSE", "networks")
    a.legend(fontsize=7)
    p = pairs.params[t]
    b.scatter(p[:, 0], p[:, 2], s=10, color=PALETTE["blue"], label="neuron 1 (w₁, b₁)")
    b.scatter(p[:, 1], p[:, 3], s=10, color=PALETTE["red"], marker="x", label="neuron 2 (w₂, b₂)")
    for sgn in (-1, 1):
        b.axhline(sgn * pairs.quartic_root, color=PALETTE["grey"], linestyle="--", linewidth=0.8,
                  label="silu'''' = 0" if sgn < 0 else None)
    b.axvline(0, color=PALETTE["grey"], linewidth=0.8)
    plotting.labels(b, "input weight w", "bias b", "the tickets' neurons")
    b.legend(fontsize=7)
    return fig
