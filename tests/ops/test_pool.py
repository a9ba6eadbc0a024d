"""max_pool2d and avg_pool2d against naive loop references, the tie convention,
shape-rule errors, and PyTorch parity when torch is installed."""

import itertools

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

MAX = get_op("max_pool2d")
AVG = get_op("avg_pool2d")


def _windows(x_shape, k, s, p, d):
    """Yield (n, c, i, j, [(r, col) real positions in the window], has_padding)."""
    N, C, H, W = x_shape
    ho = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    for n, c, i, j in itertools.product(range(N), range(C), range(ho), range(wo)):
        pos, padded = [], False
        for a, b in itertools.product(range(k[0]), range(k[1])):
            r, q = i * s[0] + a * d[0] - p[0], j * s[1] + b * d[1] - p[1]
            if 0 <= r < H and 0 <= q < W:
                pos.append((r, q))
            else:
                padded = True
        yield n, c, i, j, pos, padded


def _out_hw(x_shape, k, s, p, d=(1, 1)):
    H, W = x_shape[2:]
    return ((H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1,
            (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)


def naive_max(x, ct, kernel_size, stride, padding, dilation):
    s = stride or kernel_size
    y = np.zeros(x.shape[:2] + _out_hw(x.shape, kernel_size, s, padding, dilation))
    gx = np.zeros_like(x)
    for n, c, i, j, pos, padded in _windows(x.shape, kernel_size, s, padding, dilation):
        vals = [x[n, c, r, q] for r, q in pos]
        m = max(vals) if vals else -np.inf
        y[n, c, i, j] = m
        tied = [rq for rq, v in zip(pos, vals) if v == m]
        for r, q in tied:
            gx[n, c, r, q] += ct[n, c, i, j] / len(tied)
    return y, gx


def naive_avg(x, ct, kernel_size, stride, padding, count_include_pad):
    s = stride or kernel_size
    y = np.zeros(x.shape[:2] + _out_hw(x.shape, kernel_size, s, padding))
    gx = np.zeros_like(x)
    for n, c, i, j, pos, padded in _windows(x.shape, kernel_size, s, padding, (1, 1)):
        div = kernel_size[0] * kernel_size[1] if count_include_pad else len(pos)
        y[n, c, i, j] = sum(x[n, c, r, q] for r, q in pos) / div
        for r, q in pos:
            gx[n, c, r, q] += ct[n, c, i, j] / div
    return y, gx


MAX_CONFIGS = [
    dict(kernel_size=(2, 2)),
    dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(kernel_size=(2, 3), stride=(1, 1)),
    dict(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(2, 2)),
    dict(kernel_size=(1, 1), stride=(2, 2)),
    dict(kernel_size=(4, 5), stride=(3, 1), padding=(2, 1)),
]


@pytest.mark.parametrize("attrs", MAX_CONFIGS)
def test_max_pool_matches_naive(attrs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    a = MAX.normalize(attrs)
    y = MAX.real(x, **a)
    ct = rng.standard_normal(y.shape)
    y_ref, gx_ref = naive_max(x, ct, **a)
    np.testing.assert_array_equal(y, y_ref)
    assert y.shape == MAX.shape([x.shape], **a)
    np.testing.assert_allclose(MAX.vjp(ct, y, x, **a)[0], gx_ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("attrs", MAX_CONFIGS)
def test_max_pool_ties_split_evenly(attrs):
    """Inputs on a coarse grid: many ties; vjp splits, jvp averages, and they are adjoint."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (2, 2, 9, 8)).astype(float)
    a = MAX.normalize(attrs)
    y = MAX.real(x, **a)
    ct = rng.standard_normal(y.shape)
    _, gx_ref = naive_max(x, ct, **a)
    (gx,) = MAX.vjp(ct, y, x, **a)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-13, atol=1e-13)
    u = rng.standard_normal(x.shape)
    ju = MAX.jvp([u], y, x, **a)
    np.testing.assert_allclose(np.sum(ct * ju), np.sum(gx * u), rtol=1e-12)


@pytest.mark.parametrize("shape,k", [((2, 3, 8, 6), (2, 2)), ((2, 2, 9, 7), (2, 3)), ((1, 2, 6, 6), (3, 3))])
def test_max_pool_tiles_vjp_equals_general_rule(shape, k):
    """stride = kernel takes the tile path: with a NaN window, ties and cropped
    edges it gives the naive reference's cotangent, and on distinct values (the
    one-maximum shortcut) exactly the reference's."""
    from certnn.ops.pool import _max_tiles_vjp
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, shape).astype(np.float32)        # many ties
    x[0, 0, 0, 0] = np.nan
    a = MAX.normalize(dict(kernel_size=k))
    y = MAX.real(x, **a)
    ct = rng.standard_normal(y.shape).astype(np.float32)
    _, gx_ref = naive_max(x.astype(np.float64), ct.astype(np.float64), **a)
    gx = _max_tiles_vjp(ct, x, k)
    assert gx.dtype == np.float32 and gx.shape == x.shape
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-7)
    xd = rng.standard_normal(shape).astype(np.float32)     # distinct values: the one-maximum shortcut
    _, gx_ref = naive_max(xd.astype(np.float64), ct.astype(np.float64), **a)
    np.testing.assert_array_equal(MAX.vjp(ct, MAX.real(xd, **a), xd, **a)[0], gx_ref.astype(np.float32))


@pytest.mark.parametrize("shape,k", [((2, 3, 8, 6), (2, 2)), ((2, 2, 9, 7), (2, 3))])
def test_max_pool_vjp_with_the_stashed_maxima_is_the_recomputing_rule_bit_for_bit(shape, k):
    """The tile vjp takes the forward's window maxima from the stash: same bits as
    recomputing them (ties, a NaN window, cropped edges)."""
    from certnn.ops.pool import _MAXIMA, _max_tiles_vjp
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, shape).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    a = MAX.normalize(dict(kernel_size=k))
    y = MAX.real(x, **a)
    assert _MAXIMA.get(x, (k, k, (0, 0), (1, 1))) is y                # the forward stashed its maxima
    ct = rng.standard_normal(y.shape).astype(np.float32)
    (stashed,) = MAX.vjp(ct, y, x, **a)
    assert stashed.tobytes() == _max_tiles_vjp(ct, x, k).tobytes()


