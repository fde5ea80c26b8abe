"""Modes, devices, the dtype policy, seeds, and the base class of every chapter's config.

The book runs in one of two modes, chosen in exactly one place (:func:`mode`):

* ``fast`` -- CPU, a few minutes per chapter on 2 cores, still showing each paper's effect;
* ``full`` -- the paper-scale configuration, meant for one GPU.

The default is ``fast`` on every device (on a GPU it runs there); ``BOOK_MODE=full`` opts in to
paper scale, which states its time and memory before it starts.  Every chapter's config is a
frozen dataclass deriving from :class:`ChapterConfig`, with ``fast()`` and ``full()``
constructors and a ``seeds`` field.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

MODE_ENV = "BOOK_MODE"
DEVICE_ENV = "BOOK_DEVICE"
PROGRESS_ENV = "BOOK_PROGRESS"
MODES = ("fast", "full")


class ConfigError(ValueError):
    """A configuration value is impossible; the message names the field."""


def mode(value: str | None = None) -> str:
    """Return the book mode: ``"fast"`` or ``"full"``.

    ``value`` (if given) wins; else the ``BOOK_MODE`` environment variable; else ``"fast"``, on
    every device: full mode (hours on a GPU for some chapters) is only ever opted in to.  Any
    other value raises a :class:`ValueError` that names the variable and the allowed values.
    """
    source = "mode argument"
    if value is None:
        value = os.environ.get(MODE_ENV)
        source = f"environment variable {MODE_ENV}"
    if value is None or value == "":
        return "fast"
    v = str(value).strip().lower()
    if v not in MODES:
        raise ValueError(
            f"{source} is {value!r}; allowed values are "
            + ", ".join(repr(m) for m in MODES)
            + " (unset means 'fast')"
        )
    return v


def device(value: str | None = None):
    """Return the ``torch.device`` experiments run on.

    ``value`` or ``BOOK_DEVICE`` (``cpu``, ``cuda``, ``cuda:1`` ...) override; default is CUDA when
    available, else CPU.  Asking for CUDA on a machine without it raises a clear error.
    """
    import torch

    v = value if value is not None else os.environ.get(DEVICE_ENV) or None
    if v is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(v)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{DEVICE_ENV}/device {v!r} is not a torch device: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_ENV}/device {v!r} asks for CUDA, but CUDA is not available here")
    return dev


def device_name(dev=None) -> str:
    """A human-readable name of the device (GPU model, or the CPU with its core count)."""
    import torch

    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


# --------------------------------------------------------------------------- dtype policy
#: The one dtype policy of the book: regression losses in these toys reach 1e-8 and below, where
#: float32 rounding (eps 1.2e-7 relative) is visible, so experiments default to float64.  Configs
#: name their precision as a string ("float64"/"float32"); :func:`torch_dtype` resolves it.
DEFAULT_PRECISION = "float64"
_DTYPES = {"float64": "float64", "float32": "float32", "double": "float64", "float": "float32"}


def torch_dtype(precision: str = DEFAULT_PRECISION):
    """Resolve a precision name (``"float64"`` or ``"float32"``) to a ``torch.dtype``."""
    import torch

    key = _DTYPES.get(str(precision).lower())
    if key is None:
        raise ConfigError(f"precision {precision!r} is not one of 'float64', 'float32'")
    return getattr(torch, key)


def configure_torch(threads: int | None = None) -> None:
    """Apply the numeric policy: no TF32 anywhere (float32 matmuls stay float32), and an
    optional torch CPU thread count."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if threads is not None:
        torch.set_num_threads(int(threads))


def progress_enabled(default: bool = True) -> bool:
    """Whether progress bars are shown.  ``BOOK_PROGRESS=0`` hides them (the book build does)."""
    v = os.environ.get(PROGRESS_ENV)
    if v is None or v == "":
        return default
    return v.strip().lower() not in ("0", "false", "no", "off")


def available_memory_gb(dev=None) -> tuple[str, float | None]:
    """``(where, GB)`` a run can use: a CUDA device's total memory, else the host's available
    RAM (``MemAvailable`` of ``/proc/meminfo``); ``None`` where it cannot be read."""
    import torch

    dev = torch.device(dev) if dev is not None else torch.device("cpu")
    if dev.type == "cuda":
        _, total = torch.cuda.mem_get_info(dev)
        return f"this GPU ({torch.cuda.get_device_name(dev)})", total / 1e9
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return "this machine", float(line.split()[1]) / 1e6
    except OSError:
        pass
    return "this machine", None


