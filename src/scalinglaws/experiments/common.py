"""The preamble every chapter's ``run`` shares: config, device, dtype, seeds, timing, progress."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import torch

from ..config import derive_seed, device, device_name, progress_enabled, torch_dtype

#: torch seeds are drawn below 2**62 (``torch.Generator.manual_seed`` takes 64-bit values)
SEED_MOD = 2 ** 62


def torch_seed(*parts: Any) -> int:
    """A stable torch seed from any description, e.g. ``torch_seed("ch3", width, seed)``."""
    return derive_seed(*parts) % SEED_MOD


@dataclass
class Run:
    """What a chapter's ``run`` needs besides its config: device, dtype and a clock."""

    config: Any
    device: torch.device
    dtype: torch.dtype
    t0: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(cls, config_cls: Any, config: Any = None, precision: str | None = None) -> "Run":
        cfg = config if config is not None else config_cls.for_mode()
        dev = device()
        cfg.check_memory(dev)    # a full run refuses a device without the memory it needs
        return cls(cfg, dev, torch_dtype(precision or getattr(cfg, "precision", "float64")))

    def tensor(self, a: Any) -> torch.Tensor:
        """``a`` as a tensor of the run's dtype on its device."""
        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    def lap(self, name: str, since: float) -> None:
        """Record the seconds since ``since`` under ``name``."""
        self.timings[name] = time.perf_counter() - since

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def device_name(self) -> str:
        return device_name(self.device)

    def progress(self, items: Iterable[Any], desc: str) -> Iterable[Any]:
        """``items`` with a progress bar unless ``BOOK_PROGRESS=0``."""
        if not progress_enabled():
            return items
        from tqdm.auto import tqdm

        return tqdm(items, desc=desc, leave=False)
