"""Chapter 5 beyond its claims: figures, the numbers its prose quotes, the paper's digitised
figure, and the full configuration's memory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from scalinglaws.experiments import ch5_data_distribution as ch5  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke():
    cfg = ch5.Config.smoke()
    return cfg, ch5.run(cfg)



def test_prose_numbers_are_the_parts_own(smoke):
    """The prose numbers read off the parts (that every glued name is one: tests/test_chapters)."""
    cfg, r = smoke
    nums = ch5.prose_numbers(r, cfg, (r, {"wall_time_s": 60.0}))
    assert "fullrun_model_finite_k" in nums
    assert all(np.isfinite(v) for k, v in nums.items() if not k.startswith("lattice"))
    assert nums["fullrun_minutes"] == pytest.approx(1.0)
    assert nums["tau"] == r.clusters.tau_pooled and nums["scan_ratio"] == r.allocation.ratio[0]
    assert ch5.summary(r).startswith(f"{len(cfg.seeds)} seeds")


def test_part_properties_against_hand_computations():
    cl = ch5.Clusters(**{f: None for f in ch5.Clusters.__dataclass_fields__}
                      | {"scale": np.arange(1.0, 201.0).reshape(2, 100),
                         "exponents": np.array([0.4, np.nan, 0.6, 0.5])})
    assert cl.scale_mean == pytest.approx(100.5) and cl.scale_median == pytest.approx(100.5)
    # 2.5 and 97.5 percentiles of 1..200 (linear interpolation): 1 + 0.025 * 199, 1 + 0.975 * 199
    assert cl.scale_range == pytest.approx((5.975, 195.025))
    assert cl.exponent == pytest.approx(0.5)
    al = ch5.Allocation(**{f: None for f in ch5.Allocation.__dataclass_fields__}
                        | {"theory_loss": np.array([0.3, 0.5]), "uniform_loss": np.array([1.0, 0.6]),
                           "loss": np.ones((2, 3, 3))})
    assert al.measured_uniform_ratio == pytest.approx(0.4 / 0.8)
    assert al.theory_mean == pytest.approx(0.4) and al.mean_loss.shape == (3, 3)


def test_paper_exponents_against_an_independent_fit():
    """The paper part's exponents are least-squares slopes of the digitised medians in log-log
    space over the stated ranges: compare with numpy's polyfit on the same points."""
    from scalinglaws.data import brill2024 as paper

    pp = ch5.paper_part()
    for c in ch5.CLAIMED:
        for name, top in ((c, pp.N_K), (f"{c}_full_range", 3e4)):
            keep = (pp.N >= pp.fit_min) & (pp.N <= top)
            slope = np.polyfit(np.log(pp.N[keep]), np.log(paper.FIGURES[f"{c}_median"][keep]), 1)[0]
            assert pp.exponents[name] == pytest.approx(-slope, abs=1e-9)
    headers, rows = ch5.comparison(ch5.Result(**{f: None for f in ch5.Result.__dataclass_fields__}
                                              | {"paper": pp, "K": 10, "scaling": _scaling()}))
    assert len(rows) == 4 and all(len(r) == len(headers) for r in rows)


def _scaling():
    keys = ["model", "data", "model_full_range", "data_full_range"]
    return ch5.Scaling(**{f: None for f in ch5.Scaling.__dataclass_fields__}
                       | {"exponents": {k: np.full(3, 0.4) for k in keys},
                          "finite_exponents": {k: 0.41 for k in keys}})


_MEASURE = """
import json, sys
from scalinglaws.experiments import ch5_data_distribution as ch5
cfg = ch5.Config.full().replace(seeds=(0, 1, 2), scan_seeds=2, s_max=int(sys.argv[1]), lattice_reps=0,
                                n_boot=20)
r = ch5.run(cfg)
print(json.dumps({"peak_gb": r.peak_rss_gb, "sites": int(r.clusters.n_sites.max())}))
"""


def test_full_mode_memory_extrapolates_below_8_gb():
    """The full configuration's per-seed data path (one forest, every sweep, the scan) at two
    smaller cluster-size caps: peak memory is affine in the largest seed's sites; extrapolated to
    the largest of the full configuration's own seeds it stays under 8 GB."""
    pts = []
    for s_max in (300_000, 3_000_000):
        out = subprocess.run([sys.executable, "-c", _MEASURE, str(s_max)], capture_output=True,
                             text=True, timeout=600, check=True,
                             env=os.environ | {"OMP_NUM_THREADS": "2", "BOOK_PROGRESS": "0"})
        pts.append(json.loads(out.stdout.strip().splitlines()[-1]))
    (s0, m0), (s1, m1) = [(p["sites"], p["peak_gb"]) for p in pts]
    per_site = (m1 - m0) / (s1 - s0)                 # GB per site of the largest seed
    assert s1 > 3 * s0 and 0 < per_site < 500e-9     # affine, below 500 bytes per site
    largest = int(ch5.seed_sites(ch5.Config.full()).max())
    assert m1 + per_site * (largest - s1) < 8.0, (m1, per_site, largest)
    # the committed full run (the full configuration itself) measured its own peak
    from scalinglaws.cache import load_full_result

    full = load_full_result(ch5.Config.chapter)
    if full is not None:
        assert full[0].peak_rss_gb < 8.0
        assert int(full[0].clusters.n_sites.max()) == int(ch5.seed_sites(ch5.Config.full()).max())


def test_peak_memory_is_this_programs_own():
    """A program started from a big process reports its own peak, not its parent's."""
    big = bytearray(600_000_000)  # noqa: F841 - hold 0.6 GB in the parent while it starts a child
    code = "from scalinglaws.experiments import ch5_data_distribution as c; print(c.peak_rss_gb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout)
    assert ch5.peak_rss_gb() > 0.6 and child < 0.5
