"""The fused engine equals the eager autograd engine for every feature the chapters use."""
import numpy as np
import pytest
import torch

from scalinglaws import fused
from scalinglaws.models import BatchedMLP
from scalinglaws.train import (
    SquaredError,
    chain,
    fused_applicable,
    lbfgs_polish,
    proximal_l1,
    train,
    weighted_mse,
    width_mask,
)


def _data(n=48, d_in=1, d_out=1, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, d_in, generator=g, dtype=torch.float64) * 4 - 2).to(dtype)
    y = (torch.sin(x.sum(1, keepdim=True)).repeat(1, d_out) + x[:, :1] ** 2).to(dtype)
    return x, y


def _pair(widths, dtype=torch.float64, **kw):
    seeds = list(range(10, 10 + len(widths)))
    return (BatchedMLP(widths, seeds=seeds, dtype=dtype, **kw),
            BatchedMLP(widths, seeds=seeds, dtype=dtype, **kw))


def _run_both(widths, x, y, model_kw=None, **train_kw):
    a, b = _pair(widths, **(model_kw or {}))
    post_a = train_kw.pop("post_a", None)
    post_b = train_kw.pop("post_b", None)
    ha = train(a, x, y, engine="fused", progress=False, post_step=post_a and post_a(a), **train_kw)
    hb = train(b, x, y, engine="eager", progress=False, post_step=post_b and post_b(b), **train_kw)
    assert ha.engine == "fused" and hb.engine == "eager"
    return a, b, ha, hb


@pytest.mark.parametrize("act", fused.FUSED_ACTIVATIONS)
def test_gradients_equal_autograd(act):
    """One evaluation of the hand-derived gradients against autograd, float64."""
    torch.manual_seed(0)
    G, n, N, d_in, d_out = 3, 20, 5, 2, 3
    x = torch.randn(n, d_in, dtype=torch.float64)
    ps = [torch.randn(G, d_in, N, dtype=torch.float64), torch.randn(G, 1, N, dtype=torch.float64),
          torch.randn(G, N, d_out, dtype=torch.float64), torch.randn(G, 1, d_out, dtype=torch.float64)]
    y = torch.randn(G, n, d_out, dtype=torch.float64)
    w = torch.rand(G, n, 1, dtype=torch.float64)
    loss, *grads = fused.grads_one_hidden_layer(x, *ps, y, w, act)
    req = [p.clone().requires_grad_(True) for p in ps]
    m = BatchedMLP([N] * G, d_in=d_in, d_out=d_out, activation=act, dtype=torch.float64)
    out = m.group_forward(0, x, req)
    ref = (w * (out - y) ** 2).sum((1, 2))
    ref_g = torch.autograd.grad(ref.sum(), req)
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=0)
    for a, b in zip(grads, ref_g):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("act", ["silu", "relu", "leaky_relu", "tanh"])
def test_training_equals_eager_float64(act):
    x, y = _data()
    a, b, ha, hb = _run_both([1, 1, 1, 3, 8, 8, 32], x, y, model_kw={"activation": act}, steps=60,
                             lr=1e-2, x_test=x[:10], y_test=y[:10])
    np.testing.assert_allclose(ha.final_train, hb.final_train, rtol=1e-6)
    np.testing.assert_allclose(ha.train_loss, hb.train_loss, rtol=1e-6)
    np.testing.assert_allclose(ha.final_test, hb.final_test, rtol=1e-6)


def test_multi_io_weighted_loss_and_prox_l1_and_masks_float64():
    """The chapter-1 features: two inputs and outputs, per-network output weights, the exact
    proximal L1 step and width masks, all in one run."""
    x, y = _data(d_in=2, d_out=2)
    M = 4
    w = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.7, 0.3]], dtype=torch.float64)
    post = lambda m: chain(proximal_l1(np.full(M, 1e-3)), width_mask(m, [3, 6, 8, 8]))  # noqa: E731
    a, b, ha, hb = _run_both([8] * M, x, y, model_kw={"d_in": 2, "d_out": 2}, steps=80, lr=1e-2,
                             loss_fn=weighted_mse(w), post_a=post, post_b=post)
    np.testing.assert_allclose(ha.final_train, hb.final_train, rtol=1e-6)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-9)
        assert torch.equal(p == 0, q == 0)  # the same weights are exactly zero


