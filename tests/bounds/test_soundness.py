"""Every bound must contain the true outputs: sampled points (box corners,
uniform, ball surface) on every zoo model, each method and norm; and bounds on
models with non-ReLU relaxations and interval fallbacks (max pool, softmax,
layer norm, gelu, a product of two signals)."""

import numpy as np
import pytest

from certnn.bounds import LinearSpec, Region, compute_bounds
from certnn.bounds.net import analyze
from certnn.ir.interpret import evaluate
from certnn.ir.trace import trace as _trace

from ..zoo_models import build_all
from ._models import toy

def trace(module, x):
    return _trace(module, x)[0]


METHODS = ("ibp", "crown", "crown-ibp", "same-slope", "alpha-crown")
MODELS = {name: (m, x) for name, m, x in build_all()}


def _samples(region: Region, rng, k: int) -> np.ndarray:
    """k points per example inside the region, (k, N, *shape)."""
    n, shape = region.n, region.shape
    lo, hi = region.lo, region.hi
    u = rng.random((k, n) + shape)
    pts = lo + u * (hi - lo)
    pts[: k // 4] = np.where(u[: k // 4] < 0.5, lo, hi)  # corners of the box
    if region.norm in ("2", "1"):
        q = {"2": 2, "1": 1}[region.norm]
        d = rng.standard_normal((k, n) + shape) if q == 2 else rng.laplace(size=(k, n) + shape)
        flat = d.reshape(k, n, -1)
        flat /= np.linalg.norm(flat, ord=q, axis=2, keepdims=True)
        r = region.eps * rng.random((k, n, 1)) ** (1 / flat.shape[2])
        r[: k // 2] = region.eps  # the surface of the ball
        pts = np.clip(region.center + (flat * r).reshape(d.shape), lo, hi)
    return pts


def _outputs(graph, pts):
    k, n = pts.shape[:2]
    ys = evaluate(graph, {graph.inputs[0].id: pts.reshape((k * n,) + pts.shape[2:])})[0][0]
    return np.asarray(ys, np.float64).reshape(k, n, -1)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("norm", ["inf", "2", "1"])
def test_bounds_contain_sampled_outputs(name, norm):
    module, x = MODELS[name]
    g = trace(module, x)
    rng = np.random.default_rng(abs(hash((name, norm))) % 2**32)
    eps = {"inf": 0.05, "2": 0.3, "1": 0.5}[norm]
    region = Region.ball(x.astype(np.float64), eps, norm)
    ys = _outputs(g, _samples(region, rng, 400))
    for method in METHODS:
        b = compute_bounds(g, region, method=method, iters=5) if method == "alpha-crown" \
            else compute_bounds(g, region, method=method)
        tol = 1e-9 * (1 + np.abs(ys).max())
        assert np.all(ys >= b.lb[None] - tol), f"{method}: a sampled output lies below the lower bound"
        assert np.all(ys <= b.ub[None] + tol), f"{method}: a sampled output lies above the upper bound"
        assert np.all(b.lb <= b.ub)


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual_bn", "zoo_mlp"])
def test_crown_is_tighter_than_ibp_on_relu_models(name):
    module, x = MODELS[name]
    g = trace(module, x)
    region = Region.ball(x.astype(np.float64), 0.02, "inf")
    i, c = compute_bounds(g, region, method="ibp"), compute_bounds(g, region, method="crown")
    assert np.mean(c.ub - c.lb) < np.mean(i.ub - i.lb)


def test_spec_rows_bound_the_margin():
    module, x = MODELS["zoo_mlp"]
    g = trace(module, x)
    region = Region.ball(x.astype(np.float64), 0.01, "inf", domain=(0, 1))
    y = _outputs(g, x[None].astype(np.float64))[0]
    spec = LinearSpec.robustness(np.argmax(y, axis=1), 10)
    ys = _outputs(g, _samples(region, np.random.default_rng(0), 300))
    margins = np.einsum("nko,sno->snk", spec.C, ys) + spec.d
    for method in METHODS:
        b = compute_bounds(g, region, spec, method=method)
        assert np.all(margins >= b.lb[None] - 1e-9) and np.all(margins <= b.ub[None] + 1e-9)


def test_interval_fallback_nodes_are_reported():
    module, x = MODELS["mixer"]
    b = compute_bounds(trace(module, x), Region.ball(x.astype(np.float64), 0.01, "inf"))
    assert b.interval_nodes  # max, softplus, log_softmax: IBP inside CROWN


def test_relu_only_model_has_no_interval_fallback():
    b = compute_bounds(toy(), Region.box(np.zeros((1, 2)), np.ones((1, 2))))
    assert b.interval_nodes == ()


def test_analysis_classifies_nodes():
    net = analyze(toy())
    assert net.kind == {"h": "affine", "r": "relax", "y": "affine"}
    assert net.need == ["h"] and net.prefix == {"x", "h"}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_pgd_cannot_push_outputs_past_the_bounds(name):
    """PGD attacks every bound directly: the unsafe set is 'some output below its
    lower bound or above its upper bound'. A replayed hit would be unsound."""
    from certnn.verify.attacks import pgd
    module, x = MODELS[name]
    g = trace(module, x)
    region = Region.ball(x.astype(np.float64), 0.05, "inf")
    for method in ("ibp", "crown", "alpha-crown"):
        b = compute_bounds(g, region, method=method, **({"iters": 5} if method == "alpha-crown" else {}))
        n, k = b.lb.shape
        tol = 1e-9 * (1 + np.abs(b.lb).max() + np.abs(b.ub).max())
        eye = np.eye(k)
        C = np.broadcast_to(np.concatenate([eye, -eye])[None], (n, 2 * k, k)).copy()
        # row j: y_j - (lb_j - tol) <= 0 is the violation, likewise for ub
        spec = LinearSpec(C, np.concatenate([-(b.lb - tol), b.ub + tol], axis=1), np.arange(2 * k))
        res = pgd(g, region, spec, steps=15, restarts=2, seed=1)
        assert not res.found_real.any(), f"{method}: PGD pushed an output past its bound"
        assert np.all(res.score > 0)


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual_bn", "zoo_mlp"])
def test_open_rows_only_is_never_looser_than_all_rows(name, monkeypatch):
    """CROWN computes rows only for neurons that may change sign (the others are
    relaxed exactly whatever their bounds): never looser than all rows."""
    import importlib
    crown_mod = importlib.import_module("certnn.bounds.crown")
    module, x = MODELS[name]
    g = trace(module, x)
    region = Region.ball(x.astype(np.float64), 0.05, "inf")
    sparse = compute_bounds(g, region, method="crown")
    used = crown_mod._feeds_only_relus(analyze(g))
    monkeypatch.setattr(crown_mod, "_feeds_only_relus", lambda net: {k: False for k in net.order})
    full = compute_bounds(g, region, method="crown")
    tol = 1e-9 * (1 + np.abs(full.lb).max())
    assert np.all(sparse.lb >= full.lb - tol) and np.all(sparse.ub <= full.ub + tol)
    assert any(used[k] for k in full.intermediate), "the open-rows path was not exercised"
