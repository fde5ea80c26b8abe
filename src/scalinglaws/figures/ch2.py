"""Chapter 2's figures, one per section, each drawn from a part of its result at the book column's
width (:data:`plotting.COLUMN_IN`); ``full`` is the committed full-mode result and its metadata
(``cache.load_full_result``), drawn beside the live run when present."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from ..experiments.ch2_explaining import Config, Digits, DimensionLaw, Regimes, Spectrum, TrainedWidth
from ..plotting import PALETTE

#: legend text inside the figures' half-width panels
SMALL = 7


def _interval(e) -> str:
    return f"{e[0]:.2f} [{e[1]:.2f}, {e[2]:.2f}]"


def spectrum_figure(spectrum: Spectrum) -> plt.Figure:
    """The Gram matrix's eigenvalues of one sample against the exact staircase (eigenvalues
    repeated by their integer multiplicities), with the level edges marked."""
    fig, ax = plotting.column_figure(3.6)
    n = len(spectrum.gram)
    ranks = np.arange(1, n + 1)
    st = spectrum.staircase
    ax.loglog(ranks, spectrum.gram, color=PALETTE["blue"], linewidth=2,
              label=f"Gram matrix of one sample, n = {n}")
    ax.loglog(ranks[:len(st)], st, "--", color=PALETTE["black"],
              label="exact: Funk–Hecke eigenvalues × multiplicity")
    ax.axvline(spectrum.top, color=PALETTE["grey"], linewidth=0.8, linestyle=":",
               label=f"ranks compared (top {spectrum.top})")
    plotting.labels(ax, "rank i", "eigenvalue λ_i")
    ax.set_ylim(max(st[st > 0].min(), 1e-10), 1)
    ax.legend(fontsize=SMALL + 1)
    return fig


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


def regimes_figure(regimes: Regimes, config: Config, full: tuple[Any, dict] | None = None
                   ) -> plt.Figure:
    """The four regimes of one random-feature model (mean over teachers, 16-84 % band): variance-
    limited in D (top left) and in P (bottom right) with their 1/D, 1/P predictions;
    resolution-limited in D (top right) and in P (bottom left) against the exact-spectrum theory
    and the neighbouring dimension's theory (the alternative)."""
    r = regimes
    fig, ax = plotting.column_figure(7.4, "AB;CD")
    _variance_panel(ax["A"], r.var_D, r.var_D_excess,
                    f"measured excess (α = {_interval(r.exponents['var_D'])})", PALETTE["orange"],
                    "training points D", "excess over the P-feature optimum", "paper: 1/D",
                    theory=r.var_D_theory, theory_label="L(∞) P/(D−P−1)")
    _variance_panel(ax["D"], r.var_P, r.var_P_excess,
                    f"E_W ||f_P − f_∞||² (α = {_interval(r.exponents['var_P'])})", PALETTE["red"],
                    f"features P (D = {config.var_P_D})", "excess over the kernel limit",
                    "paper: 1/P", raw=r.var_P_raw)
    for key, x, Y, T, nb, col, xl, loss, e in (
            ("B", r.res_D, r.res_D_loss, r.res_D_theory, r.neighbour.get("d+1"), PALETTE["blue"],
             "training points D (P = ∞)", "res_D_loss", "alpha_D"),
            ("C", r.res_P, r.res_P_loss, r.res_P_theory, r.neighbour.get("d+1 features"),
             PALETTE["green"], f"features P (D = {config.res_P_data})", "res_P_loss", "alpha_P")):
        a = ax[key]
        a.loglog(x, Y.mean(0), "o-", color=col, label=f"measured (α = {_interval(r.exponents[e])})")
        plotting.band(a, x, Y, col)
        a.loglog(x, T.mean(0), "-", color=PALETTE["black"], linewidth=1.4,
                 label=f"theory, exact spectrum (α = {r.theory_exponents[e]:.2f})")
        if nb is not None:
            a.loglog(x, nb, ":", color=PALETTE["grey"], linewidth=1.4,
                     label=f"theory for d = {config.d + 1}")
        if full is not None:
            fr, meta = full
            plotting.full_overlay(a, x, getattr(fr.regimes, loss).mean(0), meta)
        plotting.labels(a, xl, "test loss")
        plotting.log_ticks(a, x[::2])
        a.legend(fontsize=SMALL)
    return fig


