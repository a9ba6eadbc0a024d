"""Per-example gradients: every op's ``vjp_per_example`` rule against its ``vjp``
rule, and the whole walk against one backward pass per example."""

import numpy as np
import pytest

from certnn import functional as F
from certnn import nn
from certnn.errors import CertnnError
from certnn.ops import all_ops
from certnn.optim.per_example import OuterGrads, batch_unbroadcast, per_example_grads, sq_norms, weighted_sum
from certnn.random import manual_seed
from certnn.tensor import Tensor

RULED = [op for op in all_ops() if op.vjp_per_example is not None]


def test_linear_and_conv2d_have_rules():
    assert {"linear", "conv2d"} <= {op.name for op in RULED}


@pytest.mark.parametrize("op", RULED, ids=lambda o: o.name)
def test_rule_rows_are_single_example_vjps_and_sum_to_the_vjp(op):
    rng = np.random.default_rng(0)
    for s in op.samples(rng):
        xs, attrs = s.inputs, op.normalize(s.attrs)
        if np.ndim(xs[0]) < 2:
            continue                                  # no batch axis to keep
        y = op.real(*xs, **attrs)
        ct = rng.standard_normal(y.shape)
        full = op.vjp(ct, y, *xs, **attrs)
        for i in range(1, len(xs)):
            per = op.vjp_per_example(ct, y, *xs, index=i, **attrs)
            assert per.shape == (xs[0].shape[0],) + xs[i].shape
            np.testing.assert_allclose(per.sum(axis=0), full[i], rtol=1e-10, atol=1e-12)
            for n in range(xs[0].shape[0]):
                one = [x[n:n + 1] if j == 0 else x for j, x in enumerate(xs)]
                yn = op.real(*one, **attrs)
                np.testing.assert_allclose(per[n], op.vjp(ct[n:n + 1], yn, *one, **attrs)[i],
                                           rtol=1e-10, atol=1e-12)


def _loop_grads(model, x, y):
    out = []
    for n in range(len(x)):
        for p in model.parameters():
            p.grad = None
        F.cross_entropy(model(Tensor(x[n:n + 1])), y[n:n + 1]).backward()
        out.append([p.grad.copy() for p in model.parameters()])
    return [np.stack(g) for g in zip(*out)]


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_walk_equals_one_backward_per_example(kind):
    manual_seed(0)
    rng = np.random.default_rng(1)
    if kind == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1, dtype=np.float64), nn.ReLU(),
                              nn.MaxPool2d(2, 1), nn.Conv2d(3, 4, 2, groups=1, dtype=np.float64), nn.Tanh(),
                              nn.Flatten(), nn.Linear(4 * 2 * 2, 5, dtype=np.float64))
        x = rng.standard_normal((6, 1, 7, 7))
    else:
        model = nn.Sequential(nn.Linear(4, 8, dtype=np.float64), nn.GELU(), nn.Linear(8, 3, dtype=np.float64))
        x = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, len(x))
    got = per_example_grads(F.cross_entropy(model(Tensor(x)), y, reduction="none"), model.parameters())
    for g, want in zip(got, _loop_grads(model, x, y)):
        np.testing.assert_allclose(g, want, rtol=1e-9, atol=1e-12)


def test_broadcast_scale_parameter_keeps_the_batch_axis():
    rng = np.random.default_rng(2)
    scale = nn.Parameter(rng.standard_normal((1, 3)))
    x = rng.standard_normal((4, 2, 3))
    losses = F.sum(F.sum(Tensor(x) * scale * Tensor(x), axis=2), axis=1)
    (g,) = per_example_grads(losses, [scale])
    np.testing.assert_allclose(g, (x * x).sum(axis=1)[:, None, :])
    assert batch_unbroadcast(np.ones((4, 3)), (1, 3)).shape == (4, 1, 3)


def test_parameter_reshaped_before_the_batch_is_rejected():
    w = nn.Parameter(np.ones(6))
    x = Tensor(np.ones((2, 2, 3)))
    losses = F.sum(x * F.reshape(w, (2, 3)), axis=(1, 2))
    with pytest.raises(CertnnError, match="reshape"):
        per_example_grads(losses, [w])


def test_op_without_a_rule_is_named():
    manual_seed(0)
    ln = nn.LayerNorm(3, dtype=np.float64)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3)))
    with pytest.raises(CertnnError, match="layer_norm"):
        per_example_grads(F.sum(ln(x), axis=1), ln.parameters())


@pytest.mark.parametrize("shape", [(6, 4), (6, 3, 4)], ids=["batch", "batch-by-time"])
def test_factored_linear_gradients_match_the_dense_ones(shape):
    manual_seed(0)
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(4, 5, dtype=np.float64), nn.Tanh(), nn.Linear(5, 3, dtype=np.float64))
    x = Tensor(rng.standard_normal(shape))
    out = F.reshape(model(x), (shape[0], -1))
    losses = F.sum(out * out, axis=1)
    dense = per_example_grads(losses, model.parameters())
    factored = per_example_grads(losses, model.parameters(), factored=True)
    assert [isinstance(g, OuterGrads) for g in factored] == [True, False, True, False]    # weights only
    f = rng.random(shape[0])
    for d, g in zip(dense, factored):
        np.testing.assert_allclose(sq_norms(g), (d.reshape(len(d), -1) ** 2).sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(weighted_sum(f, g), np.tensordot(f, d, axes=(0, 0)), rtol=1e-12, atol=1e-14)
        if isinstance(g, OuterGrads):
            np.testing.assert_allclose(g.dense(), d, rtol=1e-12, atol=1e-14)


def test_factored_parameter_used_twice_falls_back_to_dense():
    manual_seed(0)
    lin = nn.Linear(3, 3, dtype=np.float64)
    x = Tensor(np.random.default_rng(4).standard_normal((5, 3)))
    losses = F.sum(lin(lin(x)), axis=1)
    for d, g in zip(per_example_grads(losses, lin.parameters()),
                    per_example_grads(losses, lin.parameters(), factored=True)):
        assert not isinstance(g, OuterGrads)
        np.testing.assert_allclose(g, d, rtol=1e-12)
