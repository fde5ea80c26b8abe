"""Batched models: many small independent MLPs evaluated as one program.

:class:`BatchedMLP` holds M independent fully-connected networks ``d_in -> w -> ... -> w -> d_out``
whose hidden widths ``w`` may differ from network to network.  Networks of equal width form a
*group* whose parameters are stacked on a leading axis, so a forward pass is one
``torch.baddbmm`` per layer and group; no compute is spent on padding.  Each network is
initialised exactly as ``torch.manual_seed(seed); nn.Sequential(nn.Linear(...), act, ...)``
would initialise it, so a batched run and a one-network-at-a-time run start from identical weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: The activation registry.  Names are what configs use.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "silu": F.silu,
    "relu": F.relu,
    "leaky_relu": partial(F.leaky_relu, negative_slope=0.01),
    "tanh": torch.tanh,
    "gelu": F.gelu,
}
_MODULES: dict[str, Callable[[], nn.Module]] = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "leaky_relu": partial(nn.LeakyReLU, 0.01),
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Look up an activation by name; unknown names raise a ``ValueError`` listing the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation {name!r} is unknown; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def reference_mlp(width: int, *, d_in: int = 1, d_out: int = 1, depth: int = 1,
                  activation: str = "silu", seed: int = 0) -> nn.Sequential:
    """The plain ``nn.Sequential`` network that network ``seed`` of a :class:`BatchedMLP` equals.

    Used by tests and by the benchmark's naive loop.
    """
    if activation not in _MODULES:
        raise ValueError(f"activation {activation!r} is unknown; choose one of {sorted(_MODULES)}")
    torch.manual_seed(int(seed))
    layers: list[nn.Module] = []
    fan_in = d_in
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), _MODULES[activation]()]
        fan_in = width
    layers.append(nn.Linear(fan_in, d_out))
    return nn.Sequential(*layers)


def _linear_init(fan_in: int, fan_out: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw (weight[out, in], bias[out]) exactly as ``nn.Linear.reset_parameters`` does."""
    w = torch.empty(fan_out, fan_in)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    b = torch.empty(fan_out)
    nn.init.uniform_(b, -bound, bound, generator=gen)
    return w, b


@dataclass(frozen=True)
class Group:
    """Networks of one hidden width: their positions in the batch and their parameter indices."""

    width: int
    index: torch.Tensor  # (G,) positions of these networks in the batch of M
    first_param: int  # index of this group's first parameter in ``BatchedMLP.params``


