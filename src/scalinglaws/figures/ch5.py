"""Chapter 5's figures, one per section, each drawn from its part of the result.

Every function returns the figure at the book column's width (:data:`plotting.COLUMN_IN`);
``full`` is the committed full-mode result and its metadata (``cache.load_full_result``), drawn
beside the live run when present.
"""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch5_data_distribution import Allocation, Clusters, Config, Paper, Scaling
from ..plotting import PALETTE
from ..theory import PercolationScaling, exponents_by_dimension

#: c/D values of the theory figure (the paper's theory plots: alpha = 1 and these c/D)
THEORY_CD = (0.1, 0.5, 1, 2, 20)


def theory_figure() -> plt.Figure:
    """The continuum theory: model and data scaling for alpha = 1 and several c/D, and the
    asymptotic exponents against lattice dimension for c = 2, 4, 6."""
    fig, ax = plotting.column_figure(6.4, "AB;CC")
    N = np.geomspace(1, 1e6, 200)
    for cD, col in zip(THEORY_CD, plotting.CYCLE):
        t = PercolationScaling(c=4 * cD)
        ax["A"].loglog(N, t.model_loss(N), color=col, label=f"c/D = {cD:g}")
        ax["B"].loglog(N, t.data_loss(N), color=col)
        for a, e in ((ax["A"], t.model_exponent()), (ax["B"], t.data_exponent())):
            a.annotate(f"{e:g}", (N[-1], (t.model_loss if a is ax["A"] else t.data_loss)(N)[-1]),
                       fontsize=8, color=col, xytext=(2, 0), textcoords="offset points",
                       va="center")
    plotting.labels(ax["A"], "model size N (DOF)", "loss", "model scaling")
    plotting.labels(ax["B"], "data D (DOF-equivalent samples)", "loss", "data scaling")
    for a in (ax["A"], ax["B"]):
        a.set_ylim(1e-5, 2)
    ax["A"].legend(fontsize=8, loc="lower left")
    for c, col in zip((2, 4, 6), plotting.CYCLE):
        e = exponents_by_dimension(c)
        ax["C"].plot(e["d"], e["model"], "o-", color=col, label=f"model, c = {c}")
        ax["C"].plot(e["d"], e["data"], "s--", color=col, label=f"data, c = {c}")
    ax["C"].plot(e["d"], e["alpha"], ":", color=PALETTE["grey"], label="α (quanta limit)")
    ax["C"].set_ylim(0, 3.3)
    plotting.labels(ax["C"], "lattice dimension d", "asymptotic exponent")
    ax["C"].legend(fontsize=8, ncol=4, loc="upper left")
    return fig


def clusters_figure(cl: Clusters, config: Config) -> plt.Figure:
    """Size law (with the 2-D lattice inset), three clusters' learning curves, scale factors."""
    fig, ax = plotting.column_figure(6.2, "AB;CC")
    a = ax["A"]
    s, ccdf = cl.ccdf
    a.loglog(s, ccdf, color=PALETTE["blue"], label=f"Bethe clusters (τ̂ = {cl.tau_pooled:.3f})")
    a.loglog(s, (s / config.s_min) ** (-0.5), "--", color=PALETTE["grey"], label="τ = 5/2 law")
    plotting.labels(a, "cluster size s", "fraction of clusters ≥ s")
    a.legend(fontsize=8, loc="lower left")
    if cl.lattice_hist.shape[1]:
        ins = a.inset_axes([0.6, 0.6, 0.38, 0.36])
        ins.loglog(*cl.lattice_hist, ".", color=PALETTE["orange"], markersize=3)
        ins.set_title(f"2-D lattice: τ̂ = {cl.lattice_tau[0]:.3f}", fontsize=8)
        ins.tick_params(labelsize=7)
    a = ax["B"]
    for k, col in zip((0, 9, 49), (PALETTE["blue"], PALETTE["orange"], PALETTE["green"])):
        if k >= cl.curve_n.shape[1]:
            continue
        n, L, sc = cl.curve_n[0, k], cl.curve_loss[0, k], cl.scale[0, k]
        a.loglog(n, L, "o", color=col, markersize=3, label=f"rank {k + 1}: scale {sc:.1f}")
        nn = np.geomspace(1, n.max(), 100)
        a.loglog(nn, np.minimum(1, (nn / sc) ** -0.5), color=col, linewidth=1)
    plotting.labels(a, "training points in the cluster", "validation loss")
    a.legend(fontsize=8, loc="lower left")
    a = ax["C"]
    a.hist(np.log10(cl.scale.ravel()), bins=30, color=PALETTE["sky"])
    a.axvline(np.log10(cl.scale_mean), color=PALETTE["black"], linewidth=1,
              label=f"mean {cl.scale_mean:.1f}")
    plotting.labels(a, "log10 scale factor (training points per DOF)", "clusters")
    a.legend()
    return fig


