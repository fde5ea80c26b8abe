"""The L1 optimum: OWL-QN against a lasso solved by proximal gradient, exact zeros and the
optimality residual on networks, the bias option of the proximal step; and the exact SiLU pair."""
import numpy as np
import pytest
import torch

from scalinglaws.data import grid
from scalinglaws.models import BatchedMLP
from scalinglaws.theory import shape_exponents, silu_pair_objective, silu_pair_optimum, silu_quartic_root
from scalinglaws.train import owlqn_polish, proximal_l1, train
from scalinglaws.train.owlqn import _owlqn_group, _pseudo_gradient


def _ista(A, y, mu, iters=20000):
    L = 2 * np.linalg.eigvalsh(A.T @ A / len(y)).max()
    th = np.zeros(A.shape[1])
    for _ in range(iters):
        g = 2 * A.T @ (A @ th - y) / len(y)
        z = th - g / L
        th = np.sign(z) * np.maximum(np.abs(z) - mu / L, 0)
    return th


def test_owlqn_solves_a_batch_of_lassos():
    rng = np.random.default_rng(0)
    G, n, P = 3, 60, 12
    A = rng.normal(size=(G, n, P))
    truth = np.where(rng.random((G, P)) < 0.4, rng.normal(size=(G, P)), 0.0)
    y = np.einsum("gnp,gp->gn", A, truth) + 0.1 * rng.normal(size=(G, n))
    mu = np.array([0.05, 0.2, 0.5])
    At, yt = torch.tensor(A), torch.tensor(y)

    def f_only(th):
        return ((torch.einsum("gnp,gp->gn", At, th) - yt) ** 2).mean(1)

    def f_and_g(th):
        r = torch.einsum("gnp,gp->gn", At, th) - yt
        return (r ** 2).mean(1), 2 * torch.einsum("gnp,gn->gp", At, r) / n

    mask = torch.ones(P, dtype=torch.bool)
    th, stats = _owlqn_group(f_only, f_and_g, torch.zeros(G, P, dtype=torch.float64),
                             torch.tensor(mu)[:, None], mask, 300, 10, 40, 1e-4, 20)
    for g in range(G):
        ref = _ista(A[g], y[g], mu[g])
        assert np.allclose(th[g].numpy(), ref, atol=1e-6)
        assert np.array_equal(th[g].numpy() == 0, np.abs(ref) < 1e-12)   # the same exact zeros
    assert torch.all(stats["residual"] < 1e-6)


def test_pseudo_gradient_is_zero_exactly_at_lasso_optimality():
    th = torch.tensor([[0.0, 1.0, -2.0, 0.0]], dtype=torch.float64)
    g = torch.tensor([[0.3, -0.5, 0.5, 0.7]], dtype=torch.float64)
    mask = torch.tensor([True, True, True, False])
    pg = _pseudo_gradient(th, g, torch.tensor([[0.5]], dtype=torch.float64), mask)
    # |g| <= mu at a zero -> 0; g + mu sign(w) = 0 on the support; the unpenalised coordinate keeps g
    assert torch.allclose(pg, torch.tensor([[0.0, 0.0, 0.0, 0.7]], dtype=torch.float64))


def test_owlqn_polish_lowers_the_objective_of_a_prox_warm_start():
    x = torch.as_tensor(grid(64), dtype=torch.float64)
    mu = np.array([1e-3, 1e-4, 1e-5])
    m = BatchedMLP([24] * 3, activation="silu", seeds=[0, 1, 2], dtype=torch.float64)
    train(m, x, x ** 2, steps=400, lr=1e-2, post_step=proximal_l1(mu), progress=False)

    def objective():
        W1, _, W2, _ = m.group_params(0)
        with torch.no_grad():
            mse = (m(x) - x ** 2).pow(2).mean((1, 2)).numpy()
        return mse + mu * (W1.detach().abs().sum((1, 2)) + W2.detach().abs().sum((1, 2))).numpy()

    before = objective()
    res = owlqn_polish(m, x, x ** 2, mu, iterations=300)
    after = objective()
    assert np.all(after <= before * (1 + 1e-12)) and np.any(after < 0.9 * before)
    assert np.allclose(res.objective, after, rtol=1e-10)
    eager = BatchedMLP([24] * 3, activation="silu", seeds=[0, 1, 2], dtype=torch.float64)
    eager.load_state_dict(m.state_dict())
    r2 = owlqn_polish(eager, x, x ** 2, mu, iterations=5, engine="eager")
    assert np.all(np.isfinite(r2.residual))
    with pytest.raises(ValueError, match="strength"):
        owlqn_polish(m, x, x ** 2, [1e-3, 0.0, 1e-3])


