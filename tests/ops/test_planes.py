"""Multivariate relaxations (CROWN's ``planes`` nodes): McCormick planes of a
product of two variable inputs (mul, matmul) and softmax's tangent planes with
their second-order remainder enclose the op at sampled points of random boxes,
wide and narrow; the tangent planes are much tighter than the interval on small
boxes."""

import numpy as np
import pytest

from certnn.ops import get_op
from certnn.ops.relax import BILINEAR


def _boxes(rng, shape, n, width):
    c = rng.normal(size=(n,) + shape) * 2
    w = width * rng.random((n,) + shape)
    return c - w, c + w


def _check(planes, f, los, his, var_idx, rng, k=300):
    """lower(x) <= f(x) <= upper(x) at k sampled points (corners included)."""
    N = los[0].shape[0]
    out = f(*los)
    K = int(np.prod(out.shape[1:]))
    eye = np.eye(K).reshape((K,) + out.shape[1:])
    a = np.broadcast_to(np.concatenate([eye, -eye])[None], (N, 2 * K) + out.shape[1:])
    cs, bias = planes.back(a)
    for t in range(k):
        xs = [lo if i not in var_idx else
              (np.where(rng.random(lo.shape) < 0.5, lo, hi) if t < k // 4 else lo + rng.random(lo.shape) * (hi - lo))
              for i, (lo, hi) in enumerate(zip(los, his))]
        y = f(*xs).reshape(N, K)
        val = bias + sum(np.sum(c * x[:, None], axis=tuple(range(2, c.ndim))) for c, x in
                         zip(cs, [xs[i] for i in var_idx]))
        lower, upper = val[:, :K], -val[:, K:]
        tol = 1e-9 * (1 + np.abs(y))
        assert np.all(lower <= y + tol), "lower plane above f"
        assert np.all(upper >= y - tol), "upper plane below f"
        chosen = planes.forward([x[:, None] for x in (xs[i] for i in var_idx)], a)
        assert np.allclose(np.sum(chosen * a, axis=tuple(range(2, chosen.ndim))), val, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("width", [0.01, 1.0, 5.0])
def test_mccormick_mul(width):
    rng = np.random.default_rng(0)
    los, his = zip(_boxes(rng, (3, 4), 2, width), _boxes(rng, (1, 4), 2, width))
    _check(BILINEAR["mul"](list(los), list(his), (True, True)), np.multiply, list(los), list(his), [0, 1], rng)


@pytest.mark.parametrize("width", [0.01, 1.0, 5.0])
def test_mccormick_matmul(width):
    rng = np.random.default_rng(1)
    los, his = zip(_boxes(rng, (2, 3, 4), 2, width), _boxes(rng, (2, 4, 5), 2, width))
    _check(BILINEAR["matmul"](list(los), list(his), (True, True)), np.matmul, list(los), list(his), [0, 1], rng)


@pytest.mark.parametrize("width", [0.001, 0.1, 2.0])
@pytest.mark.parametrize("masked", [False, True])
def test_softmax_tangent_planes(width, masked):
    rng = np.random.default_rng(2)
    lo, hi = _boxes(rng, (3, 5), 2, width)
    if masked:
        keep = rng.random((3, 5)) > 0.3
        keep[1] = False
        op = get_op("masked_softmax")
        los, his = [lo, keep.astype(np.float64)], [hi, keep.astype(np.float64)]
        f = lambda x, k: op.real(x, k != 0)  # noqa: E731
    else:
        op = get_op("softmax")
        los, his, f = [lo], [hi], op.real
    _check(op.relax(los, his, (True, False)[:len(los)]), f, los, his, [0], rng)


def test_tangent_planes_are_close_on_small_boxes():
    """The gap between the planes is second order in the radius: far below the
    interval's width (first order), so CROWN keeps the planes."""
    rng = np.random.default_rng(3)
    op = get_op("softmax")
    ratios = []
    for width in (0.01, 0.001):
        lo, hi = _boxes(rng, (6,), 4, width)
        planes = op.relax([lo], [hi], (True,))
        ylo, yhi = op.interval([lo], [hi])
        assert planes.use.all()
        ratios.append(np.median(2 * planes.rem / (yhi - ylo)))
    assert ratios[0] < 0.05 and ratios[1] < ratios[0] / 5
