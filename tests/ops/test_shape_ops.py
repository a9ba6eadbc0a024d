"""reshape (ONNX), flatten (PyTorch), transpose, concat, slice (Python semantics):
values, dynamic dims, vjp data movement and error messages."""

import itertools

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

RESHAPE, FLATTEN, TRANSPOSE = get_op("reshape"), get_op("flatten"), get_op("transpose")
CONCAT, SLICE = get_op("concat"), get_op("slice")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- reshape ----------------------------------------------------------------------

@pytest.mark.parametrize("src,target,want", [
    ((2, 3, 4), (6, 4), (6, 4)), ((2, 3, 4), (0, -1), (2, 12)), ((2, 3, 4), (-1,), (24,)),
    ((2, 3, 4), (0, 0, -1), (2, 3, 4)), ((2, 3, 4), (4, 0, 2), (4, 3, 2)), ((12,), (2, 1, -1), (2, 1, 6)),
    ((2, 3, 4), (0, 2, 2, 3), (2, 2, 2, 3))])
def test_reshape_onnx_semantics(src, target, want):
    x = _x(src)
    y = RESHAPE.real(x, shape=target)
    assert y.shape == want and RESHAPE.shape([src], shape=target) == want
    np.testing.assert_array_equal(y.ravel(), x.ravel())  # row-major order
    (g,) = RESHAPE.vjp(y * 2, y, x, shape=target)
    np.testing.assert_array_equal(g, x * 2)


def test_reshape_dynamic_dims():
    assert RESHAPE.shape([(None, 28, 28)], shape=(0, -1)) == (None, 784)
    assert RESHAPE.shape([(None, 1, 28, 28)], shape=(0, 784)) == (None, 784)
    assert RESHAPE.shape([(None, 4)], shape=(-1, 2)) == (None, 2)    # None not copied: -1 unknown
    assert RESHAPE.shape([(None, 4)], shape=(2, -1)) == (2, None)
    assert RESHAPE.shape([(None, 6)], shape=(0, 2, 3)) == (None, 2, 3)
    assert RESHAPE.shape([(3, None)], shape=(0, 0)) == (3, None)


@pytest.mark.parametrize("src,target,msg", [
    ((2, 3), (-1, -1), "at most one -1"), ((2, 3), (5,), r"cannot reshape \(2, 3\) into \(5,\): 6 elements in, 5 out"),
    ((2, 3), (4, -1), "6 elements is not a multiple of 4"), ((2, 3), (-2, 3), "invalid entry"),
    ((6,), (0, 0), "has 0 at position 1, but the input \\(6,\\) has only 1 dims"),
    ((None, 3), (0, 4), "3 elements besides the copied dynamic dims in, 4 out")])
def test_reshape_errors(src, target, msg):
    with pytest.raises(ShapeError, match="reshape: .*" + msg):
        RESHAPE.shape([src], shape=target)


def test_reshape_real_checks_concrete_sizes():
    assert RESHAPE.shape([(None, 4)], shape=(3, 4)) == (3, 4)  # cannot be checked statically
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape \(2, 4\) into \(3, 4\)"):
        RESHAPE.real(_x((2, 4)), shape=(3, 4))


# ---- flatten ----------------------------------------------------------------------

@pytest.mark.parametrize("start,end,want", [
    (1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)), (-2, -1, (2, 3, 20)), (2, 2, (2, 3, 4, 5)),
    (0, 0, (2, 3, 4, 5))])
def test_flatten_pytorch_semantics(start, end, want):
    x = _x((2, 3, 4, 5))
    y = FLATTEN.real(x, start_dim=start, end_dim=end)
    assert y.shape == want == FLATTEN.shape([x.shape], start_dim=start, end_dim=end)
    np.testing.assert_array_equal(y.ravel(), x.ravel())
    (g,) = FLATTEN.vjp(y, y, x, start_dim=start, end_dim=end)
    np.testing.assert_array_equal(g, x)


def test_flatten_defaults_dynamic_and_edge_cases():
    assert FLATTEN.normalize({}) == {"start_dim": 1, "end_dim": -1}
    assert FLATTEN.shape([(None, 1, 28, 28)]) == (None, 784)
    assert FLATTEN.shape([(None, 3)], start_dim=0) == (None,)
    # the default start_dim=1 is out of range for a 1-D input, as in PyTorch
    with pytest.raises(ShapeError, match="flatten: axis 1 out of range for a 1-D input"):
        FLATTEN.shape([(4,)])
    assert FLATTEN.real(np.array(3.0), start_dim=0).shape == (1,)  # 0-d counts as (1,), as in PyTorch
    with pytest.raises(ShapeError, match="start_dim 2 comes after end_dim 1"):
        FLATTEN.shape([(2, 3, 4)], start_dim=2, end_dim=1)


# ---- transpose ----------------------------------------------------------------------

@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))) + [(-1, 0, 1)])
def test_transpose_values_and_vjp(perm):
    x = _x((2, 3, 4))
    y = TRANSPOSE.real(x, perm=perm)
    np.testing.assert_array_equal(y, np.transpose(x, [p % 3 for p in perm]))
    assert TRANSPOSE.shape([x.shape], perm=perm) == y.shape
    ct = _x(y.shape, 1)
    (g,) = TRANSPOSE.vjp(ct, y, x, perm=perm)
    assert g.shape == x.shape
    assert abs(np.sum(ct * y) - np.sum(g * x)) < 1e-12  # adjoint of a permutation


