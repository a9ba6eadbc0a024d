"""complex_mul and complex_matmul against NumPy's complex arithmetic; complex_matmul's
binary32 rule is the block matmul of its definition."""

import numpy as np
import pytest

from certnn.floats import b32
from certnn.ops import get_op


def _c(a):
    return a[..., 0] + 1j * a[..., 1]


def test_complex_mul_equals_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 1, 4, 2)), rng.normal(size=(5, 4, 2))
    y = get_op("complex_mul").real(a, b)
    np.testing.assert_allclose(_c(y), _c(a) * _c(b), rtol=1e-14)


def test_complex_matmul_equals_numpy_with_broadcast_batches():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 3, 1, 5, 2)), rng.normal(size=(3, 5, 6, 2))
    op = get_op("complex_matmul")
    y = op.real(a, b)
    np.testing.assert_allclose(_c(y), _c(a) @ _c(b), rtol=1e-12)
    g = rng.normal(size=y.shape)
    ga, gb = op.vjp(g, y, a, b)
    assert ga.shape == a.shape and gb.shape == b.shape
    # the cotangents of a real loss <g, y>: conj-transposes in complex terms
    np.testing.assert_allclose(_c(ga), _c(g) @ np.conj(np.swapaxes(_c(b), -1, -2)), rtol=1e-12)
    np.testing.assert_allclose(_c(gb), (np.conj(np.swapaxes(_c(a), -1, -2)) @ _c(g)).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("order", b32.ORDERS)
def test_complex_matmul_binary32_is_the_block_matmul(order):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4, 2)).astype(np.float32), rng.normal(size=(4, 5, 2)).astype(np.float32)
    A = np.concatenate([a[..., 0], a[..., 1]], axis=1)
    B = np.block([[b[..., 0], b[..., 1]], [-b[..., 1], b[..., 0]]]).astype(np.float32)
    Y = b32.matmul2d(A, B, order)
    want = np.stack([Y[:, :5], Y[:, 5:]], axis=-1)
    assert np.array_equal(get_op("complex_matmul").binary32(a, b, order=order), want)
    assert np.array_equal(get_op("complex_mul").binary32(a[:, :1], b[0, :3].reshape(1, 3, 2)[0]),
                          get_op("complex_mul").real(a[:, :1], b[0, :3].reshape(1, 3, 2)[0]))
