"""Chapter 1's figures, one per section, each drawn from a part of its result at the book
column's width (:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its
metadata (``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..data import song2024 as paper
from ..experiments.ch1_resource_model import (
    CLAIMED_FORM,
    FORMS,
    AlphaPath,
    Chinchilla,
    Optimum,
    Parallel,
    Penalties,
    Series,
)
from ..plotting import PALETTE
from ..theory import CHINCHILLA_SHAPES

#: line style of each L1 form
FORM_STYLE = {"loss": "-", "prox": "--"}
FORM_LABEL = {"loss": "L1 in the loss", "prox": "proximal L1"}


def _rung_colours(n: int, cmap=plt.cm.Blues) -> list:
    return [cmap(0.45 + 0.5 * k / max(1, n - 1)) for k in range(n)]


def _iv(s) -> str:
    return f"{s[0]:.2f} [{s[1]:.2f}, {s[2]:.2f}]"


def path_figure(path: AlphaPath, optimum: Optimum, full: tuple[Any, dict] | None = None
                ) -> plt.Figure:
    """Top: median test MSE against median allocated neurons, one point per alpha, per rung of
    the ladder (darker = longer) and L1 form (solid: in the loss; dashed: proximal), with the
    paper's digitised Fig. 2C and its slope, and the pair optimum. Bottom: allocated neurons
    against alpha, with the paper's digitised Fig. 2B."""
    fig, ax = plotting.column_figure(8.2, "A;B")
    a, b = ax["A"], ax["B"]
    cols = _rung_colours(len(path.budgets))
    for form in FORMS:
        f = path.form(form)
        for r, T in enumerate(path.budgets):
            N, L = np.median(path.n[f, r], 0), np.median(path.mse[f, r], 0)
            lab = f"{T} steps, {FORM_LABEL[form]} (slope {_iv(path.slope[f, r])})"
            a.loglog(N, L, "o" + FORM_STYLE[form], color=cols[r], markersize=4, label=lab)
            b.loglog(path.alphas, np.maximum(N, 1), "o" + FORM_STYLE[form], color=cols[r],
                     markersize=4)
    if full is not None:
        fr, meta = full
        f = fr.path.form(CLAIMED_FORM)
        plotting.full_overlay(a, np.median(fr.path.n[f, -1], 0), np.median(fr.path.mse[f, -1], 0),
                              meta)
    p = paper.FIG2C
    a.loglog(p[:, 0], p[:, 1], "s", color=PALETTE["orange"], label="paper, Fig. 2C (digitised)")
    plotting.reference_slope(a, p[:, 0], -path.paper_slope, (p[1, 0], p[1, 1]),
                             label=f"paper: slope {path.paper_slope:.2f} (N ≥ {path.fit_min:g})")
    a.loglog(np.full(len(path.alphas), 2.0), optimum.pair_mse, "*", color=PALETTE["red"],
             markersize=9, label="pair optimum (every α)")
    plotting.labels(a, "allocated neurons N", "test MSE")
    plotting.log_ticks(a, [2, 4, 8, 16, 32, 64, 128])
    q = paper.FIG2B
    b.loglog(q[:, 0], q[:, 1], "-", color=PALETTE["orange"], linewidth=2.5, alpha=0.8,
             label="paper, Fig. 2B (digitised)")
    b.loglog(path.alphas, np.full(len(path.alphas), 2.0), "*:", color=PALETTE["red"])
    plotting.labels(b, "task weight α", "allocated neurons N")
    plotting.log_ticks(b, [x for x in (1, 4, 16, 64, 256) if x <= path.alphas.max()])
    plotting.legend_below(fig, [a, b], ncol=2)
    return fig


def optimum_figure(optimum: Optimum, path: AlphaPath) -> plt.Figure:
    """Objective of the best network of each kind, divided by the pair optimum's, against
    alpha: the alpha-path's last rung (both forms), its polish and the seeded pair."""
    fig, ax = plotting.column_figure(3.8)
    for form in FORMS:
        f = path.form(form)
        ax.semilogx(path.alphas, path.obj[f, -1].min(0) / optimum.pair_obj, "o" + FORM_STYLE[form],
                    color=PALETTE["blue"], label=f"{path.budgets[-1]} steps, {FORM_LABEL[form]}")
    ax.semilogx(path.alphas, optimum.polish_obj.min(0) / optimum.pair_obj, "o-",
                color=PALETTE["black"], label=f"proximal path + {optimum.iterations} OWL-QN")
    ax.semilogx(path.alphas, optimum.seeded_obj.min(0) / optimum.pair_obj, "s--",
                color=PALETTE["green"], label="pair + small neurons, polished")
    ax.axhline(1, color=PALETTE["red"], linestyle=":", label="pair optimum")
    ax.set_yscale("log")
    plotting.labels(ax, "task weight α", "objective / pair optimum's")
    ax.legend(fontsize=8)
    return fig


