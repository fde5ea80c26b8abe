"""The book's figure style and scaling-plot helpers.

Conventions: lowercase axis labels; scaling curves on log-log axes; the median over seeds as a
line with markers and the 16-84 % range over seeds as a band; the fitted exponent in the legend;
the paper's exponent as a dashed reference line; full-mode (GPU) results as hollow markers labelled
with their device.
"""
from __future__ import annotations

from typing import Any, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from .fit import BootstrapExponent, PowerLawFit, bootstrap_exponent, fit_power_law

#: Okabe-Ito colour-blind-safe palette.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#7f7f7f",
}
CYCLE = [PALETTE[k] for k in ("blue", "orange", "green", "red", "purple", "sky", "black")]
#: the book's text column, inches at the style's dpi (772 px at 110 dpi): figures drawn this
#: wide are shown at their own size, so their 9-10.5 pt text stays >= 9 px
COLUMN_IN = 7.0


def column_figure(height: float, mosaic: str | None = None, **kw: Any):
    """A figure the column's width and ``height`` inches tall; with ``mosaic`` (e.g.
    ``"AB;CC"``), ``(fig, {label: axes})`` from :meth:`matplotlib.figure.Figure.subplot_mosaic`,
    else ``(fig, ax)``."""
    fig = plt.figure(figsize=(COLUMN_IN, height), **kw)
    if mosaic is None:
        return fig, fig.add_subplot()
    return fig, fig.subplot_mosaic(mosaic)


def legend_below(fig: plt.Figure, axes: Sequence[plt.Axes], ncol: int = 2) -> None:
    """One legend for ``axes`` (their distinct labels), under the figure, off the data."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center", ncol=ncol,
               fontsize=9, frameon=False)


def use_style() -> None:
    """Apply the book's matplotlib style (call once per chapter)."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.2),
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "font.size": 10.5,
        "axes.titlesize": 11,
        "axes.labelsize": 10.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.which": "major",
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "axes.prop_cycle": mpl.cycler(color=CYCLE),
        "legend.frameon": False,
        "legend.fontsize": 9,
        "lines.linewidth": 1.6,
        "lines.markersize": 5,
        "xtick.direction": "out",
        "ytick.direction": "out",
        "figure.constrained_layout.use": True,
    })


def band(ax: plt.Axes, x: Sequence[float], Y: np.ndarray, color: str, alpha: float = 0.2,
         q: tuple[float, float] = (16, 84)) -> None:
    """Shade the ``q`` percentile range over seeds (rows of ``Y``)."""
    lo, hi = np.percentile(np.asarray(Y, float), q, axis=0)
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, linewidth=0)


def reference_slope(ax: plt.Axes, x: Sequence[float], exponent: float, anchor: tuple[float, float],
                    label: str | None = None, color: str = PALETTE["grey"], **kw: Any) -> None:
    """Dashed line ``y = y0 (x / x0)^-exponent`` through ``anchor = (x0, y0)``."""
    x = np.asarray(x, float)
    x0, y0 = anchor
    ax.plot(x, y0 * (x / x0) ** (-exponent), linestyle="--", color=color, linewidth=1.2,
            label=label, **kw)


