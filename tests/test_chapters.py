"""Every chapter: full mode runs on a CPU at tiny sizes through exactly the same code path
(``Config.smoke()`` is derived from ``Config.full()``), its claims can be built from it, and
every figure of the chapter draws from it at the column's width (the smoke result also stands in
for the committed full run, so the overlay branches run)."""
from importlib import import_module

import matplotlib
import pytest
from chapter_helpers import assert_prose_covers_glue

from scalinglaws.claims import Claim
from scalinglaws.experiments import CHAPTERS, get

matplotlib.use("Agg")

#: the committed full run's metadata, as the smoke result stands in for it
_META = {"device": "CPU", "wall_time_s": 1.0}


def _figures(chapter, r, cfg):
    """Every figure function of a chapter's ``scalinglaws.figures.chN`` module, called on the smoke result
    (with and without it as the full-mode result where the function takes one)."""
    f = import_module(f"scalinglaws.figures.{chapter.split('_')[0]}")
    mod = get(chapter)
    full = (r, _META)
    return {
        "ch0": lambda: [f.scaling_figure(r.scaling, r.prediction, full),
                        f.scaling_figure(r.scaling, r.prediction, None),
                        f.lies_figure(r.lies, r.scaling)],
        "ch1": lambda: [f.path_figure(r.path, r.optimum, full), f.path_figure(r.path, r.optimum, None),
                        f.optimum_figure(r.optimum, r.path), f.penalty_figure(r.penalties),
                        f.parallel_figure(r.parallel), f.series_figure(r.series),
                        f.chinchilla_figure(r.chinchilla)],
        "ch2": lambda: [f.spectrum_figure(r.spectrum), f.regimes_figure(r.regimes, cfg, full),
                        f.regimes_figure(r.regimes, cfg, None), f.dims_figure(r.dimensions),
                        f.trained_figure(r.trained), f.digits_figure(r.digits)],
        "ch3": lambda: [f.budget_figure(r.sweep, r.relu, full), f.budget_figure(r.sweep, r.relu, None),
                        f.mechanism_figure(r.mechanism), f.pairs_figure(r.pairs)],
        "ch4": lambda: [f.decomposition_figure(), f.addition_figure(r.addition),
                        f.transformer_figure(*mod.transformer_curve(r, full)),
                        f.predictability_figure(r.simulation),
                        f.benchmark_figure(r.benchmark),
                        f.rule_figure(r.rule), f.double_descent_figure(r.double_descent)],
        "ch5": lambda: [f.theory_figure(), f.clusters_figure(r.clusters, cfg),
                        f.scaling_figure(r.scaling, cfg, r.paper, full),
                        f.scaling_figure(r.scaling, cfg, r.paper, None),
                        f.scan_figure(r.allocation)],
    }[chapter.split("_")[0]]()


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_full_mode_smoke(chapter):
    mod = get(chapter)
    cfg = mod.Config.smoke()
    full = mod.Config.full()
    assert cfg.mode == "full" == full.mode and cfg.precision == full.precision
    result = mod.run(cfg)
    claims = mod.claims(result, cfg)
    assert claims and all(isinstance(c, Claim) for c in claims)
    # the result goes through the cache's flat store and comes back with the same claims
    from scalinglaws.cache import _restore, _to_tree, flatten_tree, unflatten_tree

    back = _restore(unflatten_tree(flatten_tree(_to_tree(result))))
    assert [str(c.verdict) for c in mod.claims(back, cfg)] == [str(c.verdict) for c in claims]
    assert all(c.chapter == chapter for c in claims)
    for c in claims:  # verdicts at toy sizes mean nothing, but they must be computable
        assert str(c.verdict) in ("reproduced", "not reproduced", "inconclusive"), c.key
    # every claim proper has its controls (tests/test_controls.py); consistency checks have none
    # (CONTROLS may also name claims that only other sizes make, e.g. more dimensions)
    assert {c.key for c in claims if c.kind == "claim"} <= set(mod.CONTROLS)
    assert not {c.key for c in claims if c.kind == "consistency"} & set(mod.CONTROLS)
    # every number the page glues is computed by the package from this result (ch5 also glues
    # its committed full run's numbers, with the smoke result standing in for it)
    if chapter == "ch5_data_distribution":
        nums = mod.prose_numbers(result, cfg, (result, {"wall_time_s": 60.0}))
        assert_prose_covers_glue(chapter, nums, claims, ("", "full_"))
    else:
        assert_prose_covers_glue(chapter, mod.prose_numbers(result, cfg), claims)
    import matplotlib.pyplot as plt

    from scalinglaws import plotting

    plotting.use_style()
    for fig in _figures(chapter, result, cfg):
        assert fig.get_figwidth() <= plotting.COLUMN_IN
        plt.close(fig)
