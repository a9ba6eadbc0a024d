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


def _ln_boxes(rng, shape, n, width, spread):
    """Boxes around points whose rows have variance ~ spread^2 (small spread: the
    near-constant rows where layer norm's curvature 1/sqrt(var) is large)."""
    c = rng.normal(size=(n, 1) + shape[1:]) + spread * rng.normal(size=(n,) + shape)
    w = width * rng.random((n,) + shape)
    return c - w, c + w


@pytest.mark.parametrize("width", [1e-4, 0.01, 0.3, 3.0])
@pytest.mark.parametrize("spread", [0.02, 1.0])
@pytest.mark.parametrize("shape, k", [((3, 8), 1), ((2, 3, 4), 2), ((2, 16), 1)])
def test_layer_norm_tangent_planes(width, spread, shape, k):
    rng = np.random.default_rng(4)
    lo, hi = _ln_boxes(rng, shape, 2, width, spread)
    ns = shape[len(shape) - k:]
    w, b = rng.uniform(-1.5, 1.5, ns), rng.uniform(-1, 1, ns)
    op = get_op("layer_norm")
    planes = op.relax([lo, w, b], [hi, w, b], (True, False, False), eps=1e-5)
    _check(planes, lambda x, w_, b_: op.real(x, w_, b_, eps=1e-5), [lo, w, b], [hi, w, b], [0], rng, k=80)


def test_layer_norm_remainder_is_attained_up_to_a_small_factor():
    """The remainder is a bound, not a guess: along the worst sampled directions the
    true distance from the tangent plane reaches a fair share of it (not orders of
    magnitude below), and it is second order in the radius, far inside the interval."""
    rng = np.random.default_rng(5)
    op = get_op("layer_norm")
    k = 16
    w, b = np.ones(k), np.zeros(k)
    ratios, shares = [], []
    for width in (1e-2, 1e-3):
        lo, hi = _ln_boxes(rng, (1, k), 3, width, 1.0)
        planes = op.relax([lo, w, b], [hi, w, b], (True, False, False), eps=1e-5)
        assert planes.use.all()
        ratios.append(np.median(2 * planes.rem / (planes.yhi - planes.ylo)))
        x = np.where(rng.random((400,) + lo.shape) < 0.5, lo, hi)          # corners
        lin = planes.fc + planes.jvp((x - planes.c)[:, :, None])[:, :, 0]
        err = np.abs(op.real(x, w, b, eps=1e-5) - lin).max(axis=0)
        assert np.all(err <= planes.rem)
        shares.append(np.max(err / planes.rem))
    assert ratios[0] < 0.05 and ratios[1] < ratios[0] / 5
    assert min(shares) > 0.01


def test_layer_norm_relaxation_needs_constant_affine_parameters():
    from certnn.errors import ShapeError
    op = get_op("layer_norm")
    x, w = np.zeros((1, 4)), np.ones(4)
    with pytest.raises(ShapeError, match="constant weight and bias"):
        op.relax([x, w, w], [x + 1, w, w], (True, True, False), eps=1e-5)
