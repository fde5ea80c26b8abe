"""Percolation data, tree nearest neighbours, the theory, and chapter 5's fast configuration."""
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from scalinglaws.data.percolation import (
    borel_log_pmf,
    brownian_targets,
    fit_fisher_tau,
    lattice_cluster_sizes,
    make_forest,
    n_clusters_for,
    random_critical_tree,
    sample_cluster_sizes,
    size_ccdf_exponent,
)
from scalinglaws.models.tree_nn import (
    INF,
    STEP,
    nn_keys,
    nn_keys_torch,
    nn_predict,
    nn_predict_at,
    nn_predict_thresholds,
)
from scalinglaws.theory import PercolationScaling


@pytest.mark.parametrize("s", [1, 2, 7, 100, 5000])
def test_tree_sampler_returns_valid_trees(s):
    rng = np.random.default_rng(s)
    for _ in range(5):
        parent, depth = random_critical_tree(s, rng)
        assert parent[0] == -1 and np.sum(parent == -1) == 1           # one root
        assert np.all(parent[1:] < np.arange(1, s))                     # BFS order: parent first
        assert np.all(depth[1:] == depth[parent[1:]] + 1)                # depths consistent
        assert np.all(np.diff(depth) >= 0)
        if s > 1:                                                        # s - 1 edges, connected
            g = coo_matrix((np.ones(s - 1), (np.arange(1, s), parent[1:])), shape=(s, s))
            assert connected_components(g, directed=False)[0] == 1


def test_borel_law_and_sampler():
    s = np.arange(1, 200000)
    assert np.exp(borel_log_pmf(s)).sum() == pytest.approx(1.0, abs=2e-3)   # tail ~ 2/sqrt(2 pi s)
    big = np.array([1e4, 1e5])
    np.testing.assert_allclose(np.exp(borel_log_pmf(big)), big ** -1.5 / np.sqrt(2 * np.pi), rtol=1e-3)
    rng = np.random.default_rng(0)
    sizes = sample_cluster_sizes(20000, 30, 300000, rng)
    assert sizes.min() >= 30 and sizes.max() <= 300000
    assert 2.0 - size_ccdf_exponent(sizes, 30, 1e4) == pytest.approx(2.5, abs=0.03)
    assert n_clusters_for(300, 30_000_000) == 316 and n_clusters_for(30, 300_000) == 100


def _forest(seed=0, sizes=(1, 2, 5, 40, 120, 300)):
    rng = np.random.default_rng(seed)
    f = make_forest(np.array(sizes), rng)
    return f, rng


