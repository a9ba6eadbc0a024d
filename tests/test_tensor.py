"""The eager tape: broadcasting, accumulation, no_grad, kink conventions, and a
float64 central-difference check of every parameter of the MNIST MLP."""

import numpy as np
import pytest

from certnn import Tensor, no_grad
from certnn import functional as F
from certnn.errors import ShapeError


def test_broadcast_gradients_are_summed_back():
    a = Tensor(np.ones((3, 4)), requires_grad=True)
    b = Tensor(np.arange(4.0), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 4) and b.grad.shape == (4,)
    np.testing.assert_array_equal(b.grad, [3.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(a.grad, np.tile(np.arange(4.0), (3, 1)))


def test_value_used_twice_accumulates():
    x = Tensor(np.array([2.0, -1.0]), requires_grad=True)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data + 1)
    y2 = (x * 3.0).sum()
    y2.backward()  # .grad accumulates like PyTorch
    np.testing.assert_array_equal(x.grad, 2 * x.data + 1 + 3)


def test_no_grad_records_nothing():
    x = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert y.node is None and not y.requires_grad


def test_scalar_mixing_keeps_dtype():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = 2.0 * x + 1 - x / 3
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_backward_needs_scalar_or_grad():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ShapeError, match="scalar"):
        (x * 2.0).backward()
    with pytest.raises(ShapeError, match="gradient shape"):
        (x * 2.0).backward(np.ones(4))


@pytest.mark.parametrize("fn,x0,expected", [
    (F.relu, 0.0, 0.0),
    (F.abs, 0.0, 0.0),
    (lambda t: F.leaky_relu(t, 0.2), 0.0, 0.2),
])
def test_kink_convention_unary(fn, x0, expected):
    x = Tensor(np.array([x0]), requires_grad=True)
    fn(x).sum().backward()
    assert x.grad[0] == expected


def test_kink_convention_ties_split_evenly():
    a = Tensor(np.array([1.0]), requires_grad=True)
    b = Tensor(np.array([1.0]), requires_grad=True)
    F.maximum(a, b).sum().backward()
    assert a.grad[0] == 0.5 and b.grad[0] == 0.5
    x = Tensor(np.array([[3.0, 1.0, 3.0, 3.0]]), requires_grad=True)
    F.max(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[1 / 3, 0, 1 / 3, 1 / 3]])
    p = Tensor(np.array([[[[2.0, 2.0], [0.0, 1.0]]]]), requires_grad=True)
    F.max_pool2d(p, 2).sum().backward()
    np.testing.assert_allclose(p.grad, [[[[0.5, 0.5], [0.0, 0.0]]]])


def _mlp_problem():
    from certnn.random import manual_seed
    from certnn.zoo import mlp
    manual_seed(0)
    m = mlp(784, [128], 10).to(np.float64)
    rng = np.random.default_rng(0)
    x = rng.random((4, 784))
    y = rng.integers(0, 10, 4)
    m.zero_grad()
    F.cross_entropy(m(Tensor(x)), y).backward()
    return m, x, y


def test_mnist_mlp_gradient_every_parameter_entry():
    """Full-model check (float64) of the 784-128-10 MLP with cross-entropy: the
    autograd gradient of EVERY one of the 101,770 parameter entries against a
    central difference of the loss. Entries of the second layer are perturbed one
    by one through the whole model. For the first layer, z = x W1^T + b1 is linear
    in (W1, b1), so perturbing W1[r, c] by h moves z[:, r] by exactly h x[:, c]: the
    perturbed first-layer outputs for all 785 entries of a row are stacked on a
    leading axis and pushed through the model's own remaining layers at once."""
    m, x, y = _mlp_problem()
    h = 1e-6
    n = len(y)
    params = dict(m.named_parameters())
    assert sum(p.data.size for p in params.values()) == 101770
    worst = 0.0
    with no_grad():
        xt = Tensor(x)
        for name in ("2.weight", "2.bias"):
            p = params[name]
            for idx in np.ndindex(p.shape):
                old = p.data[idx]
                p.data[idx] = old + h
                lp = float(F.cross_entropy(m(xt), y).data)
                p.data[idx] = old - h
                lm = float(F.cross_entropy(m(xt), y).data)
                p.data[idx] = old
                worst = max(worst, abs((lp - lm) / (2 * h) - p.grad[idx]))
        z = m[0](xt).data                                   # (n, 128)
        deltas = np.concatenate([x.T, np.ones((1, n))])     # (785, n): d z[:, r] / d (W1[r, :], b1[r])
        yy = np.tile(y, len(deltas))
        for r in range(z.shape[1]):
            def loss_rows(sign):
                zz = np.broadcast_to(z, (len(deltas), n, z.shape[1])).copy()
                zz[:, :, r] += sign * h * deltas
                logits = m[2](m[1](Tensor(zz.reshape(-1, z.shape[1]))))
                per = F.cross_entropy(logits, yy, reduction="none").data.reshape(len(deltas), n)
                return per.mean(axis=1)
            fd = (loss_rows(+1) - loss_rows(-1)) / (2 * h)
            auto = np.concatenate([params["0.weight"].grad[r], params["0.bias"].grad[r:r + 1]])
            worst = max(worst, float(np.max(np.abs(fd - auto))))
    assert worst <= 1e-8, worst


def test_skipped_input_cotangents_do_not_change_parameter_gradients():
    """linear and conv2d skip the cotangent of an input that needs none (the
    ``needs`` protocol); parameter gradients must be the same either way."""
    from certnn import nn
    from certnn.random import manual_seed
    manual_seed(3)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    grads = []
    for needs_x in (False, True):
        m.zero_grad()
        xt = Tensor(x, requires_grad=needs_x)
        F.sum(m(xt) * Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))).backward()
        grads.append([p.grad.copy() for p in m.parameters()])
        assert (xt.grad is not None) == needs_x
    for a, b in zip(*grads):
        assert np.array_equal(a, b)