def dims_figure(dims: DimensionLaw) -> plt.Figure:
    """Left: kernel-regression loss against D for spheres of several dimensions, with each
    dimension's exact theory. Right: the fitted exponent against d with the exact theory's local
    exponent on the same range, the asymptotic 3/(d-1) and the paper's 4/d (intrinsic d - 1)."""
    fig, ax = plotting.column_figure(3.6, "AB")
    a, b = ax["A"], ax["B"]
    for dd, L, T, al, col in zip(dims.dims, dims.loss, dims.theory_curve, dims.alpha,
                                 plotting.CYCLE):
        a.loglog(dims.D, L.mean(0), "o", color=col, markersize=3,
                 label=f"d = {dd} (α_D = {al[0]:.2f})")
        a.loglog(dims.D, T.mean(0), "-", color=col, linewidth=1)
    plotting.labels(a, "training points D", "test loss")
    plotting.log_ticks(a, dims.D[::2])
    a.legend(fontsize=SMALL, title="points: measured; lines: theory", title_fontsize=SMALL)
    ds = np.array(sorted(int(k) for k in dims.theory))
    b.plot(ds, [dims.theory[str(k)] for k in ds], "-", color=PALETTE["black"],
           label="exact theory, same range")
    al = dims.alpha
    b.errorbar(dims.dims, al[:, 0], yerr=[al[:, 0] - al[:, 1], al[:, 2] - al[:, 0]], fmt="o",
               color=PALETTE["blue"], capsize=3, label="measured α_D")
    xx = np.linspace(ds.min(), ds.max(), 100)
    b.plot(xx, 3 / (xx - 1), "--", color=PALETTE["grey"], label="asymptotic 3/(d−1)")
    b.plot(xx, 4 / (xx - 1), ":", color=PALETTE["red"], label="paper: 4/d, d → d − 1")
    plotting.labels(b, "ambient dimension d", "resolution-limited exponent")
    b.legend(fontsize=SMALL)
    return fig


def _rung_colours(n: int) -> list:
    return [plt.cm.Blues(0.45 + 0.55 * k / max(1, n - 1)) for k in range(n)]


def trained_figure(trained: TrainedWidth) -> plt.Figure:
    """Variance over initialisations of trained networks against width (neural-tangent
    parameterisation, gradient descent), one curve per budget of the ladder, with 1/width."""
    fig, ax = plotting.column_figure(3.4)
    cols = _rung_colours(len(trained.steps))
    for T, v, s, c in zip(trained.steps, trained.variance, trained.slope, cols):
        ax.loglog(trained.widths, v, "o-", color=c, label=f"{T} steps (exponent {_interval(s)})")
    plotting.reference_slope(ax, trained.widths, 1.0,
                             (trained.widths[0], trained.variance[-1][0]), label="paper: 1/width")
    plotting.labels(ax, "hidden width", "variance over initialisations")
    plotting.log_ticks(ax, trained.widths)
    ax.legend(fontsize=SMALL + 1)
    return fig


def digits_figure(digits: Digits) -> plt.Figure:
    """Left: test loss against training images D on the digits: trained MLPs on each rung of the
    ladder, and kernel regression. Right: the variance over initialisations against width at
    small D, one curve per rung, with 1/width."""
    fig, ax = plotting.column_figure(3.8, "AB")
    a, b = ax["A"], ax["B"]
    cols = _rung_colours(len(digits.mlp_steps))
    for T, L, e, c in zip(digits.mlp_steps, digits.mlp_loss, digits.mlp_alpha, cols):
        a.loglog(digits.mlp_D, L.mean(0), "o-", color=c, label=f"MLP, {T} steps (α {_interval(e)})")
    a.loglog(digits.kernel_D, digits.kernel_loss.mean(0), "s--", color=PALETTE["orange"],
             label=f"kernel (α {_interval(digits.kernel_alpha)})")
    x = np.asarray(digits.mlp_D, float)
    plotting.reference_slope(a, x, digits.stated, (x[0], 1.3 * digits.mlp_loss[-1].mean(0)[0]),
                             label=f"paper: 4/d = {digits.stated:.2f}")
    plotting.labels(a, "training images D", "test loss (squared error)")
    plotting.log_ticks(a, x[::2])
    a.legend(fontsize=SMALL)
    for T, v, s, c in zip(digits.mlp_steps, digits.corner_variance, digits.corner_slope, cols):
        b.loglog(digits.corner_widths, v, "o-", color=c, label=f"{T} steps ({_interval(s)})")
    w = np.asarray(digits.corner_widths, float)
    plotting.reference_slope(b, w, 1.0, (w[0], digits.corner_variance[-1][0]),
                             label="paper: 1/width")
    plotting.labels(b, f"hidden width (D = {digits.corner_D})", "variance over initialisations")
    plotting.log_ticks(b, w[::2])
    b.legend(fontsize=SMALL)
    return fig