def test_forest_layout():
    f, _ = _forest()
    assert f.n == 468 and list(f.sizes) == [300, 120, 40, 5, 2, 1]
    ch = f.parent >= 0
    assert np.all(f.depth[ch] == f.depth[f.parent[ch]] + 1)
    assert np.all(f.cluster[ch] == f.cluster[f.parent[ch]])
    for lo, hi in f.levels():
        assert np.all(f.depth[lo:hi] == f.depth[lo]) and np.all(np.diff(f.parent[lo:hi]) >= 0)
    assert np.bincount(f.cluster).tolist() == [300, 120, 40, 5, 2, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tree_nn_equals_brute_force(seed):
    f, rng = _forest(seed)
    train = rng.random(f.n) < 0.08
    key = nn_keys(f, train)
    ch = np.flatnonzero(f.parent >= 0)
    D = shortest_path(coo_matrix((np.ones(len(ch)), (ch, f.parent[ch])), shape=(f.n, f.n)),
                      directed=False, unweighted=True)
    tr = np.flatnonzero(train)
    for v in range(f.n):
        d = D[v, tr]
        if np.isfinite(d).any():
            m = d.min()
            assert key[v] >> 32 == m and key[v] & (STEP - 1) == tr[d == m].min()
        else:
            assert key[v] >= INF
    y = brownian_targets(f, rng)
    pred = nn_predict(f, y, train)
    assert np.all(pred[train] == y[train])            # distance 0: no shrinkage
    no_train = np.bincount(f.cluster[train], minlength=len(f.sizes)) == 0
    assert np.all(pred[no_train[f.cluster]] == 0.0)   # clusters without training data predict 0


def test_torch_equals_numpy():
    f, rng = _forest(5, sizes=(2000, 800, 300, 30))
    masks = rng.random((4, f.n)) < np.array([[0.001], [0.01], [0.1], [0.5]])
    kt = nn_keys_torch(f, masks).numpy()
    for b in range(4):
        np.testing.assert_array_equal(kt[b], nn_keys(f, masks[b]))
    y = brownian_targets(f, rng)
    at = np.arange(0, f.n, 7)
    got = nn_predict_at(f, y, masks, at, max_bytes=1)          # batch of one mask at a time
    for b in range(4):
        np.testing.assert_array_equal(got[b], nn_predict(f, y, masks[b])[at])


@pytest.mark.parametrize("kernel", ["1", "0"])
def test_thresholds_equal_masks(kernel, monkeypatch):
    """The streamed training sets (score < threshold of the node's cluster, not excluded) give
    the predictions of the same sets as masks: the C++ kernel (blocks of 4 and single sets, two
    threads) and the chunked torch path alike, with a brute-force check on one set."""
    monkeypatch.setenv("BOOK_TREE_KERNEL", kernel)
    f, rng = _forest(7, sizes=(3000, 900, 300, 40, 3))
    y = brownian_targets(f, rng)
    score = rng.random(f.n)
    excluded = rng.random(f.n) < 0.05
    thresh = rng.random((6, len(f.sizes))) * np.array([[0.0], [0.002], [0.02], [0.2], [0.7], [1.1]])
    at = np.flatnonzero(excluded)
    got = nn_predict_thresholds(f, y, score, excluded, thresh, at, threads=2, max_bytes=1)
    masks = (score[None, :] < thresh[:, f.cluster]) & ~excluded[None, :]
    np.testing.assert_array_equal(got, nn_predict_at(f, y, masks, at))
    np.testing.assert_array_equal(got[0], 0.0)                    # no training site anywhere
    np.testing.assert_array_equal(got[3], nn_predict(f, y, masks[3])[at])


def test_thresholds_reject_bad_input():
    f, rng = _forest(8, sizes=(50, 20))
    y = brownian_targets(f, rng)
    with pytest.raises(ValueError, match="one column per cluster"):
        nn_predict_thresholds(f, y, rng.random(f.n), np.zeros(f.n, bool), np.ones((2, 3)), [0])
    with pytest.raises(ValueError, match="shape"):
        nn_predict_thresholds(f, y, rng.random(f.n - 1), np.zeros(f.n, bool), np.ones((2, 2)), [0])


def test_targets_are_standardised():
    f, rng = _forest(1, sizes=(500, 200, 50))
    y = brownian_targets(f, rng)
    for k in range(3):
        assert y[f.cluster == k].mean() == pytest.approx(0, abs=1e-12)
        assert y[f.cluster == k].std() == pytest.approx(1, abs=1e-12)


def test_theory_values():
    t = PercolationScaling()
    assert t.alpha == pytest.approx(1.0) and t.b == pytest.approx(-1 / 3)
    assert t.alpha_data == pytest.approx(0.5)
    assert t.model_exponent() == 0.5 and t.data_exponent() == 0.5
    # values quoted in the notes from the paper's code (2 %)
    np.testing.assert_allclose(t.model_loss([1, 1e3, 3e4]), [1, 0.133, 0.0287], rtol=0.02)
    np.testing.assert_allclose(t.data_loss([1, 1e3, 3e4]), [1, 0.141, 0.0355], rtol=0.02)
    assert t.k_break(500)[0] == pytest.approx(58.04, rel=1e-3)
    assert np.all(np.diff(t.n_of_kbr(np.geomspace(1.01, 1e6, 50))) > 0)
    # the data curve equals a direct numerical integral of p(k) min(1, (D p(k))^-c/D)
    k = np.geomspace(1, 1e14, 400001)
    p = k ** -2.0
    D = 1e3
    num = np.trapezoid(p * np.minimum(1, (D * p) ** -0.5), k)
    assert t.data_loss([D])[0] == pytest.approx(num, rel=1e-3)
    # quanta regime: c/D large -> exponents alpha and alpha/(1+alpha)
    q = PercolationScaling(c=80)
    assert q.model_exponent() == 1.0 and q.data_exponent() == 0.5
    # the discrete allocation spends exactly N
    assert t.allocation(100, 100, discrete=True).sum() == pytest.approx(100, rel=1e-9)
    with pytest.raises(ValueError, match="tau"):
        PercolationScaling(tau=3.5)


def test_lattice_tau_2d():
    rng = np.random.default_rng(0)
    sizes = np.concatenate([lattice_cluster_sizes(1024, 2, 0.59274621, rng) for _ in range(3)])
    assert fit_fisher_tau(sizes) == pytest.approx(187 / 91, abs=0.15)


@pytest.mark.slow(chapter="ch5_data_distribution")
def test_fast_config_other_seeds():
    from scalinglaws.claims import assert_verdicts
    from scalinglaws.experiments import ch5_data_distribution as ch5

    cfg = ch5.Config.fast(seeds=tuple(range(1000, 1016)), lattice_reps=0)
    assert_verdicts(ch5.claims(ch5.run(cfg), cfg))


def test_finite_k_theory():
    """The finite-K prediction: exactly N DOF spent, clusters capped, unlearned clusters at 1."""
    t = PercolationScaling()
    w = np.full(10, 0.1)
    assert t.finite_model_loss([1.0], w)[0] == pytest.approx(1.0)
    # a large budget learns every cluster: the loss is the weighted per-cluster law
    big = t.finite_model_loss([1e6], w)[0]
    assert big == pytest.approx(w @ t.cluster_loss(t.allocation(1e6, 10, discrete=True)))
    capped = t.finite_model_loss([1e6], w, dof_cap=np.full(10, 4.0))[0]
    assert capped == pytest.approx(0.5)          # 4 DOF each: loss 4^-1/2
    d = t.finite_data_loss([100.0], w, np.full(10, 0.1))
    assert d[0] == pytest.approx(10 ** -0.5)       # 10 DOF each
    assert t.n_at_kbr(100) == pytest.approx(t.n_of_kbr(np.array([100.0]))[0])


def test_curve_losses_reads_each_clusters_curve():
    from scalinglaws.experiments.ch5_data_distribution import curve_losses

    n = np.array([[1.0, 10.0, 100.0]])
    L = np.array([[1.0, 0.5, 0.2]])
    got = curve_losses(n, L, np.array([[0.0], [10.0], [400.0]]))
    np.testing.assert_allclose(got[:, 0], [1.0, 0.5, 0.1])  # none, on the curve, slope -1/2 beyond
