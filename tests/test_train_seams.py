"""The trainer's seams: the optimiser by name or factory, the proximal L1 step's need for Adam's
state, an L1 penalty in the loss on both engines, and seeds that ignore a number's type."""
import numpy as np
import pytest
import torch

from scalinglaws.config import derive_seed
from scalinglaws.models import BatchedMLP, reference_mlp
from scalinglaws.train import l1_penalty, make_optimizer, proximal_l1, train


def _data(n=48):
    x = torch.linspace(-1, 1, n, dtype=torch.float64)[:, None]
    return x, x ** 2


def test_sgd_by_name_equals_torch_sgd_on_one_network():
    x, y = _data()
    m = BatchedMLP([3], seeds=[7], activation="silu", dtype=torch.float64)
    train(m, x, y, steps=25, lr=0.1, schedule="constant", optimizer="sgd", progress=False)
    net = reference_mlp(3, activation="silu", seed=7).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(25):
        opt.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
    lin = [l for l in net if isinstance(l, torch.nn.Linear)]
    for (W, b), l in zip(m.network_params(0), lin):
        torch.testing.assert_close(W.T, l.weight, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b, l.bias, rtol=1e-10, atol=1e-12)


def test_a_factory_is_called_with_the_parameters_and_rate():
    x, y = _data()
    seen = {}

    def factory(params, lr):
        seen["n"], seen["lr"] = len(params), lr
        return torch.optim.RMSprop(params, lr=lr)

    m = BatchedMLP([2, 4], activation="silu", dtype=torch.float64)
    h = train(m, x, y, steps=5, lr=3e-3, optimizer=factory, progress=False)
    assert seen == {"n": len(list(m.parameters())), "lr": 3e-3} and np.isfinite(h.final_train).all()


def test_bad_optimizers_are_named():
    m = BatchedMLP([2], dtype=torch.float64)
    with pytest.raises(ValueError, match="optimizer 'lion' is unknown"):
        make_optimizer("lion", list(m.parameters()), 1e-3)
    with pytest.raises(TypeError, match="not a torch.optim.Optimizer"):
        make_optimizer(lambda p, lr: object(), list(m.parameters()), 1e-3)


def test_the_proximal_step_needs_adams_state():
    x, y = _data()
    m = BatchedMLP([4], activation="silu", dtype=torch.float64)
    with pytest.raises(ValueError, match="needs Adam's second-moment state"):
        train(m, x, y, steps=3, lr=1e-2, optimizer="sgd", post_step=proximal_l1(1e-3),
              progress=False)


@pytest.mark.parametrize("engine", ["fused", "eager"])
def test_an_l1_penalty_on_weights_alone_trains_on_both_engines(engine):
    """The penalty leaves the biases untouched: both engines give them a zero penalty gradient
    and agree on the result."""
    pytest.importorskip("scalinglaws.fused")
    from scalinglaws import fused

    if engine == "fused" and not fused.enabled():
        pytest.skip("no fused engine here")
    x, y = _data()
    out = {}
    for eng in ("eager", engine):
        m = BatchedMLP([3, 6], seeds=[1, 2], activation="silu", dtype=torch.float64)
        train(m, x, y, steps=40, lr=1e-2, penalty=l1_penalty([1e-3, 1e-2]), engine=eng,
              progress=False)
        out[eng] = [p.detach().clone() for p in m.parameters()]
    for a, b in zip(out["eager"], out[engine]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_l1_penalty_against_a_hand_sum():
    W1 = torch.tensor([[[1.0, -2.0]], [[0.5, 0.0]]], dtype=torch.float64)   # (G, 1, 2)
    b1 = torch.tensor([[[3.0, 3.0]], [[1.0, 1.0]]], dtype=torch.float64)
    W2 = torch.tensor([[[1.0], [-1.0]], [[2.0], [0.0]]], dtype=torch.float64)
    b2 = torch.ones(2, 1, 1, dtype=torch.float64)
    ps, idx = [W1, b1, W2, b2], torch.tensor([0, 1])
    torch.testing.assert_close(l1_penalty([0.1, 1.0])(ps, idx),
                               torch.tensor([0.1 * 5.0, 1.0 * 2.5], dtype=torch.float64))
    # output weights only, biases included
    torch.testing.assert_close(l1_penalty(1.0, layers=(1,), biases=True)(ps, idx),
                               torch.tensor([3.0, 3.0], dtype=torch.float64))


def test_seeds_ignore_numpy_scalar_types():
    assert derive_seed("ch1", 2.0, 3) == derive_seed("ch1", np.float64(2.0), np.int64(3))
    assert derive_seed(("a", np.int32(1))) == derive_seed(("a", 1))
    assert derive_seed("ch1", 2.0) != derive_seed("ch1", 2.5)
