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


def test_mnist_mlp_gradient_every_parameter_central_differences():
    """Full-model check (float64) of the 784-128-10 MLP with cross-entropy on every
    parameter entry: a directional test per parameter tensor plus every single
    entry of the two bias vectors and a full sweep of the second weight matrix,
    and for the 100,352-entry first weight a per-row directional check (each of
    its 128 rows perturbed along its own random direction)."""
    from certnn.random import manual_seed
    from certnn.zoo import mlp
    manual_seed(0)
    m = mlp(784, [128], 10).to(np.float64)
    rng = np.random.default_rng(0)
    x = rng.random((8, 784))
    y = rng.integers(0, 10, 8)

    def loss():
        return float(F.cross_entropy(m(Tensor(x)), y).data)

    m.zero_grad()
    F.cross_entropy(m(Tensor(x)), y).backward()
    h = 1e-6
    params = dict(m.named_parameters())

    def fd(p, direction):
        p.data += h * direction
        lp = loss()
        p.data -= 2 * h * direction
        lm = loss()
        p.data += h * direction
        return (lp - lm) / (2 * h)

    for name, p in params.items():
        # one random direction over the whole tensor
        d = rng.standard_normal(p.shape)
        assert abs(fd(p, d) - np.sum(p.grad * d)) <= 1e-6 * max(1, abs(np.sum(p.grad * d))), name
    for name in ("0.bias", "2.bias", "2.weight"):
        p = params[name]
        for idx in np.ndindex(p.shape):
            e = np.zeros(p.shape)
            e[idx] = 1.0
            assert abs(fd(p, e) - p.grad[idx]) <= 1e-7, (name, idx)
    w = params["0.weight"]
    for r in range(w.shape[0]):
        d = np.zeros(w.shape)
        d[r] = rng.standard_normal(w.shape[1])
        assert abs(fd(w, d) - np.sum(w.grad * d)) <= 1e-7 * max(1, abs(np.sum(w.grad * d))), r
