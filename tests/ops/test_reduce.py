"""sum, mean, max: values against NumPy/loops, axes handling, tie convention, errors."""

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

SUM, MEAN, MAX = get_op("sum"), get_op("mean"), get_op("max")
AXES = [None, (0,), (1,), (-1,), (0, 2), (2, 0), (-3, -1), (), (0, 1, 2)]


@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_values_and_shapes_match_numpy(axes, keepdims):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for op, ref in ((SUM, np.sum), (MEAN, np.mean), (MAX, np.max)):
        attrs = op.normalize({"axes": axes, "keepdims": keepdims})
        y = op.real(x, **attrs)
        assert isinstance(y, np.ndarray)
        np.testing.assert_allclose(y, ref(x, axis=axes, keepdims=keepdims), rtol=1e-13)
        assert op.shape([x.shape], **attrs) == y.shape


def test_full_reduction_is_0d_array_and_keeps_float32():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for op in (SUM, MEAN, MAX):
        y = op.real(x)
        assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.float32
        (g,) = op.vjp(np.ones_like(y), y, x)
        assert g.dtype == np.float32 and g.shape == x.shape


def test_sum_and_mean_vjp_values():
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    ct = np.random.default_rng(2).standard_normal((2, 4))
    (g,) = SUM.vjp(ct, None, x, axes=(1,), keepdims=False)
    np.testing.assert_array_equal(g, np.repeat(ct[:, None, :], 3, axis=1))
    (g,) = MEAN.vjp(ct, None, x, axes=(1,), keepdims=False)
    np.testing.assert_allclose(g, np.repeat(ct[:, None, :], 3, axis=1) / 3)
    (g,) = MEAN.vjp(np.array(2.0), None, x, axes=None, keepdims=False)
    np.testing.assert_allclose(g, np.full(x.shape, 2.0 / 24))
    assert g.flags.writeable  # safe to hand out as a leaf's .grad


def test_max_ties_split_evenly():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]])
    y = MAX.real(x, axes=(1,))
    np.testing.assert_array_equal(y, [3.0, 2.0, 5.0])
    (g,) = MAX.vjp(np.array([1.0, 6.0, 4.0]), y, x, axes=(1,))
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [2, 2, 2], [4, 0, 0]])
    t = np.array([[9.0, 1.0, 2.0], [3.0, 6.0, 9.0], [7.0, 8.0, 8.0]])
    np.testing.assert_allclose(MAX.jvp([t], y, x, axes=(1,)), [1.5, 6.0, 7.0])
    # adjoint identity holds at ties too
    v = np.array([0.3, -1.2, 2.0])
    lhs = np.sum(v * MAX.jvp([t], y, x, axes=(1,)))
    rhs = np.sum(MAX.vjp(v, y, x, axes=(1,))[0] * t)
    assert abs(lhs - rhs) < 1e-12


def test_max_ties_full_reduction_keepdims():
    x = np.array([[4.0, 1.0], [4.0, 4.0]])
    y = MAX.real(x, keepdims=True)
    assert y.shape == (1, 1)
    (g,) = MAX.vjp(np.array([[3.0]]), y, x, keepdims=True)
    np.testing.assert_allclose(g, [[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(MAX.jvp([np.array([[3.0, 100.0], [6.0, 9.0]])], y, x, keepdims=True), [[6.0]])


def test_max_vjp_against_loop_reference_without_ties():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5))
    ct = rng.standard_normal(3)
    (g,) = MAX.vjp(ct, MAX.real(x, axes=(1,)), x, axes=(1,))
    ref = np.zeros_like(x)
    for i in range(3):
        ref[i, int(np.argmax(x[i]))] = ct[i]
    np.testing.assert_array_equal(g, ref)


def test_shape_rule_dynamic_batch():
    assert SUM.shape([(None, 3, 4)], axes=(1,), keepdims=False) == (None, 4)
    assert MEAN.shape([(None, 3, 4)], axes=(-1,), keepdims=True) == (None, 3, 1)
    assert MAX.shape([(None, 3)], axes=None, keepdims=False) == ()
    assert SUM.shape([(None, 3)], axes=None, keepdims=True) == (1, 1)


def test_axis_errors():
    with pytest.raises(ShapeError, match="sum: axis 3 out of range for a 3-D input"):
        SUM.shape([(2, 3, 4)], axes=(3,))
    with pytest.raises(ShapeError, match="mean: repeated axis"):
        MEAN.shape([(2, 3, 4)], axes=(0, -3))
    with pytest.raises(ShapeError, match="max: cannot reduce over an empty axis"):
        MAX.shape([(2, 0)], axes=(1,))
    with pytest.raises(ShapeError, match="empty axis"):
        MAX.real(np.zeros((2, 0)), axes=(1,))


def test_linear_flags():
    assert SUM.linear and MEAN.linear and not MAX.linear
