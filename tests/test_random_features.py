"""Random features, the arc-cosine kernel, the solver, and chapter 2's fast configuration."""
import math

import numpy as np
import pytest
import torch

from scalinglaws.data import RandomFeatureTeacher, load_digits_sphere, sphere
from scalinglaws.models.random_features import (arccos_kernel, kernel_spectrum, relu_features,
                                                spd_solve)


def test_sphere_points_are_unit_and_uniform():
    X = sphere(20000, 4, 0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)
    assert np.abs(X.mean(0)).max() < 0.02
    np.testing.assert_allclose(X.T @ X / len(X), np.eye(4) / 4, atol=0.01)


def test_arccos_kernel_is_the_feature_limit():
    rng = np.random.default_rng(0)
    X = torch.as_tensor(sphere(5, 3, rng))
    W = torch.as_tensor(rng.standard_normal((400000, 3)))
    F = relu_features(X, W)
    mc = F @ F.T / W.shape[0]
    torch.testing.assert_close(mc, arccos_kernel(X, X), atol=5e-3, rtol=0)
    # k(x, x) = |x|^2 and k(x, -x) = 0
    torch.testing.assert_close(torch.diagonal(arccos_kernel(X, X)), torch.ones(5, dtype=X.dtype))
    assert float(arccos_kernel(X[:1], -X[:1])) == pytest.approx(0.0, abs=1e-12)


def test_spd_solve_batched_and_ridge():
    rng = np.random.default_rng(1)
    A = torch.as_tensor(rng.standard_normal((3, 6, 6)))
    A = A @ A.transpose(1, 2) + 0.1 * torch.eye(6)
    B = torch.as_tensor(rng.standard_normal((3, 6, 2)))
    X = spd_solve(A, B, ridge=0.0)
    torch.testing.assert_close(A @ X, B)
    # a singular matrix still solves (with jitter), giving a finite least-norm-like answer
    S = torch.zeros(4, 4, dtype=torch.float64)
    S[0, 0] = 1.0
    assert torch.isfinite(spd_solve(S, torch.ones(4, 1, dtype=torch.float64))).all()


def test_teacher_and_spectrum():
    t = RandomFeatureTeacher.make(4, 2048, 0)
    X = sphere(3000, 4, 1)
    y = t(X)
    assert y.shape == (3000,) and 0.3 < (y ** 2).mean() < 3.0  # E[f^2] = 1 over teachers
    ev = kernel_spectrum(arccos_kernel(torch.as_tensor(X[:1000]), torch.as_tensor(X[:1000]))).numpy()
    assert np.all(np.diff(ev) <= 1e-12) and ev.sum() == pytest.approx(1.0, rel=1e-9)  # trace(K/n) = 1
    # the spectrum decays roughly as i^-2 (1 + alpha_K with alpha_K = 3/(d-1) = 1) on mid ranks
    r = np.arange(1, len(ev) + 1)
    slope = np.polyfit(np.log(r[10:200]), np.log(ev[10:200]), 1)[0]
    assert -2.8 < slope < -1.8


def test_digits_load_without_download():
    X, Y = load_digits_sphere()
    assert X.shape == (1797, 64) and Y.shape == (1797, 10)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)


@pytest.mark.slow
def test_fast_config_other_seeds():
    from scalinglaws.experiments import ch2_explaining as ch2

    r = ch2.run(ch2.Config.fast(seeds=(31, 32, 33)))
    assert abs(r.slope_var_D + 1) <= 0.2 and abs(r.slope_var_P + 1) <= 0.2
    assert abs(r.alpha_D - r.alpha_K) <= 0.35 and abs(r.alpha_P - r.alpha_K) <= 0.35
    assert abs(r.alpha_D - r.alpha_P) < 0.4
    assert np.all(np.diff(r.dim_alpha_D) < 0)
    assert -1.3 <= r.dim_law_slope <= -0.5
