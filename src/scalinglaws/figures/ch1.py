"""Chapter 1's figures, drawn from its result at the book column's width
(:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its metadata
(``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch1_resource_model import PAPER_FIG2C, PAPER_SLOPE, Config, Result
from ..plotting import PALETTE


def rung_styles(result: Result, config: Config) -> tuple[list[str], list[Any]]:
    """Labels and colours of the alpha-path's rungs: each Adam budget (blues, darker = longer),
    then the polish (black)."""
    blues = plt.cm.Blues(np.linspace(0.45, 0.95, len(result.budgets)))
    labels = [f"{T} steps" for T in result.budgets] + [f"+ {config.polish_iterations} OWL-QN"]
    return labels, list(blues) + [PALETTE["black"]]


def path_figure(result: Result, config: Config, full: tuple[Any, dict] | None = None
                ) -> plt.Figure:
    """Top: median test MSE against median allocated neurons, one point per alpha, per rung
    (slope with its interval in the legend under the figure), the paper's digitised Fig. 2C and
    its N^-1.1, and the pair optimum. Bottom: allocated neurons against alpha per rung."""
    fig, ax = plotting.column_figure(8.0, "A;B")
    a, b = ax["A"], ax["B"]
    labels, cols = rung_styles(result, config)
    for r in range(len(labels)):
        N, L = np.median(result.path_n[r], 0), np.median(result.path_mse[r], 0)
        s = result.path_slope[r]
        a.loglog(N, L, "o-", color=cols[r],
                 label=f"{labels[r]} (slope {s[0]:.2f} [{s[1]:.2f}, {s[2]:.2f}])")
        b.loglog(result.alphas, N, "o-", color=cols[r])
    if full is not None:
        fr, meta = full
        plotting.full_overlay(a, np.median(fr.path_n[-2], 0), np.median(fr.path_mse[-2], 0), meta)
    p = PAPER_FIG2C
    a.loglog(p[:, 0], p[:, 1], "s", color=PALETTE["orange"], label="paper, Fig. 2C")
    plotting.reference_slope(a, p[:, 0], -PAPER_SLOPE, (p[1, 0], p[1, 1]), label="paper: N^−1.1")
    a.loglog(np.full(len(result.alphas), 2.0), result.pair_mse, "*", color=PALETTE["red"],
             markersize=9, label="pair optimum (every α)")
    plotting.labels(a, "allocated neurons N", "test MSE")
    b.loglog(result.alphas, np.full(len(result.alphas), 2.0), "*--", color=PALETTE["red"])
    plotting.labels(b, "task weight α", "allocated neurons N")
    plotting.log_ticks(b, [x for x in (1, 4, 16, 64, 256) if x <= result.alphas.max()])
    plotting.legend_below(fig, [a], ncol=2)
    return fig