def scaling_figure(sc: Scaling, config: Config, paper: Paper,
                   full: tuple[Any, dict] | None = None) -> plt.Figure:
    """The key figure: model (top) and data (bottom) scaling, median and 16-84 % band, against
    the continuum (dashed up to N_K, dotted beyond) and the finite-K theory; the paper's own
    points (digitised, K = 316) and, when committed, the full-mode run."""
    fig, ax = plotting.column_figure(7.6, "A;B")
    for a, c, abl in ((ax["A"], "model", "model_global"), (ax["B"], "data", "data_uniform")):
        plotting.scaling_plot(a, sc.N, sc.loss[c], label="this run", color=PALETTE["blue"],
                              fit_range=(config.fit_min, sc.N_K), bootstrap=True)
        a.loglog(sc.N, np.median(sc.loss[abl], 0), "^-", color=PALETTE["sky"], markersize=3,
                 label="ablation: global scale / uniform per site")
        th = sc.continuum(c)
        inside = sc.N <= sc.N_K
        a.loglog(sc.N[inside], th[inside], "--", color=PALETTE["black"], linewidth=1.3,
                 label="continuum theory (dotted past N_K)")
        a.loglog(sc.N[~inside], th[~inside], ":", color=PALETTE["black"], linewidth=1.3)
        a.loglog(sc.N, np.median(sc.finite[c], 0), "-.", color=PALETTE["red"], linewidth=1.2,
                 label="finite-K theory")
        lo, hi = paper.band[c]
        a.errorbar(paper.N, paper.median[c], yerr=[paper.median[c] - lo, hi - paper.median[c]],
                   fmt=".", color=PALETTE["orange"], markersize=3, elinewidth=0.6,
                   label=f"paper's figure (K = {paper.K}, digitised)")
        if full is not None:
            fr, meta = full
            plotting.full_overlay(a, fr.scaling.N, np.median(fr.scaling.loss[c], 0), meta,
                                  label=f"full mode (K = {fr.K})")
        a.axvline(sc.N_K, color=PALETTE["grey"], linewidth=0.8)
        a.axhline(1.0, color=PALETTE["grey"], linestyle=":", linewidth=1)
        x = "training DOF N" if c == "model" else "training data D (DOF-equivalent samples)"
        plotting.labels(a, x, "validation loss", f"{c} scaling")
    plotting.legend_below(fig, [ax["A"], ax["B"]], ncol=2)
    return fig


def scan_figure(al: Allocation) -> plt.Figure:
    """Seed-mean loss of the power-law allocations n_k ∝ k^(b-1), k <= k_br, with the theory's."""
    fig, ax = plotting.column_figure(4.6)
    im = ax.pcolormesh(al.kbr, al.b, al.mean_loss, shading="nearest", cmap="viridis_r")
    fig.colorbar(im, ax=ax, label="validation loss")
    ax.plot(al.theory_kbr, al.theory_b, "*", color="white", markersize=16,
            markeredgecolor="black", label="theory's allocation")
    ax.plot(al.best_kbr, al.best_b, "o", color="white", markersize=8, markeredgecolor="black",
            label="best grid point (in sample)")
    ax.set_xscale("log")
    ax.grid(False)
    plotting.labels(ax, "break rank k_br", "allocation exponent b")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 1.14), ncol=2, fontsize=9)
    return fig