def penalty_figure(penalties: Penalties) -> plt.Figure:
    """The penalty variants on their last rung: median test MSE against median allocated
    neurons (slope and the pool's fill in the legend) and each variant's pair optimum."""
    fig, ax = plotting.column_figure(3.8)
    for v, (name, col) in enumerate(zip(np.asarray(penalties.names).tolist(), plotting.CYCLE)):
        N, L = np.median(penalties.n[v, -1], 0), np.median(penalties.mse[v, -1], 0)
        ax.loglog(np.maximum(N, 1), L, "o-", color=col,
                  label=f"L1 on {name}: slope {_iv(penalties.slope[v, -1])}, "
                        f"{penalties.fill[v, -1]:.0%} of the pool at α max")
        ax.loglog(np.full(N.shape, 2.0), penalties.pair_mse[v], "*", color=col, markersize=8)
    plotting.labels(ax, "allocated neurons N", "test MSE")
    ax.legend(fontsize=8)
    return fig


def parallel_figure(parallel: Parallel) -> plt.Figure:
    """Neuron ratio N1/N2 against alpha for each beta, one curve per rung of the parallel ladder
    (lighter = shorter), with the paper's digitised Fig. 3C for the same betas."""
    fig, ax = plotting.column_figure(4.0)
    R = len(parallel.budgets)
    for i, beta in enumerate(parallel.betas):
        cmap = plt.cm.Oranges if beta > 0.5 else plt.cm.Greens
        for j, T in enumerate(parallel.budgets):
            ax.semilogx(parallel.alphas, parallel.ratio[j, i], "o-",
                        color=cmap(0.45 + 0.5 * j / max(R - 1, 1)), label=f"β = {beta:g}, {T} steps")
        k = np.flatnonzero(np.isclose(paper.FIG3C_BETAS, beta))[0]
        ax.semilogx(paper.FIG3C_ALPHAS, paper.FIG3C[:, k], "s--", color=cmap(0.95), markersize=5,
                    label=f"paper, Fig. 3C, β = {beta:g}")
    ax.axhline(1.0, color=PALETTE["grey"], linestyle=":", label="equal allocation")
    ax.set_yscale("log")
    plotting.labels(ax, "task weight α", "neuron ratio N₁/N₂")
    plotting.log_ticks(ax, paper.FIG3C_ALPHAS)
    plotting.log_ticks(ax, [1, 2, 4, 8], axis="y")
    plotting.legend_below(fig, [ax], ncol=2)
    return fig


def series_figure(series: Series) -> plt.Figure:
    """Series task: training MSE against the neurons allocated over all hidden layers, one point
    per network coloured by alpha, with N^-1."""
    fig, ax = plotting.column_figure(3.8)
    S2, SA = series.neurons.shape
    al = np.broadcast_to(series.alphas, (S2, SA))
    sc = ax.scatter(np.maximum(series.neurons.ravel(), 1), series.mse.ravel(),
                    c=np.log2(al.ravel()), cmap="viridis", s=28,
                    label=f"networks (slope {series.slope:.2f})")
    n = np.geomspace(max(series.neurons.min(), 1), max(series.neurons.max(), 2), 10)
    plotting.reference_slope(ax, n, 1.0, (n[0], 2 * np.max(series.mse)), label="N⁻¹")
    ax.set_xscale("log")
    ax.set_yscale("log")
    fig.colorbar(sc, ax=ax, label="log₂ α")
    plotting.labels(ax, "allocated neurons (all layers)", "training MSE")
    ax.legend(fontsize=8)
    return fig


def chinchilla_figure(chinchilla: Chinchilla) -> plt.Figure:
    """Width and depth of Chinchilla's 50 models (Table A9) against their parameter count, with
    fitted exponents, and the depth-proportional-to-width N_p^(1/3)."""
    sh = CHINCHILLA_SHAPES
    fig, ax = plotting.column_figure(3.8)
    Np = sh[:, 0] * 1e6
    ax.loglog(Np, sh[:, 1], "o", color=PALETTE["blue"],
              label=f"d_model (∝ N_p^{chinchilla.width[0]:.3f})")
    ax.loglog(Np, sh[:, 2] * 100, "s", color=PALETTE["green"],
              label=f"layers × 100 (∝ N_p^{chinchilla.depth[0]:.3f})")
    ax.loglog(Np, sh[0, 1] * (Np / Np[0]) ** (1 / 3), "--", color=PALETTE["grey"],
              label="depth ∝ width: N_p^(1/3)")
    plotting.labels(ax, "parameters N_p", "width, depth")
    ax.legend(fontsize=8)
    return fig
