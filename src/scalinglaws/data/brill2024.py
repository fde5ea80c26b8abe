"""Numbers read from Brill 2024 (arXiv:2412.07942) and its official notebook.

The paper's body could not be read here; its experiment's notebook can:
``github.com/aribrill/scaling-laws-paper`` at commit ``0dc19de5`` (2025-01-08), file
``percolation.ipynb``, stored with its outputs.  Its cell 22 draws the paper's final model- and
data-scaling figures (median over 50 seeds with 16-84 % bars, 50 points on
``geomspace(1, 3e4, 50)`` training DOF, K = 316 clusters of 300 to 3e7 sites); cell 14 prints
seed 0's scale factors.

:data:`FIGURES` holds those two figures' points, digitised from the PNG outputs with
:mod:`scalinglaws.digitise`: the log y axis calibrated on its 17-18 tick marks (rms residual
0.001 decades; one pixel is 0.004 decades, 0.9 % in loss), the royalblue markers located by
the widest row of each error bar's column group (centres to about a pixel), the bars' ends by
its extreme rows.  Check: the black theory line digitised the same way matches
:class:`scalinglaws.theory.PercolationScaling` within 0.6 % (rms 0.27 %) at 62-65 columns, so
the digitised medians are good to about 1 % (half a pixel on each of marker and axis).
"""
from __future__ import annotations

import numpy as np

SOURCE = ("Brill 2024, arXiv:2412.07942; official notebook github.com/aribrill/scaling-laws-paper "
          "@0dc19de5, percolation.ipynb")
#: training DOF of the paper's figures (notebook cell 17: geomspace(min_n, max_n, 50))
FIGURE_N = np.geomspace(1.0, 3e4, 50)
#: the paper's configuration behind the figures (notebook cell 1)
FIGURE_K = 316
FIGURE_SEEDS = 50
#: digitisation accuracy of a median, as a fraction of the loss (see the module docstring)
DIGITISE_ACCURACY = 0.01
#: seed 0's scale factors (notebook cell 14 output): mean, median, 2.5 and 97.5 percentiles
SEED0_SCALE = {"mean": 5.517, "median": 4.065, "lo": 1.0, "hi": 18.09}

#: (50,) losses per figure: median and 16th/84th percentiles over the paper's 50 seeds
FIGURES = {k: np.asarray(v) for k, v in {
    "model_median": (
        0.8787, 0.8707, 0.8472, 0.8168, 0.7803, 0.7732, 0.7523, 0.732, 0.7188, 0.662, 0.6383, 0.6154,
        0.5879, 0.5616, 0.5269, 0.4897, 0.4679, 0.447, 0.427, 0.3897, 0.3689, 0.3461, 0.3188, 0.2936,
        0.2754, 0.2514, 0.2337, 0.2212, 0.1982, 0.1809, 0.1682, 0.1521, 0.1388, 0.1279, 0.1167, 0.1055,
        0.09633, 0.08792, 0.08025, 0.07191, 0.06564, 0.05936, 0.05369, 0.04811, 0.04391, 0.03935,
        0.03559, 0.0319, 0.02858, 0.02538),
    "model_p16": (
        0.802, 0.7803, 0.7523, 0.7122, 0.6742, 0.6993, 0.6441, 0.621, 0.6267, 0.5616, 0.5465, 0.5415,
        0.5033, 0.4552, 0.4636, 0.4193, 0.4006, 0.3933, 0.3557, 0.3367, 0.3045, 0.2936, 0.2655, 0.2607,
        0.2294, 0.2152, 0.2037, 0.1843, 0.1713, 0.1549, 0.144, 0.1302, 0.121, 0.1105, 0.1008, 0.09203,
        0.08323, 0.07597, 0.06997, 0.06214, 0.0562, 0.05129, 0.04639, 0.04195, 0.0376, 0.03369, 0.03075,
        0.02731, 0.02447, 0.02173),
    "model_p84": (
        0.9805, 0.9454, 0.9454, 0.9032, 0.8949, 0.8707, 0.8707, 0.8168, 0.802, 0.7803, 0.7122, 0.732,
        0.6867, 0.6681, 0.6042, 0.5987, 0.5415, 0.5221, 0.4942, 0.4636, 0.4552, 0.4231, 0.4042, 0.3689,
        0.3461, 0.3247, 0.3045, 0.2704, 0.2514, 0.2358, 0.2192, 0.2019, 0.1826, 0.1697, 0.1578, 0.1388,
        0.129, 0.1199, 0.1095, 0.09811, 0.08712, 0.07952, 0.07191, 0.06564, 0.05829, 0.05176, 0.04639,
        0.04008, 0.03725, 0.034),
    "data_median": (
        1.055, 1.019, 1.01, 0.9512, 0.9677, 0.935, 0.9191, 0.858, 0.858, 0.7874, 0.7874, 0.7164, 0.6863,
        0.6352, 0.6244, 0.5829, 0.5442, 0.4909, 0.4784, 0.4428, 0.4064, 0.3926, 0.3572, 0.3307, 0.314,
        0.2857, 0.2667, 0.2448, 0.2246, 0.2079, 0.1941, 0.1736, 0.1649, 0.1513, 0.1353, 0.1285, 0.1169,
        0.1064, 0.09847, 0.08959, 0.08292, 0.0748, 0.06806, 0.06299, 0.05682, 0.05305, 0.04663, 0.04243,
        0.03894, 0.03482),
    "data_p16": (
        1.01, 0.9431, 0.8804, 0.858, 0.8362, 0.801, 0.822, 0.7674, 0.7543, 0.6746, 0.6688, 0.6085,
        0.573, 0.5489, 0.5037, 0.5037, 0.4703, 0.4505, 0.3994, 0.3697, 0.3542, 0.3278, 0.3195, 0.2957,
        0.2714, 0.2555, 0.2285, 0.2115, 0.1975, 0.1859, 0.1692, 0.1513, 0.1425, 0.1319, 0.1179, 0.1111,
        0.1028, 0.09272, 0.08364, 0.07944, 0.07104, 0.06409, 0.06087, 0.05585, 0.04995, 0.04506,
        0.04135, 0.03698, 0.03423, 0.03114),
    "data_p84": (
        1.139, 1.12, 1.082, 1.064, 1.073, 1.028, 1.028, 1.028, 0.9431, 0.9112, 0.8957, 0.858, 0.7942,
        0.774, 0.7042, 0.6804, 0.6518, 0.593, 0.5632, 0.5258, 0.4951, 0.4622, 0.439, 0.4134, 0.3826,
        0.3481, 0.314, 0.3008, 0.2785, 0.26, 0.2365, 0.2227, 0.2044, 0.1925, 0.1766, 0.1635, 0.1462,
        0.1353, 0.1242, 0.1169, 0.1046, 0.09433, 0.08656, 0.08151, 0.07228, 0.06409, 0.05932, 0.05397,
        0.04995, 0.0428),
}.items()}
