"""Learning-rate schedules shared by every trainer."""
from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine", "exp")


def lr_at(step: int, steps: int, lr: float, schedule: str, final_factor: float,
          warmup: int = 0) -> float:
    """Learning rate at ``step`` (0-based) of ``steps``: constant, cosine or exponential decay from
    ``lr`` to ``lr * final_factor``, after an optional linear warm-up."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    frac = 0.0 if steps <= 1 else min(1.0, (step - warmup) / max(1, steps - 1 - warmup))
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (final_factor + (1 - final_factor) * 0.5 * (1 + math.cos(math.pi * frac)))
    if schedule == "exp":
        return lr * final_factor ** frac
    raise ValueError(f"schedule {schedule!r} is unknown; choose one of {SCHEDULES}")