def test_transpose_dynamic_and_errors():
    assert TRANSPOSE.shape([(None, 3, 4)], perm=(0, 2, 1)) == (None, 4, 3)
    for bad in [(0, 1), (0, 0, 1), (0, 1, 3)]:
        with pytest.raises(ShapeError, match=r"transpose: perm .* is not a permutation of the 3 axes"):
            TRANSPOSE.shape([(2, 3, 4)], perm=bad)


# ---- concat -------------------------------------------------------------------------

@pytest.mark.parametrize("shapes,axis", [
    (((3, 4), (2, 4)), 0), (((2, 3), (2, 1), (2, 4)), 1), (((2, 3, 4), (2, 3, 2)), -1), (((3, 4),), 0),
    (((2, 0), (2, 3)), 1)])
def test_concat_values_and_vjp(shapes, axis):
    xs = [_x(s, i) for i, s in enumerate(shapes)]
    y = CONCAT.real(*xs, axis=axis)
    np.testing.assert_array_equal(y, np.concatenate(xs, axis=axis))
    assert CONCAT.shape(list(shapes), axis=axis) == y.shape
    gs = CONCAT.vjp(y * 3, y, *xs, axis=axis)
    assert len(gs) == len(xs)
    for g, x in zip(gs, xs):
        np.testing.assert_array_equal(g, x * 3)


def test_concat_dynamic_and_errors():
    assert CONCAT.shape([(None, 3), (None, 4)], axis=1) == (None, 7)
    assert CONCAT.shape([(None, 3), (2, 3)], axis=0) == (None, 3)
    assert CONCAT.shape([(None, 3), (5, 3)], axis=1) == (5, 6)  # None matches any size off the axis
    with pytest.raises(ShapeError, match=r"concat: shapes \(2, 3\), \(2, 4\) differ in dim 1"):
        CONCAT.shape([(2, 3), (2, 4)], axis=0)
    with pytest.raises(ShapeError, match="same number of dims"):
        CONCAT.shape([(2, 3), (2, 3, 1)])
    with pytest.raises(ShapeError, match="concat: axis 2 out of range"):
        CONCAT.shape([(2, 3), (2, 3)], axis=2)
    with pytest.raises(ShapeError, match="0-d"):
        CONCAT.shape([(), ()])


# ---- slice --------------------------------------------------------------------------

def test_slice_matches_python_slicing_exhaustively():
    x = _x((7, 5))
    bounds = [-9, -7, -3, -1, 0, 1, 3, 5, 7, 10]
    for s, e, st in itertools.product(bounds, bounds, [1, 2, 3]):
        y = SLICE.real(x, starts=(s,), ends=(e,), axes=(0,), steps=(st,))
        want = np.array([x[i] for i in range(7)[s:e:st]]).reshape(-1, 5)
        np.testing.assert_array_equal(y, want)
        assert SLICE.shape([x.shape], starts=(s,), ends=(e,), axes=(0,), steps=(st,)) == want.shape


def test_slice_multiple_axes_defaults_and_vjp():
    x = _x((4, 5, 6))
    attrs = SLICE.normalize({"starts": [1, -4], "ends": [3, 10**18]})   # axes 0, 1; steps 1
    y = SLICE.real(x, **attrs)
    np.testing.assert_array_equal(y, x[1:3, -4:])
    y2 = SLICE.real(x, starts=(0, 1), ends=(6, 4), axes=(-1, 0), steps=(2, 1))
    np.testing.assert_array_equal(y2, x[1:4, :, 0:6:2])
    ct = _x(y2.shape, 2)
    (g,) = SLICE.vjp(ct, y2, x, starts=(0, 1), ends=(6, 4), axes=(-1, 0), steps=(2, 1))
    ref = np.zeros_like(x)
    ref[1:4, :, 0:6:2] = ct
    np.testing.assert_array_equal(g, ref)


def test_slice_dynamic_and_errors():
    assert SLICE.shape([(None, 10)], starts=(2,), ends=(5,), axes=(1,), steps=None) == (None, 3)
    assert SLICE.shape([(None, 10)], starts=(0,), ends=(5,), axes=None, steps=None) == (None, 10)
    with pytest.raises(ShapeError, match=r"slice: steps must be positive, got \(-1,\)"):
        SLICE.shape([(5,)], starts=(3,), ends=(0,), axes=None, steps=(-1,))
    with pytest.raises(ShapeError, match="steps must be positive"):
        SLICE.shape([(5,)], starts=(3,), ends=(0,), axes=None, steps=(0,))
    with pytest.raises(ShapeError, match="same length"):
        SLICE.shape([(5, 5)], starts=(0, 1), ends=(3,), axes=None, steps=None)
    with pytest.raises(ShapeError, match="slice: axis 2 out of range"):
        SLICE.shape([(5, 5)], starts=(0,), ends=(3,), axes=(2,), steps=None)
    with pytest.raises(ShapeError, match="repeated axis"):
        SLICE.shape([(5, 5)], starts=(0, 0), ends=(3, 3), axes=(1, -1), steps=None)
    with pytest.raises(ShapeError, match="missing required attribute 'ends'"):
        SLICE.normalize({"starts": (0,)})


def test_shape_ops_are_linear_and_keep_float32():
    for op in (RESHAPE, FLATTEN, TRANSPOSE, CONCAT, SLICE):
        assert op.linear
    x = _x((2, 3, 4)).astype(np.float32)
    assert RESHAPE.real(x, shape=(0, -1)).dtype == np.float32
    (g,) = SLICE.vjp(np.ones((2, 3, 2), np.float32), None, x, starts=(1,), ends=(3,), axes=(2,), steps=None)
    assert g.dtype == np.float32