def test_max_pool_constant_input_spreads_cotangent():
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    a = MAX.normalize(dict(kernel_size=(2, 2)))
    y = MAX.real(x, **a)
    (gx,) = MAX.vjp(np.ones_like(y), y, x, **a)
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(gx, np.full((1, 1, 4, 4), 0.25, np.float32))
    t = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(MAX.jvp([t], y, x, **a)[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_max_pool_padding_is_minus_infinity():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)            # all negative: zero padding would win
    a = MAX.normalize(dict(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)))
    y = MAX.real(x, **a)
    assert y[0, 0, 0, 0] == -1.0 and y[0, 0, 2, 2] == -5.0
    (gx,) = MAX.vjp(np.ones_like(y), y, x, **a)
    assert gx.sum() == y.size                                # no cotangent lost to padding


def test_max_pool_stride_defaults_to_kernel_and_nan_propagates():
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    a = MAX.normalize(dict(kernel_size=(3, 2)))
    assert a["stride"] is None
    assert MAX.real(x, **a).shape == (1, 1, 2, 3)
    x[0, 0, 0, 0] = np.nan
    y = MAX.real(x, **a)
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1:]).any()


def test_max_pool_float32():
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    a = MAX.normalize(dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)))
    y = MAX.real(x, **a)
    assert y.dtype == np.float32
    assert MAX.vjp(np.ones_like(y), y, x, **a)[0].dtype == np.float32
    assert MAX.jvp([x], y, x, **a).dtype == np.float32


AVG_CONFIGS = [
    dict(kernel_size=(2, 2)),
    dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)),
    dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 1)),
    dict(kernel_size=(5, 4), stride=(1, 3), padding=(2, 2), count_include_pad=False),
    dict(kernel_size=(5, 4), stride=(1, 3), padding=(2, 2), count_include_pad=True),
]


@pytest.mark.parametrize("attrs", AVG_CONFIGS)
def test_avg_pool_matches_naive(attrs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8))
    a = AVG.normalize(attrs)
    y = AVG.real(x, **a)
    ct = rng.standard_normal(y.shape)
    y_ref, gx_ref = naive_avg(x, ct, **a)
    np.testing.assert_allclose(y, y_ref, rtol=1e-13, atol=1e-13)
    assert y.shape == AVG.shape([x.shape], **a)
    np.testing.assert_allclose(AVG.vjp(ct, y, x, **a)[0], gx_ref, rtol=1e-13, atol=1e-13)
    t = rng.standard_normal(x.shape)
    np.testing.assert_allclose(AVG.jvp([t], y, x, **a), naive_avg(t, ct, **a)[0], rtol=1e-13, atol=1e-13)


