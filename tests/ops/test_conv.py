"""conv2d against naive loop references (forward and both derivatives), dtype,
shape-rule errors, and PyTorch parity when torch is installed."""

import itertools

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

OP = get_op("conv2d")


def naive_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    N, C, H, W = x.shape
    O, cg, kh, kw = w.shape
    og = O // groups
    ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((N, O, ho, wo))
    for n, o, i, j in itertools.product(range(N), range(O), range(ho), range(wo)):
        g = o // og
        acc = 0.0 if b is None else b[o]
        for c, p, q in itertools.product(range(cg), range(kh), range(kw)):
            r = i * stride[0] + p * dilation[0] - padding[0]
            s = j * stride[1] + q * dilation[1] - padding[1]
            if 0 <= r < H and 0 <= s < W:
                acc += w[o, c, p, q] * x[n, g * cg + c, r, s]
        y[n, o, i, j] = acc
    return y


def naive_conv2d_vjp(ct, x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    N, C, H, W = x.shape
    O, cg, kh, kw = w.shape
    og = O // groups
    gx, gw = np.zeros_like(x), np.zeros_like(w)
    _, _, ho, wo = ct.shape
    for n, o, i, j in itertools.product(range(N), range(O), range(ho), range(wo)):
        g = o // og
        for c, p, q in itertools.product(range(cg), range(kh), range(kw)):
            r = i * stride[0] + p * dilation[0] - padding[0]
            s = j * stride[1] + q * dilation[1] - padding[1]
            if 0 <= r < H and 0 <= s < W:
                gx[n, g * cg + c, r, s] += ct[n, o, i, j] * w[o, c, p, q]
                gw[o, c, p, q] += ct[n, o, i, j] * x[n, g * cg + c, r, s]
    return gx, gw, ct.sum(axis=(0, 2, 3))


CONFIGS = [
    # x shape, w shape, attrs
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 2, 8, 9), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    ((1, 4, 6, 7), (6, 2, 2, 3), dict(stride=(2, 2), padding=(1, 1), groups=2)),
    ((2, 3, 9, 8), (3, 1, 3, 3), dict(padding=(2, 1), dilation=(2, 3), groups=3)),
    ((2, 4, 5, 5), (8, 1, 3, 3), dict(padding=(1, 1), groups=4)),          # depthwise, multiplier 2
    ((1, 2, 3, 3), (2, 2, 5, 4), dict(padding=(1, 1), stride=(3, 2))),     # kernel > input
    ((3, 1, 5, 5), (2, 1, 1, 1), dict(stride=(2, 3))),                     # 1x1
    ((1, 1, 4, 4), (1, 1, 4, 4), {}),                                       # output 1x1
    ((2, 6, 7, 5), (4, 3, 2, 2), dict(stride=(3, 3), padding=(0, 1), dilation=(2, 1), groups=2)),
    ((2, 1, 7, 6), (12, 1, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),  # batch-first columns
]


def _full(attrs):
    return OP.normalize(attrs)


@pytest.mark.parametrize("xs,ws,attrs", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_matches_naive(xs, ws, attrs, bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if bias else None
    a = _full(attrs)
    ins = (x, w) if b is None else (x, w, b)
    y = OP.real(*ins, **a)
    np.testing.assert_allclose(y, naive_conv2d(x, w, b, **a), rtol=1e-12, atol=1e-12)
    assert y.shape == OP.shape([i.shape for i in ins], **a)
    assert y.flags.c_contiguous


@pytest.mark.parametrize("xs,ws,attrs", CONFIGS)
def test_vjp_matches_naive(xs, ws, attrs):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    a = _full(attrs)
    y = OP.real(x, w, b, **a)
    ct = rng.standard_normal(y.shape)
    got = OP.vjp(ct, y, x, w, b, **a)
    want = naive_conv2d_vjp(ct, x, w, **a)
    for g, e in zip(got, want):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-11)
    got2 = OP.vjp(ct, y, x, w, **a)
    assert len(got2) == 2
    np.testing.assert_allclose(got2[0], want[0], rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("batch_last", [False, True])
@pytest.mark.parametrize("xs,ws,attrs", CONFIGS)
def test_both_column_orders_match_naive(xs, ws, attrs, batch_last, monkeypatch):
    """The layout heuristic picks one im2col column order per layer: each order,
    forced on every configuration, gives the naive forward and gradients."""
    from certnn.ops import conv
    monkeypatch.setattr(conv, "_batch_last", lambda w, groups: batch_last)
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    a = _full(attrs)
    y = OP.real(x, w, b, **a)
    np.testing.assert_allclose(y, naive_conv2d(x, w, b, **a), rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(y.shape)
    for g, e in zip(OP.vjp(ct, y, x, w, b, **a), naive_conv2d_vjp(ct, x, w, **a)):
        np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("xs,ws,attrs", CONFIGS)
def test_jvp_is_bilinear_derivative(xs, ws, attrs):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    tx, tw, tb = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    a = _full(attrs)
    y = OP.real(x, w, b, **a)
    want = naive_conv2d(tx, w, None, **a) + naive_conv2d(x, tw, None, **a) + tb[None, :, None, None]
    np.testing.assert_allclose(OP.jvp([tx, tw, tb], y, x, w, b, **a), want, rtol=1e-11, atol=1e-11)


def test_float32_stays_float32_and_close_to_float64():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((4, 3, 10, 10)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    a = _full(dict(padding=(1, 1), stride=(2, 1)))
    y64 = OP.real(x, w, b, **a)
    x32, w32, b32 = (v.astype(np.float32) for v in (x, w, b))
    y32 = OP.real(x32, w32, b32, **a)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4)
    ct = rng.standard_normal(y32.shape).astype(np.float32)
    gs = OP.vjp(ct, y32, x32, w32, b32, **a)
    assert all(g.dtype == np.float32 for g in gs)
    assert OP.jvp([x32, w32, b32], y32, x32, w32, b32, **a).dtype == np.float32


def test_zero_batch():
    a = _full({})
    y = OP.real(np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), **a)
    assert y.shape == (0, 3, 3, 3)


# ---------------------------------------------------------------- shape rule

def test_shape_rule_dynamic_batch():
    a = _full(dict(stride=(2, 2), padding=(1, 1)))
    assert OP.shape([(None, 1, 28, 28), (8, 1, 3, 3), (8,)], **a) == (None, 8, 14, 14)
    assert OP.shape([(None, 4, 9, 9), (6, 2, 3, 3)], **_full(dict(groups=2))) == (None, 6, 7, 7)


def _err(shapes, **attrs):
    with pytest.raises(ShapeError) as e:
        OP.shape(shapes, **_full(attrs))
    msg = str(e.value)
    assert msg.startswith("conv2d:"), msg
    return msg


def test_channel_mismatch_message():
    msg = _err([(None, 3, 32, 32), (8, 1, 3, 3)])
    assert msg == ("conv2d: input has 3 channels but weight expects 1 (groups=1): "
                   "input (N, 3, 32, 32), weight (8, 1, 3, 3)")
    msg = _err([(2, 4, 8, 8), (6, 1, 3, 3)], groups=3)
    assert "input has 4 channels but weight expects 3 (groups=3)" in msg


def test_groups_must_divide_output_channels():
    msg = _err([(2, 4, 8, 8), (5, 2, 3, 3)], groups=2)
    assert "5 output channels" in msg and "groups=2" in msg and "(5, 2, 3, 3)" in msg


def test_bias_shape():
    msg = _err([(2, 3, 8, 8), (4, 3, 3, 3), (3,)])
    assert "bias" in msg and "(4,)" in msg and "(3,)" in msg


def test_ranks():
    assert "input must be 4-D" in _err([(3, 32, 32), (8, 3, 3, 3)])
    assert "(3, 32, 32)" in _err([(3, 32, 32), (8, 3, 3, 3)])
    assert "weight must be 4-D" in _err([(1, 3, 32, 32), (8, 3, 3)])
    assert "only the batch dimension" in _err([(1, 3, None, 32), (8, 3, 3, 3)])


def test_output_size_below_one():
    msg = _err([(1, 1, 2, 5), (1, 1, 3, 3)])
    assert "output size would be 0x3" in msg and "(1, 1, 2, 5)" in msg
    msg = _err([(1, 1, 5, 5), (1, 1, 3, 3)], dilation=(3, 1))
    assert "dilated" in msg and "7x3" in msg


@pytest.mark.parametrize("name,value", [
    ("stride", (0, 1)), ("stride", 2), ("stride", (1, 2, 3)), ("stride", (1.0, 1)), ("stride", (True, 1)),
    ("padding", (-1, 0)), ("dilation", (1, 0)), ("groups", 0), ("groups", 1.5)])
def test_bad_attributes(name, value):
    msg = _err([(1, 2, 8, 8), (2, 2, 3, 3)], **{name: value})
    assert name in msg


def test_real_checks_shapes_too():
    with pytest.raises(ShapeError, match="conv2d: input has 3 channels"):
        OP.real(np.zeros((1, 3, 5, 5)), np.zeros((2, 2, 3, 3)), **_full({}))


def test_registry_flags():
    assert OP.arity == (2, 3) and not OP.linear
    assert OP.normalize({}) == {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1}


# ---------------------------------------------------------------- PyTorch parity

@pytest.mark.parametrize("xs,ws,attrs", CONFIGS)
def test_pytorch_parity(xs, ws, attrs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    a = _full(attrs)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **a)
    y = OP.real(x, w, b, **a)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    ct = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(ct))
    for g, t in zip(OP.vjp(ct, y, x, w, b, **a), (tx, tw, tb)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_jvp_accepts_scalar_zero_tangents():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    a = _full(dict(padding=(1, 1)))
    y = OP.real(x, w, b, **a)
    tw = rng.standard_normal(w.shape)
    np.testing.assert_allclose(OP.jvp([0.0, tw, 0.0], y, x, w, b, **a), OP.real(x, tw, **a), rtol=1e-13)


@pytest.mark.parametrize("xs,ws,attrs", [((3, 4, 7, 7), (8, 4, 3, 3), dict(padding=(1, 1))),
                                         ((2, 3, 9, 8), (6, 3, 3, 3), dict(stride=(2, 2), padding=(1, 1))),
                                         ((2, 4, 6, 6), (4, 2, 1, 1), dict(groups=2))])
def test_vjp_with_the_forward_columns_equals_recomputing_them(xs, ws, attrs):
    from certnn.ops.conv import _COLUMNS, _columns_key
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    a = dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1) | attrs
    op = get_op("conv2d")
    y = op.real(x, w, **a)
    assert _COLUMNS.get(x, _columns_key(w, **a)) is not None
    ct = rng.standard_normal(y.shape).astype(np.float32)
    hit = op.vjp(ct, y, x, w, **a)
    miss = op.vjp(ct, y, x.copy(), w, **a)
    assert all(h.tobytes() == m.tobytes() for h, m in zip(hit, miss))


@pytest.mark.parametrize("groups,dilation", [(1, (1, 1)), (2, (2, 1))])
def test_interval_centre_and_radius_in_one_grouped_call_equal_two_calls(groups, dilation):
    """The interval rule computes conv(mid, w) and conv(rad, |w|) as one convolution
    with twice the groups: the same numbers as two calls, bit for bit."""
    from certnn.floats import interval as iv
    from certnn.ops.conv import _pair, real
    rng = np.random.default_rng(groups)
    x = rng.normal(size=(2, 4, 9, 8))
    w = rng.normal(size=(6, 4 // groups, 3, 2))
    a = dict(stride=(2, 1), padding=(1, 1), dilation=dilation, groups=groups)
    f = lambda x_, w_: real(x_, w_, **a)  # noqa: E731
    two = iv.bilinear(f, x - 0.1, x + 0.2, w, w, 4 // groups * 6)
    one = iv.bilinear(f, x - 0.1, x + 0.2, w, w, 4 // groups * 6, pair=lambda *t: _pair(*t, **a))
    for p, q in zip(one, two):
        np.testing.assert_array_equal(p, q)
    lo, hi = get_op("conv2d").interval([x - 0.1, w], [x + 0.2, w], **a)
    np.testing.assert_array_equal(lo, one[0])
    np.testing.assert_array_equal(hi, one[1])
