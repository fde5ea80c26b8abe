"""Fused training steps for one-hidden-layer networks: forward, loss and backward in one program.

The trainer (:func:`scalinglaws.train.train`) spends nearly all its time on networks
``d_in -> N -> d_out`` with one hidden layer.  For them the gradient is derived by hand
(:func:`grads_one_hidden_layer`, the specification) and the whole computation -- hidden
pre-activations, activation, output, weighted squared error and every gradient -- runs as one
compiled program that never stores the (networks x points x neurons) intermediates an autograd
graph keeps.  Two backends compile the same mathematics:

* **CPU** (inputs and outputs up to :data:`SMALL_DIM` wide): ``_kernels/fused_mlp1.cpp``, built
  once per machine with the system C++ compiler and loaded with ``ctypes``.  Per tile of points,
  a forward pass over the neurons in blocks (one sweep over the points per block) stores one
  value per neuron-point (the sigmoid, for SiLU), and a backward pass reduces every gradient in
  registers from it: one exp and one division per neuron-point in all; networks are spread over
  OpenMP threads; one call per width group and step.
* **CUDA**, and CPU groups with wide inputs or outputs: ``torch.compile`` of
  :func:`grads_one_hidden_layer` with dynamic shapes (one compile per activation, dimension
  class and dtype, not per width); large groups are cut into chunks of at most
  :data:`CHUNK_ELEMENTS` network-point-neuron triples.

Why two: on a 2-core CPU inductor's code for this graph stores two (networks x points x neurons)
buffers and reduces in a third loop, at about 3 cycles per neuron-point and core, and each
compiled call pays ~50-100 microseconds of guards; the hand-written kernel runs at about one
cycle per neuron-point and core and its call costs a few microseconds (``bench/trainer.py``
prints all of them, beside the one-network loop and ``torch.func``).

Where a backend cannot be built (no C++ compiler, an unsupported platform) the first call warns
once and the trainer falls back to its eager autograd path; ``BOOK_FUSED=0`` forces that path and
``BOOK_FUSED_BACKEND=compile`` makes the CPU use ``torch.compile`` too.
"""
from __future__ import annotations

import ctypes
import math
import os
import subprocess
import time
import warnings
from typing import Callable

import torch

from ._kernels import build as build_kernel