def test_avg_pool_count_include_pad_values():
    x = np.ones((1, 1, 3, 3), dtype=np.float32)
    incl = AVG.real(x, **AVG.normalize(dict(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))))
    excl = AVG.real(x, **AVG.normalize(dict(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1),
                                            count_include_pad=False)))
    assert incl.dtype == excl.dtype == np.float32
    np.testing.assert_allclose(incl[0, 0], np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9, rtol=1e-6)
    np.testing.assert_array_equal(excl, np.ones((1, 1, 3, 3), np.float32))
    assert AVG.linear and not MAX.linear


# ---------------------------------------------------------------- shape rules

def test_shape_rules_dynamic_batch():
    assert MAX.shape([(None, 8, 28, 28)], **MAX.normalize(dict(kernel_size=(2, 2)))) == (None, 8, 14, 14)
    a = AVG.normalize(dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)))
    assert AVG.shape([(None, 8, 28, 28)], **a) == (None, 8, 14, 14)


@pytest.mark.parametrize("op", [MAX, AVG], ids=["max", "avg"])
def test_shape_errors(op):
    def err(shape, **attrs):
        with pytest.raises(ShapeError) as e:
            op.shape([shape], **op.normalize(attrs))
        assert str(e.value).startswith(op.name + ":")
        return str(e.value)

    assert "4-D" in err((3, 8, 8), kernel_size=(2, 2)) and "(3, 8, 8)" in err((3, 8, 8), kernel_size=(2, 2))
    msg = err((1, 1, 2, 8), kernel_size=(3, 3))
    assert "output size would be 0x2" in msg and "(1, 1, 2, 8)" in msg
    assert "at most half the kernel" in err((1, 1, 8, 8), kernel_size=(3, 3), padding=(2, 1))
    assert "kernel_size" in err((1, 1, 8, 8), kernel_size=(0, 2))
    assert "kernel_size" in err((1, 1, 8, 8), kernel_size=2)
    assert "stride" in err((1, 1, 8, 8), kernel_size=(2, 2), stride=(0, 1))
    assert "padding" in err((1, 1, 8, 8), kernel_size=(2, 2), padding=(-1, 0))
    assert "only the batch dimension" in err((1, None, 8, 8), kernel_size=(2, 2))
    with pytest.raises(ShapeError, match="missing required attribute 'kernel_size'"):
        op.normalize({})


def test_max_dilation_and_avg_count_include_pad_checked():
    with pytest.raises(ShapeError, match="max_pool2d: dilation"):
        MAX.shape([(1, 1, 8, 8)], **MAX.normalize(dict(kernel_size=(2, 2), dilation=(0, 1))))
    with pytest.raises(ShapeError, match="avg_pool2d: count_include_pad must be a bool"):
        AVG.shape([(1, 1, 8, 8)], **AVG.normalize(dict(kernel_size=(2, 2), count_include_pad=1)))
    with pytest.raises(ShapeError, match="max_pool2d: output size"):
        MAX.real(np.zeros((1, 1, 2, 2)), **MAX.normalize(dict(kernel_size=(3, 3))))


# ---------------------------------------------------------------- PyTorch parity

@pytest.mark.parametrize("attrs", MAX_CONFIGS)
def test_max_pool_pytorch_parity(attrs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((2, 3, 9, 8))   # no ties: gradients agree
    a = MAX.normalize(attrs)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, a["kernel_size"], a["stride"], a["padding"], a["dilation"])
    y = MAX.real(x, **a)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(MAX.vjp(np.ones_like(y), y, x, **a)[0], tx.grad.numpy())


@pytest.mark.parametrize("attrs", AVG_CONFIGS)
def test_avg_pool_pytorch_parity(attrs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).standard_normal((2, 3, 9, 8))
    a = AVG.normalize(attrs)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.avg_pool2d(tx, a["kernel_size"], a["stride"], a["padding"],
                                        count_include_pad=a["count_include_pad"])
    y = AVG.real(x, **a)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(AVG.vjp(np.ones_like(y), y, x, **a)[0], tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", [MAX, AVG], ids=["max", "avg"])
def test_jvp_accepts_scalar_zero_tangent(op):
    x = np.random.default_rng(7).standard_normal((1, 2, 4, 4))
    a = op.normalize(dict(kernel_size=(2, 2)))
    y = op.real(x, **a)
    np.testing.assert_array_equal(op.jvp([0.0], y, x, **a), np.zeros_like(y))
