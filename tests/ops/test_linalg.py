"""matmul and linear against naive loop references, shape rules and error messages."""

import itertools

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

MATMUL = get_op("matmul")
LINEAR = get_op("linear")


def _naive_matmul(a, b):
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    out = np.zeros(batch + (m, n))
    for idx in itertools.product(*[range(d) for d in batch]):
        for i in range(m):
            for j in range(n):
                out[idx + (i, j)] = sum(a[idx + (i, p)] * b[idx + (p, j)] for p in range(k))
    return out


CASES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
         ((1, 2, 3), (4, 3, 2)), ((5, 1), (1, 3))]


@pytest.mark.parametrize("sa,sb", CASES)
def test_matmul_matches_loops(sa, sb):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    y = MATMUL.real(a, b)
    np.testing.assert_allclose(y, _naive_matmul(a, b), rtol=1e-12, atol=1e-12)
    assert MATMUL.shape([sa, sb]) == y.shape


@pytest.mark.parametrize("sa,sb", CASES)
def test_matmul_vjp_is_summed_to_input_shapes(sa, sb):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    y = MATMUL.real(a, b)
    ct = rng.standard_normal(y.shape)
    ga, gb = MATMUL.vjp(ct, y, a, b)
    assert ga.shape == a.shape and gb.shape == b.shape
    # reference: gradient of sum(ct * a@b) via the broadcast operands, summed by hand
    batch = y.shape[:-2]
    A = np.broadcast_to(a, batch + a.shape[-2:])
    B = np.broadcast_to(b, batch + b.shape[-2:])
    gA = np.einsum("...mn,...kn->...mk", ct, B)
    gB = np.einsum("...mk,...mn->...kn", A, ct)

    def reduce_to(g, shape):
        while g.ndim > len(shape):
            g = g.sum(axis=0)
        for i, d in enumerate(shape):
            if d == 1 and g.shape[i] != 1:
                g = g.sum(axis=i, keepdims=True)
        return g

    np.testing.assert_allclose(ga, reduce_to(gA, a.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, reduce_to(gB, b.shape), rtol=1e-12, atol=1e-12)


def test_matmul_shape_rule_dynamic_batch():
    assert MATMUL.shape([(None, 3, 4), (4, 5)]) == (None, 3, 5)
    assert MATMUL.shape([(None, 4), (4, 5)]) == (None, 5)
    assert MATMUL.shape([(2, None), (7, 5)]) == (2, 5)  # None matches any contraction size


def test_matmul_rejects_1d_operands():
    with pytest.raises(ShapeError, match=r"matmul: both operands must be at least 2-D, got \(4,\) and \(4, 5\)"):
        MATMUL.shape([(4,), (4, 5)])
    with pytest.raises(ShapeError, match="at least 2-D"):
        MATMUL.shape([(3, 4), (4,)])


def test_matmul_contraction_and_batch_mismatch():
    with pytest.raises(ShapeError, match=r"matmul: contraction dims differ: \(3, 4\) @ \(5, 6\)"):
        MATMUL.shape([(3, 4), (5, 6)])
    with pytest.raises(ShapeError, match="do not broadcast"):
        MATMUL.shape([(2, 3, 4), (3, 4, 5)])


def test_matmul_float32():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    y = MATMUL.real(a, b)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in MATMUL.vjp(np.ones_like(y), y, a, b))


# ---- linear -------------------------------------------------------------------------

def _naive_linear(x, w, b=None):
    x2 = x.reshape(-1, x.shape[-1])
    out = np.zeros((x2.shape[0], w.shape[0]))
    for n in range(x2.shape[0]):
        for o in range(w.shape[0]):
            out[n, o] = sum(x2[n, i] * w[o, i] for i in range(w.shape[1])) + (0.0 if b is None else b[o])
    return out.reshape(x.shape[:-1] + (w.shape[0],))


@pytest.mark.parametrize("xs", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_loops(xs, bias):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(xs), rng.standard_normal((3, 4)), rng.standard_normal(3)
    args = (x, w, b) if bias else (x, w)
    y = LINEAR.real(*args)
    np.testing.assert_allclose(y, _naive_linear(*args), rtol=1e-12, atol=1e-12)
    assert LINEAR.shape([a.shape for a in args]) == y.shape


@pytest.mark.parametrize("xs", [(5, 4), (2, 3, 4), (4,)])
def test_linear_vjp_reference(xs):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal(xs), rng.standard_normal((3, 4)), rng.standard_normal(3)
    y = LINEAR.real(x, w, b)
    ct = rng.standard_normal(y.shape)
    gx, gw, gb = LINEAR.vjp(ct, y, x, w, b)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == b.shape
    np.testing.assert_allclose(gx, np.einsum("...o,oi->...i", ct, w), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, np.einsum("no,ni->oi", ct.reshape(-1, 3), x.reshape(-1, 4)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, ct.reshape(-1, 3).sum(0), rtol=1e-12, atol=1e-12)
    # without bias: two cotangents
    assert len(LINEAR.vjp(ct, y, x, w)) == 2


def test_linear_shape_error_message():
    with pytest.raises(ShapeError) as e:
        LINEAR.shape([(None, 100), (128, 784), (128,)])
    assert str(e.value) == ("linear: input has 100 features but weight expects 784 "
                            "(input (N, 100), weight (128, 784))")


def test_linear_bad_weight_and_bias():
    with pytest.raises(ShapeError, match="weight must be 2-D"):
        LINEAR.shape([(2, 4), (4,)])
    with pytest.raises(ShapeError, match=r"bias must have shape \(3,\)"):
        LINEAR.shape([(2, 4), (3, 4), (4,)])
    with pytest.raises(ShapeError, match="at least 1-D"):
        LINEAR.shape([(), (3, 4)])


def test_linear_dynamic_batch():
    assert LINEAR.shape([(None, 784), (128, 784), (128,)]) == (None, 128)
    assert LINEAR.shape([(None, 7, 784), (128, 784)]) == (None, 7, 128)


def test_linear_float32_forward_and_backward():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    w = rng.standard_normal((128, 784)).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    y = LINEAR.real(x, w, b)
    assert y.dtype == np.float32
    gs = LINEAR.vjp(np.ones_like(y), y, x, w, b)
    assert [g.dtype for g in gs] == [np.float32] * 3
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.T.astype(np.float64) + b, rtol=1e-4, atol=1e-3)


def test_linear_jvp():
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    tx, tw, tb = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    y = LINEAR.real(x, w, b)
    got = LINEAR.jvp([tx, tw, tb], y, x, w, b)
    np.testing.assert_allclose(got, tx @ w.T + x @ tw.T + tb, rtol=1e-12, atol=1e-12)