class BatchedMLP(nn.Module):
    """M independent MLPs with (possibly) different hidden widths, stacked by width.

    Parameters
    ----------
    widths:
        hidden width of each of the M networks.
    d_in, d_out:
        input and output dimension (shared by all networks).
    depth:
        number of hidden layers (each of the network's width).
    activation:
        a name from :data:`ACTIVATIONS`.
    seeds:
        one initialisation seed per network (default ``0..M-1``); network ``i`` equals
        :func:`reference_mlp` ``(widths[i], ..., seed=seeds[i])`` at initialisation.
    dtype, device:
        where the parameters live.

    The forward pass takes ``x`` of shape ``(n, d_in)`` (shared by all networks) or
    ``(M, n, d_in)`` (one input set per network) and returns ``(M, n, d_out)``.
    """

    def __init__(self, widths: Sequence[int], *, d_in: int = 1, d_out: int = 1, depth: int = 1,
                 activation: str = "silu", seeds: Sequence[int] | None = None,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None):
        super().__init__()
        widths = [int(w) for w in np.asarray(widths).reshape(-1)]
        if not widths:
            raise ValueError("widths must list at least one network")
        if any(w < 1 for w in widths):
            raise ValueError(f"widths must all be >= 1, got {sorted(set(widths))[:5]}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if d_in < 1 or d_out < 1:
            raise ValueError(f"d_in and d_out must be >= 1, got d_in={d_in}, d_out={d_out}")
        self.act_name = activation
        self.act = get_activation(activation)
        seeds = list(range(len(widths))) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != len(widths):
            raise ValueError(f"seeds has {len(seeds)} entries but widths has {len(widths)}")
        self.widths = widths
        self.seeds = seeds
        self.d_in, self.d_out, self.depth = d_in, d_out, depth
        self.M = len(widths)

        self.params = nn.ParameterList()
        groups: list[Group] = []
        order: list[int] = []
        for w in sorted(set(widths)):
            idx = [i for i, wi in enumerate(widths) if wi == w]
            layers = self._init_group(w, [seeds[i] for i in idx])
            groups.append(Group(w, torch.tensor(idx), len(self.params)))
            for W, b in layers:
                self.params.append(nn.Parameter(W.to(dtype=dtype)))
                self.params.append(nn.Parameter(b.to(dtype=dtype)))
            order += idx
        self.groups = groups
        # position of network i in the concatenation of group outputs
        inv = torch.empty(self.M, dtype=torch.long)
        inv[torch.tensor(order)] = torch.arange(self.M)
        self.register_buffer("_inv", inv, persistent=False)
        if device is not None:
            self.to(device)

    # ------------------------------------------------------------------ init
    def _init_group(self, w: int, seeds: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        dims = [self.d_in] + [w] * self.depth + [self.d_out]
        Ws = [torch.empty(len(seeds), dims[l], dims[l + 1]) for l in range(len(dims) - 1)]
        bs = [torch.empty(len(seeds), 1, dims[l + 1]) for l in range(len(dims) - 1)]
        for k, s in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(s))
            for l in range(len(dims) - 1):
                W, b = _linear_init(dims[l], dims[l + 1], gen)
                Ws[l][k] = W.T
                bs[l][k, 0] = b
        return list(zip(Ws, bs))

    # ------------------------------------------------------------------ access
    @property
    def n_layers(self) -> int:
        return self.depth + 1

    def group_params(self, g: int | Group) -> list[torch.Tensor]:
        """The parameters of one group: ``[W1, b1, W2, b2, ...]`` with shapes (G, in, out), (G, 1, out)."""
        grp = self.groups[g] if isinstance(g, int) else g
        return list(self.params[grp.first_param: grp.first_param + 2 * self.n_layers])

    def n_params(self) -> np.ndarray:
        """Number of trainable parameters of each network, shape (M,)."""
        out = np.empty(self.M, dtype=np.int64)
        for w_i, i in zip(self.widths, range(self.M)):
            dims = [self.d_in] + [w_i] * self.depth + [self.d_out]
            out[i] = sum(dims[l] * dims[l + 1] + dims[l + 1] for l in range(len(dims) - 1))
        return out

    def locate(self, i: int) -> tuple[Group, int]:
        """(group, position within the group) of network ``i``."""
        for grp in self.groups:
            hits = (grp.index == i).nonzero()
            if len(hits):
                return grp, int(hits[0, 0])
        raise IndexError(f"network {i} is not in this batch of {self.M}")

    def network_params(self, i: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-layer ``(W[in, out], b[out])`` of network ``i`` (detached copies)."""
        grp, k = self.locate(i)
        ps = self.group_params(grp)
        return [(ps[2 * l][k].detach().clone(), ps[2 * l + 1][k, 0].detach().clone())
                for l in range(self.n_layers)]

    def network(self, i: int) -> nn.Sequential:
        """Network ``i`` as a plain ``nn.Sequential`` (a copy)."""
        p = next(iter(self.parameters()))
        net = reference_mlp(self.widths[i], d_in=self.d_in, d_out=self.d_out, depth=self.depth,
                            activation=self.act_name, seed=0).to(dtype=p.dtype, device=p.device)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, (W, b) in zip(linears, self.network_params(i)):
                lin.weight.copy_(W.T)
                lin.bias.copy_(b)
        return net

    # ------------------------------------------------------------------ forward
    @staticmethod
    def _layer(h: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if h.dim() == 2:  # shared input: (n, in) @ (G, in, out) -> (G, n, out)
            if h.shape[1] == 1:
                return torch.addcmul(b, h.unsqueeze(0), W)  # outer product, no K=1 matmul
            return torch.matmul(h, W) + b
        return torch.baddbmm(b, h, W)

    def group_forward(self, g: int | Group, x: torch.Tensor,
                      params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Forward pass of one group: ``x`` (n, d_in) or (G, n, d_in) -> (G, n, d_out).

        ``params`` substitutes the group's parameters (used by the L-BFGS polish)."""
        ps = self.group_params(g) if params is None else params
        h = x
        for l in range(self.depth):
            h = self.act(self._layer(h, ps[2 * l], ps[2 * l + 1]))
        return self._layer(h, ps[-2], ps[-1])

    def hidden(self, x: torch.Tensor, layer: int = 1) -> list[torch.Tensor]:
        """Post-activation hidden units of layer ``layer`` (1-based) for each group."""
        out = []
        for grp in self.groups:
            ps = self.group_params(grp)
            h = x
            for l in range(layer):
                h = self.act(self._layer(h, ps[2 * l], ps[2 * l + 1]))
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3 and x.shape[0] != self.M:
            raise ValueError(f"per-network input has leading size {x.shape[0]}, expected M={self.M}")
        outs = []
        for grp in self.groups:
            xg = x if x.dim() == 2 else x[grp.index.to(x.device)]
            outs.append(self.group_forward(grp, xg))
        return torch.cat(outs, dim=0)[self._inv]
