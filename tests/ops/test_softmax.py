"""softmax / log_softmax: naive references, stability for large inputs, explicit
Jacobians, axis handling, dtype."""

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

SOFTMAX, LOG_SOFTMAX = get_op("softmax"), get_op("log_softmax")


def _naive_softmax_rows(x):
    out = np.empty_like(x)
    for i, row in enumerate(x):
        e = [np.exp(v) for v in row]
        s = sum(e)
        out[i] = [v / s for v in e]
    return out


def test_matches_naive_formula():
    x = np.random.default_rng(0).uniform(-5, 5, size=(4, 6))
    np.testing.assert_allclose(SOFTMAX.real(x), _naive_softmax_rows(x), rtol=1e-13)
    np.testing.assert_allclose(LOG_SOFTMAX.real(x), np.log(_naive_softmax_rows(x)), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_axis(axis):
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    y = SOFTMAX.real(x, axis=axis)
    moved = np.moveaxis(x, axis, -1)
    ref = np.moveaxis(_naive_softmax_rows(moved.reshape(-1, moved.shape[-1])).reshape(moved.shape), -1, axis)
    np.testing.assert_allclose(y, ref, rtol=1e-13)
    np.testing.assert_allclose(np.sum(y, axis=axis), 1.0, rtol=1e-14)
    np.testing.assert_allclose(LOG_SOFTMAX.real(x, axis=axis), np.log(ref), rtol=1e-12, atol=1e-13)


def test_stable_for_huge_and_spread_inputs():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = SOFTMAX.real(x)
        ly = LOG_SOFTMAX.real(x)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ly))
    np.testing.assert_allclose(y[0], _naive_softmax_rows(np.array([[1.0, 2.0, 0.0]]))[0], rtol=1e-13)
    np.testing.assert_allclose(ly[1], [-2000.0, -1000.0, 0.0], rtol=1e-15)
    x32 = x.astype(np.float32)
    assert np.all(np.isfinite(SOFTMAX.real(x32))) and SOFTMAX.real(x32).dtype == np.float32


def test_vjp_against_explicit_jacobian():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5))
    ct = rng.standard_normal((3, 5))
    s = SOFTMAX.real(x)
    (g,) = SOFTMAX.vjp(ct, s, x)
    (gl,) = LOG_SOFTMAX.vjp(ct, LOG_SOFTMAX.real(x), x)
    for i in range(3):
        J = np.diag(s[i]) - np.outer(s[i], s[i])            # d softmax_j / d x_k
        Jl = np.eye(5) - np.outer(np.ones(5), s[i])          # d log_softmax_j / d x_k
        np.testing.assert_allclose(g[i], J.T @ ct[i], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gl[i], Jl.T @ ct[i], rtol=1e-12, atol=1e-14)
        t = rng.standard_normal(5)
        np.testing.assert_allclose(SOFTMAX.jvp([t[None]], s[i:i + 1], x[i:i + 1])[0], J @ t, rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(LOG_SOFTMAX.jvp([t[None]], np.log(s[i:i + 1]), x[i:i + 1])[0], Jl @ t,
                                   rtol=1e-12, atol=1e-14)


def test_float32_backward():
    x = np.random.default_rng(3).standard_normal((4, 10)).astype(np.float32)
    for op in (SOFTMAX, LOG_SOFTMAX):
        y = op.real(x)
        (g,) = op.vjp(np.ones_like(y), y, x)
        assert y.dtype == g.dtype == np.float32


def test_shape_errors():
    assert SOFTMAX.shape([(None, 10)], axis=-1) == (None, 10)
    with pytest.raises(ShapeError, match=r"softmax: input must be at least 1-D, got \(\)"):
        SOFTMAX.shape([()], axis=-1)
    with pytest.raises(ShapeError, match="log_softmax: axis 2 out of range for a 2-D input"):
        LOG_SOFTMAX.shape([(3, 4)], axis=2)
