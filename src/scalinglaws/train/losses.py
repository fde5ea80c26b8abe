"""Per-network losses and penalties of the batched trainer.

A loss maps one width group's predictions to one loss per network; :class:`SquaredError` is the
weighted squared error the fused engine computes (:mod:`scalinglaws.fused`)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

#: ``loss_fn(pred[G, n, d_out], y, index[G]) -> loss[G]``: per-network loss of one group.
#: ``y`` is the full target, shared ``(n, d_out)`` or per-network ``(M, n, d_out)``; ``index`` are
#: the batch positions of the group's networks (use it to pick per-network targets or weights).
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
#: ``penalty(params_of_group, index) -> penalty[G]`` added to the objective (e.g. an L1 term).
PenaltyFn = Callable[[Sequence[torch.Tensor], torch.Tensor], torch.Tensor]


def select(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of a per-network tensor (M, ...) for a group, or a shared tensor unchanged."""
    return t[index.to(t.device)] if t.dim() == 3 else t


class SquaredError:
    """A weighted squared-error loss, the one form the fused engine computes.

    Network ``i``'s loss is ``sum_{p,o} c[i,p,o] (f_i(x_p)_o - y[t_i,p,o])^2`` with

    * the default weights ``1 / (n d_out)``: the mean squared error;
    * ``output_weights`` (M, d_out): ``sum_o w[i,o] mean_p (...)^2`` (e.g. two subtasks weighted
      ``beta`` and ``1 - beta``, Song et al. 2024, Fig. 3);
    * ``point_weights`` (T, n): ``sum_p q[t_i,p] mean_o (...)^2`` (e.g. input frequencies);
    * ``target_index`` (M,): network i uses target row ``t_i`` of a stacked ``y`` (T, n, d_out)
      and of ``point_weights`` (e.g. one teacher per seed); without it ``t_i = i`` for per-network
      targets (M, n, d_out) and shared ones (n, d_out) serve every network.
    """

    def __init__(self, output_weights: Any = None, point_weights: Any = None,
                 target_index: Any = None) -> None:
        if output_weights is not None and point_weights is not None:
            raise ValueError("give output_weights or point_weights, not both")
        self.output_weights = None if output_weights is None else torch.as_tensor(output_weights)
        self.point_weights = None if point_weights is None else torch.as_tensor(point_weights)
        self.target_index = None if target_index is None else torch.as_tensor(target_index).long()
        for name, t, dim in (("output_weights", self.output_weights, 2),
                             ("point_weights", self.point_weights, 2),
                             ("target_index", self.target_index, 1)):
            if t is not None and t.dim() != dim:
                raise ValueError(f"{name} must have {dim} dimensions, got shape {tuple(t.shape)}")

    @property
    def per_network_targets(self) -> bool:
        return self.target_index is not None

    def group_terms(self, y: torch.Tensor, index: torch.Tensor, n: int, d_out: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The group's targets (n, d_out) or (G, n, d_out) and weights broadcastable to
        (G, n, d_out)."""
        idx = index.to(y.device)
        if self.target_index is not None:
            rows = self.target_index.to(y.device)[idx]
            yg = y[rows]
        else:
            rows = idx
            yg = y[idx] if y.dim() == 3 else y
        if self.output_weights is not None:
            w = self.output_weights.to(dtype=y.dtype, device=y.device)[idx][:, None, :] / n
        elif self.point_weights is not None:
            w = self.point_weights.to(dtype=y.dtype, device=y.device)[rows][:, :, None] / d_out
        else:
            w = torch.full((1, 1, 1), 1.0 / (n * d_out), dtype=y.dtype, device=y.device)
        return yg, w

    def __call__(self, pred: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        yg, w = self.group_terms(y, index, pred.shape[1], pred.shape[2])
        return (w * (pred - yg).pow(2)).sum(dim=(1, 2))


#: Mean squared error of each network, averaged over points and outputs.
mse = SquaredError()

def weighted_mse(weights: Any) -> SquaredError:
    """Per-network loss ``sum_j weights[net, j] * MSE_j`` for multi-output tasks.

    ``weights`` is ``(M, d_out)``, e.g. two subtasks weighted ``beta`` and ``1 - beta``
    (Song et al. 2024, Fig. 3).
    """
    return SquaredError(output_weights=weights)


def penalised(j: int, layers: Sequence[int] | None, biases: bool) -> bool:
    """Whether parameter ``j`` of a group (weights and biases alternate, layer ``j // 2``) carries
    an L1 term: the weights of ``layers`` (default all) and, with ``biases``, their biases."""
    return (layers is None or j // 2 in layers) and (j % 2 == 0 or biases)


def l1_penalty(strength: Any, layers: Sequence[int] | None = None, biases: bool = False
               ) -> PenaltyFn:
    """A :data:`PenaltyFn` ``strength_i * sum |W|`` over the weights of ``layers`` (default all)
    and, with ``biases``, their biases: the L1 term written into the loss, as a plain
    ``loss + lambda * |theta|_1`` objective with Adam's (sub)gradient does (Song et al. 2024,
    Fig. 2A: ``alpha * l + lambda_1 theta_1 + lambda_2 theta_2``).  It touches only the
    penalised parameters; the engines give the others a zero gradient."""
    lam_all = torch.as_tensor(np.asarray(strength, dtype=float).reshape(-1))

    def pen(ps: Sequence[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        lam = lam_all.to(dtype=ps[0].dtype, device=ps[0].device)
        lam = lam[index.to(lam.device)] if lam.numel() > 1 else lam.expand(index.numel())
        tot = ps[0].new_zeros(index.numel())
        for j, p in enumerate(ps):
            if penalised(j, layers, biases):
                tot = tot + p.abs().sum(tuple(range(1, p.dim())))
        return lam * tot

    return pen