def scaling_plot(ax: plt.Axes, x: Sequence[float], Y: np.ndarray, *, label: str,
                 color: str | None = None, fit_range: tuple[float | None, float | None] = (None, None),
                 reference: float | None = None, reference_label: str | None = None,
                 marker: str = "o", bootstrap: bool = True, n_boot: int = 500,
                 show_fit: bool = True) -> BootstrapExponent | PowerLawFit:
    """Median over seeds with a 16-84 % band, the fitted power law, and a reference slope.

    ``Y`` is ``(n_seeds, len(x))`` (or 1-D for a single curve).  The exponent is fitted on the
    seed median within ``fit_range`` (bootstrapped over seeds when there are several seeds) and
    shown in the legend.  ``reference`` draws the paper's exponent as a dashed line through the
    first fitted point.  Returns the fit.
    """
    x = np.asarray(x, float)
    Y = np.atleast_2d(np.asarray(Y, float))
    if color is None:  # next colour of the book's cycle, counted per axes
        k = getattr(ax, "_scalinglaws_curves", 0)
        color = CYCLE[k % len(CYCLE)]
        ax._scalinglaws_curves = k + 1
    med = np.median(Y, axis=0)
    lo_x, hi_x = fit_range
    fit: BootstrapExponent | PowerLawFit
    if Y.shape[0] > 1 and bootstrap:
        fit = bootstrap_exponent(x, Y, n_boot=n_boot, x_min=lo_x, x_max=hi_x)
        lab = f"{label} ({fit.label()})"
        pl = fit.fit
    else:
        fit = fit_power_law(x, med, lo_x, hi_x)
        lab = f"{label} ({fit.label()})"
        pl = fit
    if Y.shape[0] > 1:
        band(ax, x, Y, color)
    ax.plot(x, med, marker=marker, color=color, label=lab, linestyle="-")
    keep = (x >= (lo_x or x.min())) & (x <= (hi_x or x.max()))
    if show_fit:
        xf = x[keep]
        ax.plot(xf, pl.predict(xf), color=color, linewidth=0.9, alpha=0.8, linestyle=":")
    if reference is not None:
        x0 = x[keep][0]
        reference_slope(ax, x[keep], reference, (x0, float(med[keep][0]) * 1.6),
                        label=reference_label or f"paper: α = {reference:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    return fit


def full_overlay(ax: plt.Axes, x: Sequence[float], y: Sequence[float], meta: dict[str, Any],
                 color: str = PALETTE["black"], label: str = "full mode") -> None:
    """Plot a committed full-mode (GPU) curve as hollow markers, labelled with its device."""
    dev = str(meta.get("device", "GPU"))
    ax.plot(np.asarray(x, float), np.asarray(y, float), linestyle="none", marker="s",
            markerfacecolor="none", markeredgecolor=color, label=f"{label} ({dev})")


def log_ticks(ax: plt.Axes, values: Sequence[float], axis: str = "x") -> None:
    """Put plain-number ticks at ``values`` on a log axis (no minor-tick labels), e.g. widths."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    vals = [float(v) for v in values]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(vals))
    target.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


def labels(ax: plt.Axes, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Set lowercase axis labels (the book's convention) and an optional title."""
    ax.set_xlabel(xlabel.lower() if xlabel[:1].isupper() and not xlabel[:2].isupper() else xlabel)
    ax.set_ylabel(ylabel.lower() if ylabel[:1].isupper() and not ylabel[:2].isupper() else ylabel)
    if title:
        ax.set_title(title)


def ladder_figure(claims: Sequence[Any], *, ncols: int = 2) -> plt.Figure:
    """Each trained claim's budget ladder (:class:`scalinglaws.claims.Ladder`): the claimed
    quantity against the budget with its interval per rung, the paper's value dashed with its
    tolerance band, the named alternative dotted, and whether the ladder settled in the title."""
    trained = [c for c in claims if c.ladder is not None]
    if not trained:
        raise ValueError("no claim with a budget ladder to draw")
    n = len(trained)
    cols = min(ncols, n)
    rows = -(-n // cols)
    # never wider than the column (a wider figure is shrunk on the page, its text below 9 px)
    fig, axes = plt.subplots(rows, cols, figsize=(min(3.5 * cols, COLUMN_IN), 2.7 * rows),
                             squeeze=False, layout="constrained")
    for ax, c in zip(axes.ravel(), trained):
        lad = c.ladder
        b, v = np.asarray(lad.budgets), np.asarray(lad.values)
        lo, hi = np.asarray(lad.intervals).T
        ax.axhspan(c.paper_value - c.tolerance, c.paper_value + c.tolerance,
                   color=PALETTE["green"], alpha=0.12, lw=0)
        ax.axhline(c.paper_value, color=PALETTE["green"], ls="--", lw=1.2, label="paper")
        ax.axhline(c.alternative_value, color=PALETTE["red"], ls=":", lw=1.4, label="alternative")
        ax.errorbar(b, v, yerr=[v - lo, hi - v], fmt="o-", color=PALETTE["blue"], ms=4,
                    capsize=2, label="measured")
        ax.set_xscale("log", base=2)
        log_ticks(ax, b)
        state = "settled" if c.settled else "not settled"
        labels(ax, f"budget ({lad.unit})", lad.quantity,
               f"{state}; last doubling moves it {lad.drift:.2g}")
        ax.title.set_fontsize(9)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    h, lab = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig


def claim_label(c: Any, width: int = 44) -> str:
    """A claim's row label for a figure: its chapter's number and its quantity in words
    (``"ch2 · exponent α_D"``), never its key; cut to ``width`` characters."""
    words = c.quantity or c.statement or c.key
    label = f"ch{c.chapter.split('_')[0].removeprefix('ch')} · {words}"
    return label if len(label) <= width else label[: width - 1] + "…"


def scorecard_figure(claims: Sequence[Any], lim: tuple[float, float] = (-1.5, 2.5)) -> plt.Figure:
    """Every claim on one axis (:func:`scalinglaws.claims.normalised`): 0 is the paper's value,
    1 the named alternative, the grey band the tolerance; colour by verdict; a point beyond the
    axis is drawn at its edge as an arrow. One row per claim, labelled in words."""
    from .claims import normalised, verdict_colour

    rows = list(claims)
    fig, ax = column_figure(0.27 * len(rows) + 1.1)
    clip = lambda v: min(max(v, lim[0] + 0.05), lim[1] - 0.05)  # noqa: E731
    for i, c in enumerate(rows):
        m, lo, hi, tol = normalised(c)
        y = len(rows) - 1 - i
        ax.fill_betweenx([y - 0.35, y + 0.35], -tol, tol, color=PALETTE["grey"], alpha=0.2,
                         linewidth=0)
        col = verdict_colour(c.verdict)
        ax.plot([clip(lo), clip(hi)], [y, y], color=col, linewidth=2)
        ax.plot(clip(m), y, linestyle="none", color=col, markersize=6,
                marker=">" if m > lim[1] else "<" if m < lim[0] else "o")
    ax.axvline(0, color=PALETTE["black"], linewidth=0.8)
    ax.axvline(1, color=PALETTE["black"], linewidth=0.8, linestyle=":")
    ax.set_yticks(range(len(rows)), [claim_label(c) for c in rows][::-1], fontsize=9)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(*lim)
    ax.set_xlabel("measurement: 0 = paper's value, 1 = named alternative")
    return fig
