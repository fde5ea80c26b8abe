"""One trainer for M independent networks at once.

:func:`train` trains every network of a :class:`~scalinglaws.models.BatchedMLP` with a
first-order optimiser (Adam by default; ``optimizer=`` takes a name or a factory).  The objective
summed over networks has block-diagonal structure and Adam is elementwise, so each network gets
exactly its own gradient and its own Adam state: a batched run equals M separate runs (tested to
rtol 1e-6 in float64).  An optional L-BFGS polish then runs *per network* (batched two-loop
recursion and a per-network Armijo line search; no line search is shared between networks, which
a plain ``torch.optim.LBFGS`` on the summed loss would do).

Two engines compute the gradients (:mod:`.engines`).  ``"fused"`` (the default wherever it
applies: one hidden layer, an activation of :data:`scalinglaws.fused.FUSED_ACTIVATIONS`, a
:class:`SquaredError` loss) runs a compiled, hand-derived forward-and-backward program per width
group (:mod:`scalinglaws.fused`); ``"eager"`` runs autograd on the same objective.  Both give the
same results (tested to rtol 1e-6 in float64); ``engine="auto"`` falls back to ``"eager"`` with a
one-line warning where compilation is unavailable.

The package, by role: :mod:`.losses` (losses and penalties), :mod:`.schedules`, :mod:`.engines`
(objectives, data checks, :class:`History`), :mod:`.adam` (:func:`train`, the optimiser seam,
the proximal L1 step, width masks), :mod:`.gd` (gradient descent), :mod:`.lbfgs`,
:mod:`.owlqn` (the exact L1 optimum) and :mod:`.tokens` (chapter 4's token models).
"""
from .adam import (
    OPTIMIZERS,
    OptimizerFactory,
    chain,
    make_optimizer,
    proximal_l1,
    train,
    train_one,
    width_mask,
)
from .engines import ENGINES, History, evaluate, fused_applicable
from .gd import gradient_descent
from .lbfgs import lbfgs_polish
from .losses import LossFn, PenaltyFn, SquaredError, l1_penalty, mse, penalised, select, weighted_mse
from .owlqn import L1Polish, owlqn_polish
from .schedules import SCHEDULES, lr_at
from .tokens import token_cross_entropy, train_tokens

__all__ = [
    "ENGINES", "OPTIMIZERS", "SCHEDULES", "History", "L1Polish", "LossFn", "OptimizerFactory",
    "PenaltyFn", "SquaredError", "chain", "evaluate", "fused_applicable", "gradient_descent",
    "l1_penalty", "lbfgs_polish", "lr_at", "make_optimizer", "mse", "owlqn_polish", "penalised",
    "proximal_l1", "select", "token_cross_entropy", "train", "train_one", "train_tokens",
    "weighted_mse", "width_mask",
]
