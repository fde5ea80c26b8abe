"""Chapter 3's figures, drawn from its result at the book column's width
(:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its metadata
(``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch3_lottery_tickets import Config, Result
from ..plotting import PALETTE


def budget_colours(n: int) -> np.ndarray:
    """One blue per budget of the ladder, darker for longer training."""
    return plt.cm.Blues(np.linspace(0.45, 0.95, n))


def budget_figure(result: Result, config: Config, full: tuple[Any, dict] | None = None
                  ) -> plt.Figure:
    """Top: median test MSE against width for SiLU at each budget (blues), after the L-BFGS
    polish (grey, black), ReLU and LeakyReLU, the paper's N^-1 and the full run if any; fitted
    exponents in the legend under the figure. Bottom: the SiLU exponent against the budget with
    its bootstrap interval, the paper's value and the alternative."""
    fig, ax = plotting.column_figure(8.4, "A;B")
    a = ax["A"]
    blues = budget_colours(len(result.budgets))
    fit = (config.fit_min, None)
    for j, T in enumerate(result.budgets):
        plotting.scaling_plot(a, result.widths, result.test_mse[0, j], label=f"SiLU, {T} steps",
                              color=blues[j], fit_range=fit, show_fit=False)
    plotting.scaling_plot(a, result.widths, result.polished_half_mse, color=PALETTE["grey"],
                          label=f"SiLU, + {config.polish_iterations // 2} L-BFGS",
                          fit_range=fit, show_fit=False, bootstrap=False)
    plotting.scaling_plot(a, result.widths, result.polished_mse, color=PALETTE["black"],
                          label=f"SiLU, + {config.polish_iterations} L-BFGS", fit_range=fit,
                          show_fit=False)
    for j, T in enumerate(result.relu_budgets):
        plotting.scaling_plot(a, result.widths, result.relu_mse[j], label=f"ReLU, {T} steps",
                              color=PALETTE["orange"], marker="s" if j else "^", fit_range=fit,
                              show_fit=False)
    for j, T in enumerate(result.relu_budgets[:len(result.leaky_mse)]):
        plotting.scaling_plot(a, result.widths, result.leaky_mse[j],
                              label=f"LeakyReLU, {T} steps", color=PALETTE["red"],
                              marker="s" if j else "^", fit_range=fit, show_fit=False)
    if full is not None:
        fr, meta = full
        plotting.full_overlay(a, fr.widths, np.median(fr.test_mse[0, -1], 0), meta,
                              label=f"SiLU {fr.budgets[-1]} steps, full mode")
    med = np.median(result.test_mse[0, -1], 0)
    plotting.reference_slope(a, result.widths, 1.0, (result.widths[0], 2 * med[0]),
                             label="paper: N⁻¹")
    plotting.labels(a, "hidden neurons N", "test MSE")
    plotting.log_ticks(a, result.widths)
    b = ax["B"]
    al = result.alpha[0]
    b.errorbar(result.budgets, al[:, 0], yerr=[al[:, 0] - al[:, 1], al[:, 2] - al[:, 0]],
               marker="o", color=PALETTE["blue"], capsize=3, label="SiLU, cosine")
    for i in range(1, len(result.schedules)):
        b.plot(result.budgets, result.alpha[i, :, 0], marker="s", color=PALETTE["purple"],
               label=f"SiLU, {result.schedules[i]}")
    b.axhline(1.0, color=PALETTE["grey"], linestyle="--", label="paper: α = 1")
    b.axhline(0.0, color=PALETTE["grey"], linestyle=":", label="no N-dependence")
    b.set_xscale("log")
    plotting.log_ticks(b, result.budgets)
    plotting.labels(b, "training budget T (Adam steps)", "fitted exponent α")
    b.legend(fontsize=8, loc="center right")
    plotting.legend_below(fig, [a], ncol=2)
    return fig


def mechanism_figure(result: Result) -> plt.Figure:
    """Top: the widest networks' mirror ratio at initialisation and after each budget (one point
    per seed, bar at the median). Bottom: test MSE of k mirror pairs kept (readout x M/k) at each
    budget, with the ensembling prediction k^-1."""
    fig, ax = plotting.column_figure(7.6, "A;B")
    a, b = ax["A"], ax["B"]
    blues = budget_colours(len(result.budgets))
    rs = np.random.default_rng(0)
    groups = [result.mirror_ratio_init] + list(result.mirror_ratio)
    names = ["init"] + [f"{T}" for T in result.budgets]
    for i, (g, col) in enumerate(zip(groups, [PALETTE["grey"]] + list(blues))):
        a.scatter(i + 0.15 * rs.standard_normal(len(g)), g, s=10, color=col, alpha=0.7)
        a.plot([i - 0.3, i + 0.3], [np.median(g)] * 2, color=PALETTE["black"])
    a.axhline(0, color=PALETTE["grey"], linestyle="--", label="paper: mirror pairs")
    a.axhline(np.median(result.mirror_ratio_init), color=PALETTE["grey"], linestyle=":",
              label="no mirror structure (initialisation)")
    a.set_xticks(range(len(names)), names)
    plotting.labels(a, "training budget (Adam steps; init = before training)", "mirror ratio")
    a.legend(fontsize=8)
    for j, T in enumerate(result.budgets):
        b.loglog(result.ablate_keep, np.median(result.ablate_mse[j], 0), "o-", color=blues[j],
                 label=f"{T} steps (slope {-result.ablate_slope[j, 0]:.1f})")
    plotting.reference_slope(b, result.ablate_keep, 1.0,
                             (result.ablate_keep[0], np.median(result.ablate_mse[0], 0)[0]),
                             label="ensemble of tickets: k⁻¹")
    plotting.labels(b, "mirror pairs kept k", "test MSE, trained readout × M/k")
    plotting.log_ticks(b, result.ablate_keep)
    b.legend(fontsize=8)
    return fig


def pairs_figure(result: Result, config: Config) -> plt.Figure:
    """Left: final test MSE of the two-neuron networks (tickets orange, others grey; the lowest
    fraction dotted). Right: input weights and biases of every ticket's two neurons."""
    fig, ax = plotting.column_figure(3.6, "AB")
    a, b = ax["A"], ax["B"]
    lg = np.log10(result.pair_loss)
    bins = np.linspace(lg.min() - 0.1, lg.max() + 0.1, 60)
    t = np.asarray(result.pair_is_ticket, bool)
    a.hist([lg[~t], lg[t]], bins=bins, stacked=True, color=[PALETTE["grey"], PALETTE["orange"]],
           label=["other solutions", "symmetric tickets"])
    a.axvline(np.quantile(lg, config.best_quantile), color=PALETTE["black"], linestyle=":",
              label=f"lowest {config.best_quantile:.0%}")
    plotting.labels(a, "log10 test MSE", "networks")
    a.legend(fontsize=7)
    p = result.pair_params[t]
    b.scatter(p[:, 0], p[:, 2], s=10, color=PALETTE["blue"], label="neuron 1 (w₁, b₁)")
    b.scatter(p[:, 1], p[:, 3], s=10, color=PALETTE["red"], marker="x", label="neuron 2 (w₂, b₂)")
    b.axvline(0, color=PALETTE["grey"], linewidth=0.8)
    plotting.labels(b, "input weight w", "bias b", "the tickets' neurons")
    b.legend(fontsize=7)
    return fig
