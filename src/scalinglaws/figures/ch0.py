"""Chapter 0's figures, drawn from its result at the book column's width
(:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its metadata
(``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch0_measuring import Lies, Prediction, Scaling
from ..plotting import PALETTE


def scaling_figure(sc: Scaling, pr: Prediction, full: tuple[Any, dict] | None = None
                   ) -> plt.Figure:
    """Top: loss against width (median, 16-84 % band, fitted exponent), the Eckart-Young
    optimum, the Zipf asymptote, and the full-mode run if any. Bottom left: local exponents
    between neighbouring widths; bottom right: the fitted exponent at each budget of the ladder.
    One legend, under the figure."""
    fig, ax = plotting.column_figure(6.6, "AA;BC")
    a = pr.asymptotic
    plotting.scaling_plot(ax["A"], sc.widths, sc.loss, label="trained MLPs",
                          fit_range=tuple(pr.fit_range), color=PALETTE["blue"], reference=a,
                          reference_label=f"asymptote N^-a, a = {a:g}")
    ax["A"].plot(pr.widths, np.median(pr.optimal, 0), color=PALETTE["grey"], linewidth=3,
                 alpha=0.5, label=f"Eckart–Young optimum (α = {pr.predicted:.3f})", zorder=0)
    if full is not None:
        fr, meta = full
        plotting.full_overlay(ax["A"], fr.scaling.widths, np.median(fr.scaling.loss, 0), meta)
    plotting.labels(ax["A"], "hidden width N", "population loss")
    plotting.log_ticks(ax["A"], sc.widths)
    b = ax["B"]
    b.semilogx(sc.slopes_x, -sc.slopes, "o-", color=PALETTE["blue"])
    b.semilogx(sc.slopes_x, -sc.slopes_optimal, "-", color=PALETTE["grey"], linewidth=3,
               alpha=0.5)
    b.axhline(a, color=PALETTE["grey"], linestyle="--", linewidth=1.2)
    plotting.labels(b, "hidden width N", "local exponent")
    plotting.log_ticks(b, sc.widths[::2])
    c = ax["C"]
    steps, ex = sc.ladder_steps, sc.ladder_exponents
    c.semilogx(steps, ex[:, 0], "o-", color=PALETTE["blue"])
    c.fill_between(steps, ex[:, 1], ex[:, 2], color=PALETTE["blue"], alpha=0.2, linewidth=0)
    c.axhline(pr.predicted, color=PALETTE["grey"], linewidth=3, alpha=0.5)
    c.axhline(a, color=PALETTE["grey"], linestyle="--", linewidth=1.2)
    plotting.labels(c, "adam steps (budget)", "fitted exponent")
    plotting.log_ticks(c, steps)
    plotting.legend_below(fig, [ax["A"]], ncol=2)
    return fig


def lies_figure(li: Lies, sc: Scaling) -> plt.Figure:
    """Three ways the measurement lies: a noise floor (top left), under-training (top right),
    the fitting range (bottom: the exponent over a sliding window of widths)."""
    fig, ax = plotting.column_figure(6.4, "AB;CC")
    a = ax["A"]
    a.loglog(sc.widths, np.median(sc.loss, 0), "o-", color=PALETTE["blue"],
             label=f"clean (α = {sc.exponent:.2f})")
    a.loglog(sc.widths, np.median(li.noisy, 0), "s-", color=PALETTE["red"],
             label=f"noisy test set (α = {li.exponent_noisy:.2f})")
    a.axhline(li.noise_var, color=PALETTE["red"], linestyle="--", linewidth=1,
              label="noise variance")
    plotting.labels(a, "hidden width N", "loss", "noise floor")
    plotting.log_ticks(a, sc.widths[::2])
    a.legend(loc="lower left", fontsize=8)
    b = ax["B"]
    colours = plt.cm.viridis(np.linspace(0.1, 0.85, len(li.snapshot_steps)))
    for step, e, col in zip(li.snapshot_steps, li.snapshot_exponents, colours):
        j = int(np.searchsorted(li.curve_steps, step))
        b.loglog(sc.widths, np.median(li.curves[:, :, j], 0), "o-", color=col,
                 markersize=3, label=f"step {step} (α = {e:.2f})")
    plotting.labels(b, "hidden width N", "training loss", "under-training")
    plotting.log_ticks(b, sc.widths[::2])
    b.legend(fontsize=8, loc="lower left")
    c = ax["C"]
    c.semilogx(li.window_centres, li.window_measured, "o-", color=PALETTE["blue"],
               label="measured")
    c.semilogx(li.window_centres, li.window_predicted, "-", color=PALETTE["grey"],
               linewidth=3, alpha=0.5, label="predicted (optimum, same window)")
    plotting.labels(c, "window centre (width)", "fitted exponent", "fitting range")
    plotting.log_ticks(c, np.round(li.window_centres, 1))
    c.legend(fontsize=8)
    return fig