# --------------------------------------------------------------------------- seeds
def rng(seed: int) -> np.random.Generator:
    """A numpy generator for one seed (PCG64)."""
    return np.random.default_rng(int(seed))


def _plain(v: Any) -> Any:
    """``v`` with NumPy scalars as the Python numbers they equal (``np.float64(2.0)`` -> ``2.0``),
    inside tuples and lists too, so a seed does not depend on where a number came from."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (tuple, list)):
        return type(v)(_plain(x) for x in v)
    return v


def derive_seed(*parts: Any) -> int:
    """A stable 63-bit seed derived from any hashable description (e.g. ``("ch3", width, seed)``);
    NumPy scalars count as the Python numbers they equal."""
    h = hashlib.sha256(repr(_plain(parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


# --------------------------------------------------------------------------- chapter configs
def check(condition: bool, field: str, message: str) -> None:
    """Raise :class:`ConfigError` naming ``field`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"config field '{field}': {message}")


def check_positive_ints(values: Iterable[Any], field: str, *, minimum: int = 1) -> None:
    vals = list(values)
    check(len(vals) > 0, field, "must not be empty")
    for v in vals:
        check(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum,
            field,
            f"every entry must be an integer >= {minimum}, got {v!r}",
        )


def check_finite_positive(value: Any, field: str, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(float(value))
    ok = ok and (float(value) >= 0 if allow_zero else float(value) > 0)
    check(ok, field, f"must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")


@dataclass(frozen=True)
class ChapterConfig:
    """Base class of every chapter config (a frozen dataclass).

    Subclasses add their fields (with comments giving units and the paper's value), implement
    :meth:`fast` and :meth:`full`, and extend :meth:`validate`.  Construction validates, so an
    impossible config fails at once with an error that names the field.
    """

    #: which mode this config was built for ("fast" or "full")
    mode: str = "fast"
    #: random seeds; every seed is one independent repetition of the whole experiment
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    #: numeric precision of training/solves ("float64" or "float32")
    precision: str = DEFAULT_PRECISION
    #: rough wall time of ``run(config)`` on the reference machine for this mode, seconds
    expected_seconds: float = 60.0
    #: peak memory of ``run(config)``, GB, where it was measured (stated before the run starts; in
    #: full mode a device with less memory is refused, see :meth:`check_memory`); None: not measured
    expected_memory_gb: float | None = None

    chapter: ClassVar[str] = "chapter"
    #: the experiment's memory is host RAM even on a GPU machine (it runs on the CPU)
    memory_on_host: ClassVar[bool] = False
    #: :attr:`expected_memory_gb` is a lower bound computed from the sizes (its largest array),
    #: not a measured peak
    memory_is_lower_bound: ClassVar[bool] = False
    #: the config's budget ladders (doubling tuples of budgets), extended by :meth:`doubled`
    ladders: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        # normalise sequences to tuples so configs hash and compare by value
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        self.validate()

    # -- construction --------------------------------------------------------
    @classmethod
    def fast(cls, **overrides: Any) -> "ChapterConfig":  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def full(cls, **overrides: Any) -> "ChapterConfig":  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def for_mode(cls, which: str | None = None, **overrides: Any) -> "ChapterConfig":
        """``fast()`` or ``full()`` depending on :func:`mode` (``BOOK_MODE``)."""
        m = mode(which)
        return cls.fast(**overrides) if m == "fast" else cls.full(**overrides)

    def replace(self, **changes: Any) -> "ChapterConfig":
        """A copy with some fields changed (validated again)."""
        names = {f.name for f in dataclasses.fields(self)}
        for k in changes:
            if k not in names:
                raise ConfigError(f"config field '{k}' does not exist in {type(self).__name__}")
        return dataclasses.replace(self, **changes)

    def doubled(self) -> "ChapterConfig":
        """The same configuration with every budget ladder (:attr:`ladders`) extended by one
        doubling, 2x its last rung: a decided verdict on trained networks must not move there."""
        return self.replace(**self._ladder_changes())

    def _ladder_changes(self) -> dict[str, Any]:
        return {n: tuple(getattr(self, n)) + (2 * getattr(self, n)[-1],) for n in self.ladders}

    def with_seeds(self, seeds: Sequence[int]) -> "ChapterConfig":
        return self.replace(seeds=tuple(int(s) for s in seeds))

    # -- validation ------------------------------------------------------------
    def validate(self) -> None:
        check(self.mode in MODES, "mode", f"must be one of {MODES}, got {self.mode!r}")
        check_positive_ints(self.seeds, "seeds", minimum=0)
        check(len(set(self.seeds)) == len(self.seeds), "seeds", "must not repeat a seed")
        check(self.precision in ("float64", "float32"), "precision",
              f"must be 'float64' or 'float32', got {self.precision!r}")
        check_finite_positive(self.expected_seconds, "expected_seconds")
        if self.expected_memory_gb is not None:
            check_finite_positive(self.expected_memory_gb, "expected_memory_gb")

    def check_int_fields(self, *names: str, minimum: int = 1) -> None:
        """Each named field is an integer >= ``minimum``; the error names the field that is not."""
        for name in names:
            check_positive_ints((getattr(self, name),), name, minimum=minimum)

    def check_positive_fields(self, *names: str) -> None:
        """Each named field is a finite number > 0; the error names the field that is not."""
        for name in names:
            check_finite_positive(getattr(self, name), name)

    def _memory_words(self) -> str:
        return (f"at least {self.expected_memory_gb:.1f} GB" if self.memory_is_lower_bound
                else f"about {self.expected_memory_gb:.1f} GB")

    def check_memory(self, dev=None) -> None:
        """Refuse, with one clear message, a full-mode run on a device that lacks the memory it
        needs (:attr:`expected_memory_gb`); fast mode and unmeasured configs always pass."""
        if self.mode != "full" or self.expected_memory_gb is None:
            return
        where, have = available_memory_gb(None if self.memory_on_host else dev)
        if have is not None and have < self.expected_memory_gb:
            raise ConfigError(
                f"{self.chapter}: full mode needs {self._memory_words()} of memory "
                f"and {where} has {have:.1f} GB; BOOK_MODE=fast runs the fast configuration")

    # -- description -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A stable hash of all fields (used as the cache key)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256((type(self).__name__ + blob).encode()).hexdigest()

    def describe(self, dev=None) -> str:
        """One paragraph for the chapter's config cell: mode, device, seeds, expected time and,
        where measured, peak memory."""
        mins = self.expected_seconds / 60
        t = f"{self.expected_seconds:.0f} s" if self.expected_seconds < 120 else f"{mins:.1f} min"
        where = "2 CPU cores" if self.mode == "fast" else "one data-centre GPU"
        name = device_name(dev)
        note = ""
        if self.mode == "full" and name.startswith("CPU"):
            note = ("; this device has no GPU, so expect many times longer "
                    "(BOOK_MODE=fast selects the CPU configuration)")
        elif self.mode == "fast" and not name.startswith("CPU"):
            note = "; on this GPU, usually less"
        return (
            f"mode: {self.mode}  |  device: {name}\n"
            f"seeds: {list(self.seeds)}  |  precision: {self.precision}\n"
            f"expected time: about {t} on {where}{note}"
            + (f"\npeak memory: {self._memory_words()}"
               if self.expected_memory_gb is not None else "")
        )


# --------------------------------------------------------------------------- parallel map
def n_workers(limit: int | None = None) -> int:
    """Worker processes for CPU-bound fits: the machine's cores (``BOOK_WORKERS`` overrides)."""
    env = os.environ.get("BOOK_WORKERS")
    n = int(env) if env else (os.cpu_count() or 1)
    return max(1, min(n, limit) if limit else n)


def parallel_map(fn, items: Sequence[Any], workers: int | None = None) -> list[Any]:
    """``[fn(x) for x in items]`` over worker processes (order kept).  ``fn`` must be importable
    (a module-level function); with one worker or one item it runs in this process."""
    items = list(items)
    w = n_workers(len(items)) if workers is None else max(1, min(workers, len(items)))
    if w <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=w) as ex:
        return list(ex.map(fn, items))
