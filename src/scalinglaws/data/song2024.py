"""Numbers read from the figures of Song, Liu, Tegmark & Gore 2024 (arXiv:2402.05164).

The paper's body could not be read here; its data figures are public images on its first
author's site, ``github.com/Jinyeop3110/Jinyeop3110.github.io``, under
``assets/img/publication_preview/publications/ResourceModel/`` (``fig2.png``: the single x^2
task, Fig. 2; ``fig3.png``: two tasks in parallel, Fig. 3; figure numbers from the file names).

How they were read, from the pixels:

* **Fig. 2C** (test MSE against allocated neurons, one point per marker) was read earlier, by
  eye against the gridlines, to about 5 % (:data:`FIG2C`).
* **Fig. 2B** (allocated neurons against alpha, one curve): its log axes calibrated on the
  gridlines (y: the seven labelled lines 2 ... 80, residual 0.004 decades; x: the ten lines
  alpha = 1 ... 512, residual 0.005 octaves), the curve's pixels picked by colour (blue to
  purple, not the insets' red dots or the grey guides), and the median row of those pixels read
  every 4 pixel columns (:data:`FIG2B`).  One pixel is 0.018 decades (4 %); the curve is a
  staircase two pixels thick, so a reading is good to about 5 %, worse at a step's edge.  The
  curve ends at alpha = 499, 64.5 neurons; the value at 512 extends its last segment's slope.
* **Fig. 3C, top** (ratio of neurons N1/N2 against alpha, one line per beta, markers with error
  bars): the log y axis calibrated on the gridlines 2, 3, 4, 6 and 10 (residual 0.001 decades),
  the five alpha columns on the vertical gridlines, each marker located as the widest run of its
  colour (one of five greens and a purple) within +-4 pixels of the column (:data:`FIG3C`).  A
  pixel is 0.0066 decades (1.5 %); at alpha = 32 the markers of beta = 0.85, 0.9 and 0.95
  overlap, which leaves those three readings good to about 5 %.
"""
from __future__ import annotations

import numpy as np

SOURCE = ("Song, Liu, Tegmark & Gore 2024, arXiv:2402.05164; figure images from "
          "github.com/Jinyeop3110/Jinyeop3110.github.io (assets/img/publication_preview/"
          "publications/ResourceModel)")
#: accuracy of one digitised reading (fraction of the value; see the module docstring)
DIGITISE_ACCURACY = 0.05

#: Fig. 2C: (allocated neurons N, test MSE) along the paper's alpha-sweep
FIG2C = np.array([(2, 1.0e-4), (3.7, 5.1e-5), (5.2, 3.1e-5), (7.8, 1.9e-5), (12, 1.1e-5),
                  (20, 6.1e-6), (35, 3.7e-6), (58, 2.5e-6)])

#: Fig. 2B: (alpha, allocated neurons) read every 4 pixel columns; the curve's light blue start
#: (2 neurons for alpha < 2.1, as drawn) and its last 0.04 octave (to alpha = 512, the last
#: segment's slope extended) are added as the first and last rows
FIG2B = np.array([
    (1.0, 2.0),
    (2.13, 1.97), (2.32, 1.97), (2.52, 1.97), (2.74, 2.01), (2.98, 2.01), (3.24, 2.01),
    (3.53, 2.01), (3.83, 2.01), (4.17, 2.01), (4.54, 2.01), (4.93, 2.01), (5.36, 2.01),
    (5.83, 2.85), (6.35, 3.03), (6.9, 3.03), (7.5, 3.03), (8.16, 3.22), (8.88, 4.04),
    (9.65, 4.04), (10.5, 4.04), (11.42, 4.04), (12.42, 4.04), (13.5, 4.96), (14.69, 4.96),
    (15.97, 4.96), (17.37, 4.96), (18.89, 5.49), (20.55, 6.09), (22.34, 5.96), (24.3, 6.61),
    (26.43, 7.03), (28.74, 7.03), (31.26, 7.03), (33.99, 7.95), (36.97, 8.11), (40.21, 8.63),
    (43.73, 9.96), (47.56, 11.27), (51.72, 12.23), (56.25, 12.23), (61.17, 13.28),
    (66.53, 13.28), (72.35, 13.28), (78.68, 13.28), (85.57, 14.41), (93.07, 15.02),
    (101.21, 15.33), (110.07, 17.7), (119.71, 18.44), (130.19, 20.02), (141.59, 20.02),
    (153.98, 20.86), (167.47, 21.73), (182.13, 24.08), (198.07, 23.59), (215.41, 26.69),
    (234.27, 27.8), (254.78, 30.18), (277.09, 34.14), (301.34, 37.06), (327.73, 40.24),
    (356.42, 43.68), (387.62, 46.45), (421.56, 54.75), (498.6, 64.52),
    (512.0, 66.2)])

#: Fig. 3C, top: the neuron ratio N1/N2 at each alpha (rows) for each beta (columns)
FIG3C_ALPHAS = np.array([32.0, 64.0, 128.0, 256.0, 512.0])
FIG3C_BETAS = np.array([0.5, 0.75, 0.85, 0.9, 0.95])
FIG3C = np.array([
    (0.98, 1.75, 3.44, 3.74, 3.91),
    (0.99, 1.95, 2.91, 5.13, 5.83),
    (1.00, 2.24, 3.09, 4.42, 8.71),
    (0.99, 2.24, 3.39, 4.55, 7.38),
    (0.99, 2.39, 3.77, 5.13, 8.78)])


def fig2b_neurons(alphas) -> np.ndarray:
    """Fig. 2B's allocated neurons at ``alphas`` (log-log interpolation of the digitised curve,
    within alpha in [1, 512])."""
    a = np.asarray(alphas, float)
    if np.any(a < FIG2B[0, 0]) or np.any(a > FIG2B[-1, 0]):
        raise ValueError(f"alphas must lie in [{FIG2B[0, 0]:g}, {FIG2B[-1, 0]:g}] (Fig. 2B's range)")
    return np.exp(np.interp(np.log(a), np.log(FIG2B[:, 0]), np.log(FIG2B[:, 1])))


def fig3c_ratio(beta: float, alphas) -> np.ndarray:
    """Fig. 3C's neuron ratio at ``beta`` (one of the paper's five) and ``alphas`` (of its five)."""
    j = np.flatnonzero(np.isclose(FIG3C_BETAS, beta))
    if len(j) != 1:
        raise ValueError(f"beta must be one of Fig. 3C's {FIG3C_BETAS.tolist()}, got {beta!r}")
    rows = [np.flatnonzero(np.isclose(FIG3C_ALPHAS, a)) for a in np.atleast_1d(alphas)]
    if any(len(r) != 1 for r in rows):
        raise ValueError(f"alphas must be among Fig. 3C's {FIG3C_ALPHAS.tolist()}, got {alphas!r}")
    return FIG3C[[int(r[0]) for r in rows], int(j[0])]
