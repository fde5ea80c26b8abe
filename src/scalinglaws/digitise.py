"""Read numbers off published plot images (matplotlib PNGs with a log y axis and marker data).

Used where a paper's values exist only as figures -- e.g. the output images stored in an author's
notebook.  Two steps, both from the pixels alone:

* :func:`log_axis_from_ticks` calibrates a logarithmic y axis from its tick marks: the left spine
  is the longest dark column, ticks are the dark runs just left of it, major ticks (the longer ones)
  are consecutive decades and minor ticks sit at ``m * 10^k``; a least-squares line through all of
  them maps a pixel row to ``log10(y)``, and its residual is the calibration's accuracy.
* :func:`marker_columns` finds markers of one colour with vertical error bars in that colour
  (matplotlib's ``errorbar``): each group of adjacent coloured columns is one point; its centre
  row is where the coloured run is widest (the marker, wider than the bar), and the bar's ends
  are the group's top and bottom rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _rgb(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] < 3:
        raise ValueError(f"expected an (H, W, 3|4) image, got shape {a.shape}")
    a = a[..., :3]
    return np.round(a * 255).astype(int) if a.dtype.kind == "f" else a.astype(int)


def _runs(idx: np.ndarray) -> list[np.ndarray]:
    """Split sorted indices into runs of consecutive values."""
    if len(idx) == 0:
        return []
    return np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)


@dataclass(frozen=True)
class LogAxis:
    """``log10(y) = intercept + slope * row`` (rows grow downwards, so ``slope < 0``)."""

    slope: float
    intercept: float
    residual: float          # rms of the tick fit, in decades
    n_ticks: int

    def value(self, row) -> np.ndarray:
        return 10.0 ** (self.intercept + self.slope * np.asarray(row, float))

    @property
    def decades_per_pixel(self) -> float:
        return abs(self.slope)


def log_axis_from_ticks(img: np.ndarray, top_major_log10: float, dark: int = 150) -> LogAxis:
    """Calibrate the left log axis from its ticks; ``top_major_log10`` is the value (log10) of the
    highest major tick, read from its label (e.g. 0 for ``10^0``)."""
    rgb = _rgb(img)
    d = rgb.sum(-1) < dark
    H, W = d.shape
    cols = d.sum(0)
    spine = int(np.flatnonzero(cols > 0.5 * H)[0]) if (cols > 0.5 * H).any() else None
    if spine is None or spine < 5:
        raise ValueError("no left spine (a dark column over half the image height) found")
    tick_len = np.zeros(H, dtype=int)
    for dx in range(1, min(spine, 12)):
        tick_len += d[:, spine - dx] & (tick_len == dx - 1)
    rows = np.flatnonzero(tick_len > 0)
    ticks = [(float(r.mean()), int(tick_len[r].max())) for r in _runs(rows)]
    if len(ticks) < 3:
        raise ValueError(f"found {len(ticks)} y ticks; need at least 3")
    longest = max(t[1] for t in ticks)
    major = sorted(r for r, ln in ticks if ln >= longest - 0)
    minor = [r for r, ln in ticks if ln < longest]
    if len(major) < 1:
        raise ValueError("no major y tick found")
    # majors: consecutive decades downwards from the top one
    pts = [(r, top_major_log10 - i) for i, r in enumerate(major)]
    if len(major) >= 2:
        px_per_decade = float(np.mean(np.diff(major)))
    else:
        raise ValueError("need two major y ticks to calibrate a log axis")
    for r in minor:  # the decade below the nearest major tick above (or the first), m = 2..9
        k = top_major_log10 - np.floor((r - major[0]) / px_per_decade) - 1
        m = 10 ** ((major[0] - r) / px_per_decade + top_major_log10 - k)
        mi = int(round(m))
        if 2 <= mi <= 9 and abs(m - mi) < 0.3:
            pts.append((r, k + np.log10(mi)))
    r, v = np.array(pts).T
    A = np.stack([np.ones_like(r), r], 1)
    coef, *_ = np.linalg.lstsq(A, v, rcond=None)
    res = float(np.sqrt(np.mean((A @ coef - v) ** 2)))
    return LogAxis(float(coef[1]), float(coef[0]), res, len(pts))


@dataclass(frozen=True)
class Markers:
    """Per point (left to right): the centre column, the marker's row and the bar's end rows."""

    x: np.ndarray
    y: np.ndarray
    top: np.ndarray
    bottom: np.ndarray


def marker_columns(img: np.ndarray, color: tuple[int, int, int], tol: int = 30) -> Markers:
    """Markers of ``color`` (RGB, 0-255) with vertical error bars; see the module docstring."""
    rgb = _rgb(img)
    m = np.all(np.abs(rgb - np.asarray(color)) <= tol, axis=-1)
    groups = _runs(np.flatnonzero(m.any(0)))
    if not groups:
        raise ValueError(f"no pixels of colour {color} found")
    xs, ys, tops, bots = [], [], [], []
    for g in groups:
        sub = m[:, g[0]:g[-1] + 1]
        width = sub.sum(1)
        rows = np.flatnonzero(width)
        wmax = width.max()
        core = np.flatnonzero(width >= wmax - 1)
        # the marker is the longest run of wide rows
        run = max(_runs(core), key=len)
        xs.append(float(g.mean()))
        ys.append(float(np.average(run, weights=width[run])))
        tops.append(float(rows.min()))
        bots.append(float(rows.max()))
    return Markers(*(np.asarray(v) for v in (xs, ys, tops, bots)))
