import numpy as np
import pytest
import torch

from scalinglaws.models import BatchedMLP, reference_mlp
from scalinglaws.train import evaluate, train, train_one

torch.set_default_dtype(torch.float32)


def _data(n=64, d_in=1, d_out=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d_in, generator=g, dtype=torch.float64) * 4 - 2
    y = torch.sin(x.sum(1, keepdim=True)).repeat(1, d_out) + x[:, :1] ** 2
    return x, y


@pytest.mark.parametrize("depth,act", [(1, "silu"), (2, "tanh"), (1, "relu")])
def test_init_and_forward_equal_nn_linear(depth, act):
    widths, seeds = [1, 3, 3, 8], [5, 6, 7, 8]
    m = BatchedMLP(widths, d_in=2, d_out=3, depth=depth, activation=act, seeds=seeds,
                   dtype=torch.float64)
    x, _ = _data(d_in=2)
    out = m(x)
    assert out.shape == (4, 64, 3)
    for i, (w, s) in enumerate(zip(widths, seeds)):
        ref = reference_mlp(w, d_in=2, d_out=3, depth=depth, activation=act, seed=s).double()
        lin = [l for l in ref if isinstance(l, torch.nn.Linear)]
        for (W, b), l in zip(m.network_params(i), lin):
            assert torch.equal(W.T, l.weight) and torch.equal(b, l.bias)
        torch.testing.assert_close(out[i], ref(x), rtol=1e-12, atol=1e-12)
    ref = [reference_mlp(w, d_in=2, d_out=3, depth=depth) for w in widths]
    assert list(m.n_params()) == [sum(p.numel() for p in r.parameters()) for r in ref]


def test_per_network_inputs():
    m = BatchedMLP([2, 4, 2], dtype=torch.float64)
    x = torch.randn(3, 10, 1, dtype=torch.float64)
    out = m(x)
    for i in range(3):
        torch.testing.assert_close(out[i], m.network(i)(x[i]))


def test_unknown_activation_and_bad_widths():
    with pytest.raises(ValueError, match="activation 'swish' is unknown"):
        BatchedMLP([2], activation="swish")
    with pytest.raises(ValueError, match="widths"):
        BatchedMLP([0, 2])


@pytest.mark.parametrize("depth", [1, 2])
def test_batched_training_equals_one_network_at_a_time(depth):
    """Mixed widths, float64: the batched Adam run equals per-network nn.Sequential + Adam."""
    widths, seeds = [1, 2, 5, 5, 16], [0, 1, 2, 3, 4]
    steps, lr = 60, 1e-2
    x, y = _data()
    m = BatchedMLP(widths, depth=depth, seeds=seeds, dtype=torch.float64)
    hist = train(m, x, y, steps=steps, lr=lr, schedule="cosine", progress=False)
    for i, (w, s) in enumerate(zip(widths, seeds)):
        net = reference_mlp(w, depth=depth, seed=s).double()
        final = train_one(net, x, y, steps=steps, lr=lr)
        assert hist.final_train[i] == pytest.approx(final, rel=1e-6)


def test_lbfgs_polish_is_per_network():
    """Polishing networks together gives the same result as polishing each alone."""
    x, y = _data()
    widths, seeds = [4, 4, 4, 9], [0, 1, 2, 3]
    m = BatchedMLP(widths, seeds=seeds, dtype=torch.float64)
    h = train(m, x, y, steps=30, lr=1e-2, lbfgs_steps=40, progress=False)
    for i, (w, s) in enumerate(zip(widths, seeds)):
        alone = BatchedMLP([w], seeds=[s], dtype=torch.float64)
        ha = train(alone, x, y, steps=30, lr=1e-2, lbfgs_steps=40, progress=False)
        assert h.final_train[i] == pytest.approx(ha.final_train[0], rel=1e-8)
        assert h.lbfgs_iterations[i] == ha.lbfgs_iterations[0]
    # and the polish actually helps
    m2 = BatchedMLP(widths, seeds=seeds, dtype=torch.float64)
    h2 = train(m2, x, y, steps=30, lr=1e-2, progress=False)
    assert np.all(h.final_train < h2.final_train)