def test_proximal_step_penalises_biases_only_when_asked():
    x = torch.as_tensor(grid(32), dtype=torch.float64)
    for biases in (False, True):
        m = BatchedMLP([8], activation="silu", seeds=[0], dtype=torch.float64)
        train(m, x, x ** 2 + 3.0, steps=300, lr=1e-2, post_step=proximal_l1([10.0], biases=biases),
              progress=False)
        W1, b1, W2, b2 = (p.detach() for p in m.group_params(0))
        assert torch.all(W1 == 0) and torch.all(W2 == 0)
        assert bool(torch.all(b2 == 0)) == biases          # the output bias carries the mean 3.0


def test_silu_pair_closed_form_matches_a_direct_fit():
    from scipy.optimize import minimize

    x = grid(64)[:, 0]
    mu, w, b = 1e-4, 1.3, 0.7
    F, mse, v = silu_pair_objective(w, b, mu, x)
    silu = lambda t: t / (1 + np.exp(-t))  # noqa: E731
    f = silu(w * x + b) + silu(-w * x + b)
    direct = minimize(lambda p: np.mean((p[0] * f + p[1] - x ** 2) ** 2) + mu * (2 * abs(w) + 2 * abs(p[0])),
                      [1.0, 0.0], method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-18, maxiter=20000))
    assert F == pytest.approx(direct.fun, rel=1e-6)


def test_pair_optimum_is_a_network_the_trainer_agrees_with():
    x = grid(128)[:, 0]
    p = silu_pair_optimum(1e-3 / 256, x)
    m = BatchedMLP([2], activation="silu", seeds=[0], dtype=torch.float64)
    W1, b1, W2, b2 = m.group_params(0)
    with torch.no_grad():
        W1[0, 0] = torch.tensor([p["w"], -p["w"]])
        b1[0, 0] = p["b"]
        W2[0, :, 0] = p["v"]
        b2[0, 0, 0] = p["c"]
        mse = float((m(torch.tensor(x)[:, None]) - torch.tensor(x)[:, None] ** 2).pow(2).mean())
    assert mse == pytest.approx(p["mse"], rel=1e-8)
    # far below what the same pair achieves at zero bias (no x^4 cancellation)
    assert p["mse"] < 0.1 * silu_pair_objective(p["w"], 0.0, 1e-3 / 256, x)[1]
    with pytest.raises(ValueError, match="mu"):
        silu_pair_optimum(0.0, x)


def test_quartic_root_cancels_the_x4_term():
    b = silu_quartic_root()
    silu = lambda t: t / (1 + np.exp(-t))  # noqa: E731
    h = 1e-2
    d4 = (silu(b + 2 * h) - 4 * silu(b + h) + 6 * silu(b) - 4 * silu(b - h) + silu(b - 2 * h)) / h ** 4
    assert abs(d4) < 1e-3 and 1.0 < b < 1.1


def test_shape_exponents_recover_synthetic_laws():
    P = np.geomspace(10, 1e4, 30)
    shapes = np.stack([P, 3 * P ** 0.4, 5 * P ** 0.2], 1)
    e = shape_exponents(shapes, n_boot=200)
    assert e["width"][0] == pytest.approx(0.4, abs=1e-9) and e["depth"][0] == pytest.approx(0.2, abs=1e-9)