def test_per_network_targets_and_point_weights_float64():
    """The chapter-0 loss: each network has its own teacher and input frequencies."""
    K = 12
    x = torch.eye(K, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    Y = torch.randn(3, K, K, generator=g, dtype=torch.float64)
    P = torch.softmax(torch.randn(3, K, generator=g, dtype=torch.float64), -1)
    seed_of = torch.tensor([0, 0, 1, 2, 2])
    loss = SquaredError(point_weights=P, target_index=seed_of)
    a, b, ha, hb = _run_both([2, 4, 4, 9, 9], x, Y, model_kw={"d_in": K, "d_out": K}, steps=60,
                             lr=1e-2, loss_fn=loss)
    np.testing.assert_allclose(ha.final_train, hb.final_train, rtol=1e-6)


def test_large_groups_are_chunked_and_still_equal():
    x, y = _data(n=64)
    G = 2 * fused.CHUNK_ELEMENTS // (64 * 256) + 1
    a, b, ha, hb = _run_both([256] * G, x, y, steps=3, lr=1e-3)
    assert len(fused.chunks(G, 64, 256)) >= 3
    np.testing.assert_allclose(ha.final_train, hb.final_train, rtol=1e-9)


def test_lbfgs_polish_equal():
    x, y = _data()
    a, b = _pair([2, 2, 4])
    ia = lbfgs_polish(a, x, y, iterations=30, engine="fused")
    ib = lbfgs_polish(b, x, y, iterations=30, engine="eager")
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ia, ib)


def test_float32_within_stated_tolerance():
    """float32: the two engines sum in different orders, so trajectories separate by rounding;
    after 200 steps the final losses agree to 1e-3 relative (the bench's agreement check)."""
    x, y = _data(dtype=torch.float32)
    a, b, ha, hb = _run_both([4, 16, 64], x, y, model_kw={"dtype": torch.float32}, steps=200,
                             lr=1e-2)
    np.testing.assert_allclose(ha.final_train, hb.final_train, rtol=1e-3)


def test_engine_choice_and_errors():
    deep = BatchedMLP([4], depth=2, dtype=torch.float64)
    assert not fused_applicable(deep, SquaredError())
    x, y = _data()
    with pytest.raises(ValueError, match="fused"):
        train(deep, x, y, steps=1, engine="fused", progress=False)
    assert train(deep, x, y, steps=1, progress=False).engine == "eager"
    with pytest.raises(ValueError, match="engine"):
        train(BatchedMLP([2]), x, y, steps=1, engine="turbo", progress=False)


def test_fallback_when_disabled(monkeypatch):
    monkeypatch.setenv(fused.FUSED_ENV, "0")
    x, y = _data()
    assert train(BatchedMLP([3], dtype=torch.float64), x, y, steps=2, progress=False).engine == "eager"


def test_fallback_when_compilation_fails(monkeypatch):
    """A machine without a working compiler: a warning per backend, then the eager path, same
    numbers."""
    broken = fused._Compiled()

    def no_compiler(*a, **k):
        raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found")

    broken.fn = no_compiler
    no_kernel = fused._CpuKernel()
    monkeypatch.setattr(no_kernel, "_load", lambda: no_compiler())
    monkeypatch.setattr(fused, "compiled_grads", broken)
    monkeypatch.setattr(fused, "cpu_kernel", no_kernel)
    x, y = _data()
    a, b = _pair([3, 5])
    with pytest.warns(RuntimeWarning, match="unavailable"):
        ha = train(a, x, y, steps=20, progress=False)
    hb = train(b, x, y, steps=20, engine="eager", progress=False)
    assert ha.engine == "eager" and not broken.enabled()
    np.testing.assert_array_equal(ha.final_train, hb.final_train)


def test_compile_backend_equals_eager(monkeypatch):
    """The torch.compile backend (CUDA's, and the CPU's for wide groups) on the CPU."""
    monkeypatch.setenv(fused.BACKEND_ENV, "compile")
    x, y = _data()
    a, b, ha, hb = _run_both([1, 2, 8, 8], x, y, steps=40, lr=1e-2)
    np.testing.assert_allclose(ha.final_train, hb.final_train, rtol=1e-6)


def test_cpu_kernel_is_built_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_KERNEL_DIR", str(tmp_path))
    k = fused._CpuKernel()
    assert k.available() and k.build_seconds > 0 and k.supports(1, 1, "silu") and k.supports(5, 1, "relu")
    assert not k.supports(9, 1, "relu") and not k.supports(5, 1, "tanh")
    k2 = fused._CpuKernel()
    assert k2.available() and k2.build_seconds == 0  # loaded from the cache
    assert len(list(tmp_path.glob("fused_mlp1-*.so"))) == 1