FUSED_ENV = "BOOK_FUSED"
BACKEND_ENV = "BOOK_FUSED_BACKEND"
#: activations the fused step knows the derivative of (names of :data:`scalinglaws.models.ACTIVATIONS`)
FUSED_ACTIVATIONS = ("silu", "relu", "leaky_relu", "tanh", "gelu")
#: input or output dimensions up to this are unrolled into elementwise products (no matmul)
SMALL_DIM = 8
#: largest networks x points x neurons of one compiled call (keeps a chunk's hidden layer in cache)
CHUNK_ELEMENTS = 1 << 20
LEAKY_SLOPE = 0.01
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _activate(z: torch.Tensor, act: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The activation ``h = act(z)`` and its derivative ``act'(z)`` (as autograd computes it)."""
    if act == "silu":
        s = torch.sigmoid(z)
        return z * s, s * (1.0 + z * (1.0 - s))
    if act == "relu":
        pos = z > 0
        return torch.where(pos, z, torch.zeros_like(z)), pos.to(z.dtype)
    if act == "leaky_relu":
        pos = z > 0
        d = pos.to(z.dtype) * (1.0 - LEAKY_SLOPE) + LEAKY_SLOPE
        return torch.where(pos, z, LEAKY_SLOPE * z), d
    if act == "tanh":
        t = torch.tanh(z)
        return t, 1.0 - t * t
    if act == "gelu":
        cdf = 0.5 * (1.0 + torch.erf(z * _SQRT1_2))
        return z * cdf, cdf + z * _INV_SQRT_2PI * torch.exp(-0.5 * z * z)
    raise ValueError(f"the fused step has no derivative for activation {act!r}; "
                     f"choose one of {FUSED_ACTIVATIONS}")


def _hidden(x: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor) -> torch.Tensor:
    """Pre-activations (G, n, N) of inputs x (n, d_in) or (G, n, d_in)."""
    xs = x if x.dim() == 3 else x.unsqueeze(0)
    d_in = W1.shape[1]
    if d_in <= SMALL_DIM:
        z = b1 + xs[..., 0:1] * W1[:, 0:1, :]
        for k in range(1, d_in):
            z = z + xs[..., k:k + 1] * W1[:, k:k + 1, :]
        return z
    return torch.matmul(xs, W1) + b1


def _output(h: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    d_out = W2.shape[2]
    if d_out <= SMALL_DIM:
        cols = [(h * W2[:, :, o].unsqueeze(1)).sum(-1, keepdim=True) for o in range(d_out)]
        return (cols[0] if d_out == 1 else torch.cat(cols, -1)) + b2
    return torch.matmul(h, W2) + b2


def grads_one_hidden_layer(x: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
                           b2: torch.Tensor, y: torch.Tensor, w: torch.Tensor, act: str,
                           onehot: bool = False):
    """Loss and hand-derived gradients of G one-hidden-layer networks (one width group).

    Network ``i`` maps ``x`` (n, d_in), or its own ``x[i]``, through ``z = x W1_i + b1_i``,
    ``h = act(z)``, ``f = h W2_i + b2_i``; its loss is the weighted squared error
    ``L_i = sum_{p,o} w[i,p,o] (f_{p,o} - y[i,p,o])^2`` (``w`` and ``y`` broadcast to
    (G, n, d_out)).  With ``r = f - y`` and ``g = 2 w r``:
    ``dL/dW2 = h^T g``, ``dL/db2 = sum_p g``, ``dL/dz = (g W2^T) act'(z)``,
    ``dL/dW1 = x^T dL/dz``, ``dL/db1 = sum_p dL/dz``.

    With ``onehot`` the inputs are the identity matrix (one point per input unit, as in the
    teacher-student task of chapter 0): then ``z = W1 + b1`` and ``dL/dW1 = dL/dz``, which saves
    both input-layer products.

    Returns ``(L, dW1, db1, dW2, db2)`` with the parameters' shapes.
    """
    z = W1 + b1 if onehot else _hidden(x, W1, b1)
    h, dh = _activate(z, act)
    r = _output(h, W2, b2) - y
    wr = w * r
    loss = (wr * r).sum(dim=(1, 2))
    g = 2.0 * wr                                        # (G, n, d_out)
    d_in, d_out = W1.shape[1], W2.shape[2]
    gb2 = g.sum(1, keepdim=True)
    if d_out <= SMALL_DIM:
        gW2 = torch.stack([(h * g[..., o:o + 1]).sum(1) for o in range(d_out)], -1)
        gh = g[..., 0:1] * W2[:, :, 0].unsqueeze(1)
        for o in range(1, d_out):
            gh = gh + g[..., o:o + 1] * W2[:, :, o].unsqueeze(1)
    else:
        gW2 = torch.matmul(h.transpose(1, 2), g)
        gh = torch.matmul(g, W2.transpose(1, 2))
    gz = gh * dh
    gb1 = gz.sum(1, keepdim=True)
    xs = x if x.dim() == 3 else x.unsqueeze(0)
    if onehot:
        gW1 = gz
    elif d_in <= SMALL_DIM:
        gW1 = torch.stack([(xs[..., k:k + 1] * gz).sum(1) for k in range(d_in)], 1)
    else:
        gW1 = torch.matmul(xs.transpose(1, 2), gz)
    return loss, gW1, gb1, gW2, gb2


# ----------------------------------------------------------------------------- compilation
def enabled() -> bool:
    """False when ``BOOK_FUSED=0`` (or false/no/off) asks for the eager path."""
    return os.environ.get(FUSED_ENV, "").strip().lower() not in ("0", "false", "no", "off")


class _Compiled:
    """``torch.compile`` of :func:`grads_one_hidden_layer`, made once per process, with a
    once-only warning and a permanent fallback when compilation fails.

    Inputs are brought to one canonical form before the call -- targets and weights as
    (G, n, d_out), at least two networks and two neurons (a zero neuron and a duplicated network
    are added and dropped again) -- so that a whole sweep compiles to one dynamic-shape program
    per (activation, d_in, d_out, dtype, device) instead of one per size-1 special case.
    """

    def __init__(self) -> None:
        self.fn: Callable | None = None
        self.failed: str | None = None
        self.compile_seconds = 0.0
        self._seen: set[tuple] = set()

    def enabled(self) -> bool:
        return self.failed is None and enabled()

    @staticmethod
    def prepare(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor):
        n = x.shape[-2]
        onehot = (x.dim() == 2 and x.shape == (n, n) and n > SMALL_DIM
                  and bool(torch.equal(x, torch.eye(n, dtype=x.dtype, device=x.device))))
        return (x, y, w, onehot)

    def __call__(self, data, W1, b1, W2, b2, act: str):
        x, y, w, onehot = data
        if self.fn is None:
            import torch._dynamo as dynamo

            # one compiled graph per (activation, dims <= SMALL_DIM, dtype, device) variant; the
            # default limit of 8 is too small for a book that uses several
            dynamo.config.cache_size_limit = max(dynamo.config.cache_size_limit, 64)
            self.fn = torch.compile(grads_one_hidden_layer, dynamic=True)
        G, N, d_out = W1.shape[0], W1.shape[2], W2.shape[2]
        n = x.shape[-2]
        y = y.expand(G, n, d_out) if y.dim() == 3 else y.unsqueeze(0).expand(G, n, d_out)
        w = w.expand(G, n, d_out)
        padN, padG = N < 2, G < 2
        if padN:  # a second neuron with zero weights: it changes neither output nor gradients
            W1, b1, W2 = (torch.cat([t, torch.zeros_like(t)], dim) for t, dim in
                          ((W1, 2), (b1, 2), (W2, 1)))
        if padG:  # the network twice
            x = torch.cat([x, x]) if x.dim() == 3 else x
            W1, b1, W2, b2, y, w = (torch.cat([t, t]) for t in (W1, b1, W2, b2, y, w))
        args = [t.contiguous() for t in (x, W1, b1, W2, b2, y, w)]
        key = (act, x.dim(), min(W1.shape[1], SMALL_DIM + 1), min(d_out, SMALL_DIM + 1),
               W1.dtype, W1.device.type, onehot)
        first = key not in self._seen
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                loss, *grads = self.fn(*args, act, onehot)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: use the eager path
            self.failed = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            warnings.warn(f"fused training step unavailable ({self.failed[:200]}); "
                          "using the eager autograd path", RuntimeWarning, stacklevel=3)
            raise FusedUnavailable(self.failed) from exc
        if first:
            self._seen.add(key)
            self.compile_seconds += time.perf_counter() - t0
        if padG:
            loss, grads = loss[:1], [g[:1] for g in grads]
        if padN:
            grads = [grads[0][..., :1], grads[1][..., :1], grads[2][:, :1], grads[3]]
        # contiguous, like the parameters (fused Adam assumes matching layouts)
        grads = [g.contiguous() for g in grads]
        return (loss, *grads)


class FusedUnavailable(RuntimeError):
    """Compilation of the fused step failed on this machine (the trainer falls back)."""


compiled_grads = _Compiled()


def chunks(G: int, n: int, N: int, limit: int = CHUNK_ELEMENTS) -> list[slice]:
    """Slices of a group of G networks with at most ``limit`` network-point-neuron triples each."""
    size = max(1, limit // max(1, n * N))
    return [slice(i, min(G, i + size)) for i in range(0, G, size)]


# ----------------------------------------------------------------------------- CPU kernel
_ACT_CODES = {"silu": 0, "relu": 1, "leaky_relu": 2, "tanh": 3}
#: fast-maths flags of the MLP kernel (its exp and polynomial are written for them)
_MATH_FLAGS = ("-fno-math-errno", "-fno-trapping-math", "-fassociative-math", "-fno-signed-zeros")


class _CpuKernel:
    """The C++ kernel, built on first use (about a second) and cached on disk."""

    def __init__(self) -> None:
        self.lib: ctypes.CDLL | None = None
        self.failed: str | None = None
        self.build_seconds = 0.0

    def available(self) -> bool:
        if self.lib is None and self.failed is None:
            try:
                self._load()
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                self.failed = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"fused CPU kernel unavailable ({self.failed[:200]}); using "
                              "torch.compile or the eager path", RuntimeWarning, stacklevel=4)
        return self.lib is not None

    def _load(self) -> None:
        lib, self.build_seconds = build_kernel("fused_mlp1", _MATH_FLAGS)
        i64, i32, vp = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
        for name, real in (("fused_mlp1_f32", ctypes.c_float), ("fused_mlp1_f64", ctypes.c_double)):
            fn = getattr(lib, name)
            fn.argtypes = [i64, i64, i64, i64, i64, i32, real, i32] + [vp] * 12 + [i32]
            fn.restype = i32
        lib.fused_mlp1_supports.argtypes = [i64, i64, i32]
        lib.fused_mlp1_supports.restype = i32
        self.lib = lib

    def supports(self, d_in: int, d_out: int, act: str) -> bool:
        return (self.lib is not None and act in _ACT_CODES
                and bool(self.lib.fused_mlp1_supports(d_in, d_out, _ACT_CODES[act])))

    @staticmethod
    def prepare(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor):
        """Feature-major copies the kernel reads: x (d_in, n) or (G, d_in, n), y and w
        (G, d_out, n)."""
        return (x.transpose(-1, -2).contiguous(), y.transpose(1, 2).contiguous(),
                w.transpose(1, 2).contiguous())

    def __call__(self, data, W1, b1, W2, b2, act: str):
        xT, yT, wT = data
        G, d_in, N = W1.shape
        d_out = W2.shape[2]
        n = xT.shape[-1]
        fn = self.lib.fused_mlp1_f32 if W1.dtype == torch.float32 else self.lib.fused_mlp1_f64
        ps = [t.contiguous() for t in (W1, b1, W2, b2)]
        outs = [torch.empty(G, dtype=W1.dtype), *(torch.empty_like(t) for t in ps)]
        rc = fn(G, n, N, d_in, d_out, _ACT_CODES[act], LEAKY_SLOPE, int(xT.dim() == 3),
                xT.data_ptr(), *[t.data_ptr() for t in ps], yT.data_ptr(), wT.data_ptr(),
                *[t.data_ptr() for t in outs], torch.get_num_threads())
        if rc != 0:  # pragma: no cover - guarded by supports()
            raise RuntimeError(f"fused CPU kernel has no instantiation for d_in={d_in}, "
                               f"d_out={d_out}, {act}")
        return tuple(outs)


cpu_kernel = _CpuKernel()


def cpu_kernel_applies(W1: torch.Tensor, W2: torch.Tensor, act: str) -> bool:
    """Whether a group runs on the C++ kernel: CPU, float32/64, a known activation and input and
    output dimensions the kernel is instantiated for (builds the kernel on first use)."""
    return (W1.device.type == "cpu" and W1.dtype in (torch.float32, torch.float64)
            and act in _ACT_CODES
            and os.environ.get(BACKEND_ENV, "").strip().lower() != "compile"
            and cpu_kernel.available() and cpu_kernel.supports(W1.shape[1], W2.shape[2], act))
