"""The backward-pass error budget: its bound holds for the binary32 backward
executor against the real gradient (op-table vjps in float64) at points of the
box, for MLPs with relu/tanh/sigmoid and cross_entropy/mse losses or a seeded
cotangent, in both orders; a relu whose pre-activation lands on different sides
of 0 in the two semantics is covered; unsupported graphs and bad arguments are
errors."""

import numpy as np
import pytest

from certnn import nn, zoo
from certnn.ir.compile import compile
from certnn.errors import CertnnError, UnsupportedOp
from certnn.error_budget.gradient import backward_binary32, backward_real, grad_budget
from certnn.random import manual_seed


def _mlp(act):
    manual_seed(3)
    return nn.Sequential(nn.Linear(12, 16), act(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4)).eval()


def _targets(loss, rng, n):
    if loss == "cross_entropy":
        return rng.integers(0, 4, n)
    return rng.standard_normal((n, 4)).astype(np.float32)


def _measure(g, x, order, **kw):
    kernel_order = "sequential" if order == "sequential" else "pairwise"
    g32 = backward_binary32(g, x, order=kernel_order, **kw)
    gr = backward_real(g, x, **kw)
    return {k: np.abs(g32[k].astype(np.float64) - gr[k]) for k in gr}, gr


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid], ids=["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("order", ["sequential", "any"])
def test_bound_holds_at_points_of_the_box(act, loss, order):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 12)).astype(np.float32)
    g = compile(_mlp(act), x).graph
    t = _targets(loss, rng, 6)
    for eps in (0.0, 0.02):
        lo, hi = x.astype(np.float64) - eps, x.astype(np.float64) + eps
        b = grad_budget(g, lo, hi, loss=loss, target=t, order=order)
        assert set(b.bound) == {"x"} | {n.id for n in g.params}
        for trial in range(8):
            p = (x if trial == 0 else rng.uniform(lo, hi)).astype(np.float32)
            diff, gr = _measure(g, p, order, loss=loss, target=t)
            for k, d in diff.items():
                assert np.all(np.isfinite(b.bound[k]))
                assert np.all(d <= b.bound[k] + 1e-12 * np.abs(gr[k])), (k, float(np.max(d - b.bound[k])))
                assert np.all((b.lo[k] - 1e-12 <= gr[k]) & (gr[k] <= b.hi[k] + 1e-12)), k


def test_seeded_cotangent_and_mnist_mlp_ratio():
    rng = np.random.default_rng(1)
    manual_seed(0)
    x = rng.random((16, 784)).astype(np.float32)
    g = compile(zoo.mlp(784, [32], 10).eval(), x).graph
    seed = rng.standard_normal((16, 10)).astype(np.float32)
    b = grad_budget(g, x, x, seed=seed)
    diff, _ = _measure(g, x, "sequential", seed=seed)
    for k, d in diff.items():
        assert np.all(d <= b.bound[k]), k
        assert 0 < d.max() and b.bound[k].max() / d.max() < 1e5   # sound, and not vacuous


def test_relu_sign_flip_between_semantics_is_covered():
    """z = x1 w1 + x2 w2 with real value 2^-46 > 0 but binary32 value 0: the real
    relu' is 1, the binary32 one 0, so the weight gradients differ by |g|."""
    a = 1 + 2.0 ** -23
    lin1, lin2 = nn.Linear(2, 1, bias=False), nn.Linear(1, 1, bias=False)
    lin1.weight.data[...] = np.array([[a, 1 + 2.0 ** -22]], np.float32)
    lin2.weight.data[...] = np.array([[1.0]], np.float32)
    m = nn.Sequential(lin1, nn.ReLU(), lin2).eval()
    x = np.array([[a, -1.0]], np.float32)
    g = compile(m, x).graph
    seed = np.array([[1.0]], np.float32)
    b = grad_budget(g, x, x, seed=seed)
    diff, gr = _measure(g, x, "sequential", seed=seed)
    w1 = g.params[0].id
    assert diff[w1].max() >= 1.0                       # the gradients really differ by |g|
    assert np.all(diff[w1] <= b.bound[w1]) and b.bound[w1].max() < 2 * diff[w1].max()


def test_unsupported_graphs_and_bad_arguments():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 8)).astype(np.float32)
    g = compile(nn.Sequential(nn.Linear(8, 4), nn.GELU(), nn.Linear(4, 2)).eval(), x).graph
    with pytest.raises(UnsupportedOp, match="gelu"):
        grad_budget(g, x, x, seed=np.ones((3, 2), np.float32))
    g = compile(_mlp(nn.ReLU), rng.standard_normal((3, 12)).astype(np.float32)).graph
    x = np.zeros((3, 12), np.float32)
    with pytest.raises(CertnnError, match="exactly one"):
        grad_budget(g, x, x)
    with pytest.raises(CertnnError, match="needs target"):
        grad_budget(g, x, x, loss="mse")
    with pytest.raises(CertnnError, match="loss must be"):
        grad_budget(g, x, x, loss="hinge", target=np.zeros(3))
    with pytest.raises(CertnnError, match="infinite"):
        grad_budget(g, x - np.inf, x, seed=np.ones((3, 4), np.float32))


def test_cli_gradient_rows():
    """The rows behind `certnn float error-budget --grad`: one per source, bound holds."""
    from certnn.error_budget.report import grad_rows
    rng = np.random.default_rng(4)
    manual_seed(1)
    x = rng.random((8, 784)).astype(np.float32)
    g = compile(zoo.mlp(784, [16], 10).eval(), x).graph
    rows = grad_rows(g, x, rng.integers(0, 10, 8), eps=0.01)
    assert {r["source"] for r in rows} == {"x"} | {n.id for n in g.params}
    assert all(r["holds"] and r["max_bound"] >= r["max_measured"] > 0 for r in rows)
