"""Training: the PINN loss gradient (through the jet graph) against finite
differences, and a few steps that lower the loss."""

import numpy as np
import pytest

from certnn.errors import CertnnError

from certnn.pinn.problems import get_problem
from certnn.pinn.train import Objective, fit, make_model, sample_points, train


def test_loss_gradient_matches_finite_differences():
    p = get_problem("burgers")
    model, _ = make_model(p, hidden=(5, 4), seed=3)
    interior, faces = sample_points(p, 40, 8, seed=1)
    obj = Objective(p, model, interior, faces)
    theta = obj.get_flat()
    loss, parts, grads = obj.loss_and_grads()
    assert abs(loss - sum(parts)) < 1e-12
    g = obj.flat_grad(grads)
    rng = np.random.default_rng(0)
    for _ in range(3):
        d = rng.normal(size=theta.shape)
        h = 1e-6
        obj.set_flat(theta + h * d)
        lp = obj.loss_and_grads()[0]
        obj.set_flat(theta - h * d)
        lm = obj.loss_and_grads()[0]
        obj.set_flat(theta)
        assert abs((lp - lm) / (2 * h) - g @ d) <= 1e-5 * max(1.0, abs(g @ d))


def test_adam_then_lbfgs_lowers_the_loss(tmp_path):
    p = get_problem("heat")
    model, _ = make_model(p, hidden=(8,), seed=0)
    interior, faces = sample_points(p, 60, 12)
    obj = Objective(p, model, interior, faces)
    history = fit(obj, adam=20, lbfgs=20, lr=1e-2, progress=False)
    assert history[-1] < 0.5 * history[0]
    # rounds=1: no refinement, so the warm start below sees the same collocation points
    info = train(p, tmp_path / "ck", hidden=(4,), points=30, boundary=6, adam=3, lbfgs=3, progress=False, rounds=1)
    assert (tmp_path / "ck" / "checkpoint.json").exists() and info["inputs"] == ["t", "x"]
    # a warm start resumes from the checkpoint's weights (no steps: the same loss) and refuses another architecture
    again = train(p, None, hidden=(4,), points=30, boundary=6, adam=0, lbfgs=0, progress=False, init=tmp_path / "ck")
    assert again["loss"] == info["loss"] and again["init"] == str(tmp_path / "ck")
    with pytest.raises(CertnnError, match="architecture"):
        train(p, None, hidden=(5,), points=30, boundary=6, adam=0, lbfgs=0, progress=False, init=tmp_path / "ck")


def test_latin_hypercube_points_and_residual_based_refinement():
    p = get_problem("burgers")
    interior, faces = sample_points(p, 50, 5, seed=2)
    # a Latin hypercube: every one of the 50 strata of each coordinate holds exactly one point
    for j, (a, b) in enumerate(zip(p.lo, p.hi)):
        assert sorted(np.floor((interior[:, j] - a) / (b - a) * 50).astype(int)) == list(range(50))
    model, _ = make_model(p, hidden=(6, 6), seed=1)
    obj = Objective(p, model, interior, faces)
    rng = np.random.default_rng(0)
    obj.refine(10, rng)
    added = obj.interior[50:]
    assert obj.interior.shape == (60, 2) and np.array_equal(obj.interior[:50], interior)
    # the added points are the pool's worst: their |residual| beats a fresh uniform sample's median
    fresh = np.array(p.lo) + (np.array(p.hi) - np.array(p.lo)) * rng.uniform(size=(500, 2))
    assert np.abs(obj.residual(added)).min() > np.median(np.abs(obj.residual(fresh)))
    # mini-batch Adam leaves the full collocation set in place for L-BFGS
    history = fit(obj, adam=3, lbfgs=2, batch=20, rounds=2, add=5, progress=False)
    assert len(obj.interior) == 65 and len(history) >= 4
