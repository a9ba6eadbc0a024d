"""PGD and random search: counterexamples are inside the region and replay in
the semantics they are reported for; attacks never beat a sound bound; verified
accuracy <= PGD accuracy."""

import numpy as np
import pytest

from certnn.bounds import LinearSpec, Region, compute_bounds
from certnn import run
from certnn.verify.attacks import pgd, random_search, violation_score
from certnn.verify.robustness import verify_robustness

from certnn import nn
from certnn.ir import trace
from certnn.ir.passes import optimize

from ._models import mlp_graph, toy_graph, toy_region, toy_spec


def test_violation_score_matches_violated():
    rng = np.random.default_rng(0)
    spec = LinearSpec.unsafe_set([(rng.normal(size=(2, 3)), rng.normal(size=2)),
                                  (rng.normal(size=(1, 3)), rng.normal(size=1))], n=500)
    y = rng.normal(size=(500, 3)) * 3
    assert np.array_equal(violation_score(spec, y) <= 0, spec.violated(y))


def test_pgd_finds_the_toy_minimum_and_respects_the_bound():
    g, region = toy_graph(), toy_region()
    # true range of y on the box, by a dense grid
    a, b = np.meshgrid(np.linspace(-1, 2, 301), np.linspace(-2, 1, 301))
    pts = np.stack([a.ravel(), b.ravel()], 1)
    y = np.asarray(run(g, pts)).ravel()
    ymin = y.min()
    # the spec "y - (ymin + 0.5) > 0" is false: PGD must find y <= ymin + 0.5
    res = pgd(g, region, toy_spec(-(ymin + 0.5)), steps=30, restarts=3)
    assert res.found_real[0] and res.found_binary32[0]
    assert region.contains(res.x).all()
    assert float(np.asarray(run(g, res.x)).ravel()[0]) <= ymin + 0.5
    # "y - (ymin - 0.1) > 0" holds everywhere: CROWN's lower bound need not prove it,
    # but no attack may claim a counterexample
    res = pgd(g, region, toy_spec(-(ymin - 0.1)), steps=30, restarts=3)
    assert not res.found[0]
    assert res.score[0] >= 0.1 - 1e-12


@pytest.mark.parametrize("norm", ["inf", "2", "1"])
def test_pgd_counterexamples_replay_and_stay_in_the_ball(norm):
    g, _ = mlp_graph(seed=3)
    rng = np.random.default_rng(1)
    x = np.clip(rng.normal(0, 3, size=(40, 6)), -5, 5)
    labels = np.argmax(np.asarray(run(g, x)).reshape(40, -1), axis=1)
    eps = {"inf": 1.5, "2": 3.0, "1": 5.0}[norm]
    region = Region.ball(x, eps, norm, domain=(-5.0, 5.0))
    spec = LinearSpec.robustness(labels, 3)
    res = pgd(g, region, spec, steps=25, restarts=2)
    assert res.found_real.any(), "large balls on a random net hold adversarial points"
    assert region.contains(res.x).all()
    assert region.contains(res.x_binary32.astype(np.float64)).all()
    assert res.x_binary32.dtype == np.float32
    y = np.asarray(run(g, res.x)).reshape(40, -1)
    assert np.array_equal(res.found_real, spec.violated(y))
    y32 = np.asarray(run(g, res.x_binary32, semantics="binary32")).reshape(40, -1)
    assert np.array_equal(res.found_binary32, spec.violated(y32.astype(np.float64)))
    # gradient steps do at least as well as the clean point
    clean = violation_score(spec, np.asarray(run(g, x)).reshape(40, -1))
    assert np.all(res.score <= clean + 1e-12)
    # a sound bound is never beaten
    b = compute_bounds(g, region, spec, method="crown")
    assert np.all(b.lb.min(axis=1) <= res.score + 1e-9)


def test_random_search_replays():
    g, _ = mlp_graph(seed=4)
    x = np.random.default_rng(3).normal(0, 3, size=(3, 6))
    labels = np.argmax(np.asarray(run(g, x)).reshape(3, -1), axis=1)
    region = Region.ball(x, 2.0, "inf")
    spec = LinearSpec.robustness(labels, 3)
    res = random_search(g, region, spec, samples=500, seed=0)
    assert region.contains(res.x).all()
    y = np.asarray(run(g, res.x)).reshape(3, -1)
    assert np.array_equal(res.found_real, spec.violated(y))


def test_face_samples_find_a_violation_only_at_a_corner():
    """y = x0 + x1 + x2 on [0, 1]^3 is unsafe only where y >= 2.999: a corner
    region of volume 2e-10 that uniform samples miss and face samples hit."""
    m = nn.Sequential(nn.Linear(3, 1, bias=False)).eval()
    m.load_state_dict({"0.weight": np.ones((1, 3), np.float32)})
    g, _ = trace(m, np.zeros((1, 3), np.float32))
    g = optimize(g)
    region = Region.box(np.zeros((1, 3)), np.ones((1, 3)))
    spec = LinearSpec(np.array([[[-1.0]]]), np.array([[2.999]]), np.array([0]))   # safe: 2.999 - y > 0
    plain = random_search(g, region, spec, samples=3000, seed=0, chunk=1000)
    faces = random_search(g, region, spec, samples=3000, seed=0, chunk=1000, faces=0.5)
    assert not plain.found_real[0]
    assert faces.found_real[0] and region.contains(faces.x).all()
    assert float(np.asarray(run(g, faces.x)).ravel()[0]) >= 2.999


@pytest.mark.parametrize("semantics", ["real", "binary32"])
def test_verified_accuracy_never_exceeds_pgd_accuracy(semantics):
    g, _ = mlp_graph(seed=5, sizes=(6, 16, 16, 3))
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, size=(60, 6))
    labels = np.argmax(np.asarray(run(g, x)).reshape(60, -1), axis=1)
    labels[:5] = (labels[:5] + 1) % 3  # a few misclassified examples
    for eps in (0.05, 0.3, 1.0):
        s = verify_robustness(g, x, labels, eps, "inf", "crown", semantics, domain=None).summary()
        assert s["verified_accuracy"] <= s["pgd_accuracy"] <= s["clean_accuracy"] <= 55 / 60
