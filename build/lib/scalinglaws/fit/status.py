"""Statuses of fits: every fitter result says whether it can be used, and why not.

A fit that fails never returns a silent NaN or a 0.0 standing in for a number: its ``status`` says
what happened (:class:`FitStatus`), ``status_message`` says it in words, and ``require()`` turns a
failed fit into a :class:`FitError` for callers that cannot go on without it.
"""
from __future__ import annotations

from enum import Enum


class FitStatus(str, Enum):
    """Outcome of a fit.  A ``str`` enum, so ``fit.status == "ok"`` also works."""

    OK = "ok"
    #: fewer usable points than the form has parameters (or a degenerate x range)
    TOO_FEW_POINTS = "too few points"
    #: the optimiser stopped at its evaluation budget or without meeting its tolerances
    NOT_CONVERGED = "not converged"
    #: converged, but a parameter sits on an edge of the search box (the box, not the data,
    #: decided it): usable with care
    BOUND_HIT = "bound hit"
    #: every start failed (exceptions or non-finite costs)
    OPTIMIZER_FAILED = "optimizer failed"
    #: the optimum is outside the form's domain (e.g. a negative scale)
    INVALID_PARAMETERS = "invalid parameters"

    def __str__(self) -> str:
        return self.value

    @property
    def usable(self) -> bool:
        """OK, or a bound hit (a converged fit whose box edge should be reported)."""
        return self in (FitStatus.OK, FitStatus.BOUND_HIT)


class FitError(RuntimeError):
    """A fit's result was required but the fit failed; the message gives its status."""


def near_bounds(x, lower, upper, names, rtol: float = 1e-6) -> list[str]:
    """Names of the parameters of ``x`` within ``rtol`` (of the box width) of a finite bound."""
    import numpy as np

    x, lo, hi = (np.asarray(v, float) for v in (x, lower, upper))
    width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    hits = []
    for i, name in enumerate(names):
        if name is None:
            continue
        if (np.isfinite(lo[i]) and x[i] - lo[i] <= rtol * width[i]) or \
                (np.isfinite(hi[i]) and hi[i] - x[i] <= rtol * width[i]):
            hits.append(name)
    return hits
