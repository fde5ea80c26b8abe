"""Fitters: power laws (with and without offset), bootstrap over seeds, bootstrap intervals of any
statistic (:mod:`scalinglaws.fit.bootstrap`), local slopes, and the broken power laws of chapter 4
(:mod:`scalinglaws.fit.bnsl`).  Every fit result carries a :class:`FitStatus`.
"""
from .bootstrap import bootstrap_interval, bootstrap_replicates, median_interval, share_interval
from .powerlaw import (
    BootstrapExponent,
    OffsetPowerLawFit,
    PowerLawFit,
    bootstrap_exponent,
    check_finite,
    check_positive,
    fit_median,
    fit_power_law,
    fit_power_law_offset,
    local_slopes,
)
from .status import FitError, FitStatus

__all__ = [
    "BootstrapExponent",
    "FitError",
    "FitStatus",
    "OffsetPowerLawFit",
    "PowerLawFit",
    "bootstrap_exponent",
    "bootstrap_interval",
    "bootstrap_replicates",
    "check_finite",
    "check_positive",
    "fit_median",
    "fit_power_law",
    "fit_power_law_offset",
    "local_slopes",
    "median_interval",
    "share_interval",
]