def test_history_records_losses_and_test_loss():
    x, y = _data()
    m = BatchedMLP([2, 3], dtype=torch.float64)
    h = train(m, x, y, steps=20, x_test=x[:16], y_test=y[:16], log_every=5, progress=False)
    assert h.train_loss.shape == (2, len(h.step)) and h.test_loss.shape == (2, len(h.step))
    np.testing.assert_array_equal(h.train_loss[:, -1], h.final_train)
    np.testing.assert_allclose(h.final_test, evaluate(m, x[:16], y[:16]), rtol=1e-12)
    assert h.wall_time_s > 0 and h.engine in ("fused", "eager")


def test_trainer_rejects_bad_input():
    m = BatchedMLP([2], dtype=torch.float64)
    x, y = _data()
    with pytest.raises(ValueError, match="steps"):
        train(m, x, y, steps=-1)
    with pytest.raises(ValueError, match="lr"):
        train(m, x, y, steps=1, lr=float("nan"))
    with pytest.raises(ValueError, match="schedule"):
        train(m, x, y, steps=1, schedule="linear")
    y2 = y.clone()
    y2[3] = float("nan")
    with pytest.raises(ValueError, match="y contains non-finite"):
        train(m, x, y2, steps=1)
    with pytest.raises(ValueError, match="points"):
        train(m, x, y[:10], steps=1)


def test_divergence_is_isolated():
    """A network that blows up does not disturb its neighbours (each has its own gradient)."""
    x, y = _data()
    m = BatchedMLP([3, 3], dtype=torch.float64)
    with torch.no_grad():
        m.group_params(0)[2][1] *= 1e200  # network 1's output weights: overflow
    h = train(m, x, y, steps=10, progress=False)
    assert h.diverged.tolist() == [False, True]
    m_ok = BatchedMLP([3], seeds=[0], dtype=torch.float64)
    h_ok = train(m_ok, x, y, steps=10, progress=False)
    assert h.final_train[0] == pytest.approx(h_ok.final_train[0], rel=1e-10)


def test_tiny_transformer_is_causal_and_trains():
    from scalinglaws.data import addition_problems
    from scalinglaws.models.transformer import TinyTransformer
    from scalinglaws.train import token_cross_entropy, train_tokens

    torch.manual_seed(0)
    model = TinyTransformer(10, 13, d_model=16, n_layers=1, n_heads=2)
    tok = torch.randint(0, 10, (4, 12))
    out = model(tok)
    tok2 = tok.clone()
    tok2[:, 6:] = (tok2[:, 6:] + 1) % 10                      # change the future only
    torch.testing.assert_close(model(tok2)[:, :6], out[:, :6])
    t, m = map(torch.as_tensor, addition_problems(32, seed=0))
    before = token_cross_entropy(model, t, m)
    after = train_tokens(model, t, m, steps=60, batch_size=32, lr=3e-3, warmup_steps=5,
                         progress=False)
    assert after < before - 0.2                               # it learns (memorises) the set
    with pytest.raises(ValueError, match="mask must have shape"):
        train_tokens(model, t, m[:, :-1], steps=1, batch_size=4, lr=1e-3)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TinyTransformer(10, 13, d_model=10, n_heads=3)


def test_learning_rate_schedules_against_hand_computed_values():
    """lr_at: the cosine decays from lr to lr * final_factor (its floor), the exponential decay
    likewise, the warm-up rises linearly; values computed by hand."""
    import math

    from scalinglaws.train import lr_at

    lr, f, T = 1e-2, 1e-3, 101
    assert lr_at(0, T, lr, "cosine", f) == pytest.approx(lr)
    assert lr_at(T - 1, T, lr, "cosine", f) == pytest.approx(lr * f)          # the floor
    assert lr_at(50, T, lr, "cosine", f) == pytest.approx(lr * (f + (1 - f) * 0.5))
    assert lr_at(25, T, lr, "cosine", f) == pytest.approx(
        lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi / 4))))
    assert lr_at(T - 1, T, lr, "exp", f) == pytest.approx(lr * f)
    assert lr_at(50, T, lr, "exp", f) == pytest.approx(lr * math.sqrt(f))
    assert lr_at(70, T, lr, "constant", f) == lr
    assert lr_at(4, T, lr, "cosine", f, warmup=10) == pytest.approx(lr * 5 / 10)
    assert lr_at(T - 1, T, lr, "cosine", f, warmup=10) == pytest.approx(lr * f)
    with pytest.raises(ValueError, match="schedule"):
        lr_at(0, T, lr, "linear", f)
