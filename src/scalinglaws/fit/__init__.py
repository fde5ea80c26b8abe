"""Fitters: power laws (with and without offset), bootstrap over seeds, local slopes.

Later chapters add their own curve forms here (e.g. the broken power law of chapter 4).
"""
from .powerlaw import (
    BootstrapExponent,
    OffsetPowerLawFit,
    PowerLawFit,
    bootstrap_exponent,
    check_finite,
    check_positive,
    fit_power_law,
    fit_power_law_offset,
    local_slopes,
)

__all__ = [
    "BootstrapExponent",
    "OffsetPowerLawFit",
    "PowerLawFit",
    "bootstrap_exponent",
    "check_finite",
    "check_positive",
    "fit_power_law",
    "fit_power_law_offset",
    "local_slopes",
]
