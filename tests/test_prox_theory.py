"""The proximal L1 step (exact zeros, L1 optimality) and the resource model's Chinchilla exponent."""
import numpy as np
import pytest
import torch

from scalinglaws.models import BatchedMLP
from scalinglaws.theory import CHINCHILLA, chinchilla_loss, resource_model_parameter_exponent
from scalinglaws.train import proximal_l1, train


def test_proximal_l1_gives_exact_zeros_and_is_per_network():
    x = torch.linspace(-1, 1, 64, dtype=torch.float64)[:, None]
    y = x ** 2
    lam = np.array([0.0, 1e-3, 1e-1])
    m = BatchedMLP([16, 16, 16], seeds=[0, 0, 0], dtype=torch.float64)
    h = train(m, x, y, steps=1500, lr=1e-2, post_step=proximal_l1(lam), progress=False)
    W1 = m.group_params(0)[0].detach()[:, 0, :]
    W2 = m.group_params(0)[2].detach()[:, :, 0]
    zeros = ((W1 == 0) | (W2 == 0)).sum(1).tolist()
    assert zeros[0] == 0                  # no penalty: no exact zeros
    assert zeros[2] > zeros[1] > 0        # stronger penalty: more neurons pruned exactly
    assert h.final_train[2] > h.final_train[0]
    # network 0 (no penalty) trained exactly as without the hook
    m0 = BatchedMLP([16], seeds=[0], dtype=torch.float64)
    h0 = train(m0, x, y, steps=1500, lr=1e-2, progress=False)
    assert h.final_train[0] == pytest.approx(h0.final_train[0], rel=1e-10)


def test_proximal_l1_fixed_point_is_l1_optimal():
    """On a linear least-squares problem the prox-Adam iterate satisfies the lasso conditions."""
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)[:, None]
    y = 0.8 * x + 0.05
    m = BatchedMLP([1], activation="relu", seeds=[3], dtype=torch.float64)
    with torch.no_grad():  # a relu unit that stays active on [-1, 1]: the model is linear
        m.group_params(0)[1].fill_(2.0)
    lam = 0.05
    train(m, x, y, steps=4000, lr=1e-2, post_step=proximal_l1([lam], layers=[1]), progress=False)
    W2 = m.group_params(0)[2]
    m.zero_grad()
    pred = m(x)
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    g, w = float(W2.grad.reshape(-1)[0]), float(W2.detach().reshape(-1)[0])
    assert w != 0 and g + lam * np.sign(w) == pytest.approx(0.0, abs=2e-3)


def test_chinchilla_exponent_is_derived_not_typed():
    assert resource_model_parameter_exponent() == pytest.approx(-1 / 3, abs=1e-12)
    assert resource_model_parameter_exponent(count_all_neurons=True) == pytest.approx(-2 / 3, abs=1e-12)
    assert resource_model_parameter_exponent(depth_exponent=0.0) == pytest.approx(-1 / 2, abs=1e-12)
    assert abs(CHINCHILLA["alpha"] - 1 / 3) < 0.01
    assert chinchilla_loss(1e30, 1e30) == pytest.approx(CHINCHILLA["E"], rel=1e-6)
