"""The bound sweep's transposed convolution is the adjoint of the conv2d op, in both
col2im layouts (rows innermost when there are more rows than output columns)."""

import numpy as np
import pytest

from certnn.bounds.net import conv_transpose
from certnn.ops import get_op


@pytest.mark.parametrize("rows", [1, 3, 40])
@pytest.mark.parametrize("attrs,xs,ws", [
    (dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1), (3, 5, 6), (4, 3, 3, 2)),
    (dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1), (2, 7, 8), (3, 2, 3, 3)),
    (dict(stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=2), (4, 6, 7), (6, 2, 2, 3)),
    (dict(stride=(3, 2), padding=(0, 1), dilation=(2, 1), groups=1), (1, 9, 9), (2, 1, 2, 2)),
])
def test_conv_transpose_is_the_adjoint_of_the_op(rows, attrs, xs, ws):
    rng = np.random.default_rng(rows)
    x, w = rng.normal(size=(1,) + xs), rng.normal(size=ws)
    y = np.asarray(get_op("conv2d").real(x, w, **attrs))
    a = rng.normal(size=(rows,) + y.shape[1:])
    lhs = np.einsum("kohw,ohw->k", a, y[0])
    rhs = np.einsum("kchw,chw->k", conv_transpose(a, w, xs, **attrs), x[0])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def _conv_net(hw, ch):
    from certnn.bounds.net import analyze
    from certnn.ir.graph import Graph, Node
    rng = np.random.default_rng(hw)
    p = {"w": rng.normal(size=(ch, ch, 3, 3)).astype(np.float32), "b": rng.normal(size=(ch,)).astype(np.float32)}
    nodes = [Node("x", "input", shape=(None, ch, hw, hw)), Node("w", "param", shape=p["w"].shape),
             Node("b", "param", shape=p["b"].shape),
             Node("c", "conv2d", ("x", "w", "b"), {"stride": (1, 1), "padding": (1, 1)}),
             Node("r", "relu", ("c",))]
    return analyze(Graph(nodes, ["r"], p).validate()), p


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_map_convolutions_are_one_matrix_with_the_same_maps(dtype):
    """On a 2x2 map most taps fall in the padding: the sweep uses the conv's matrix
    there (one GEMM), and it computes the op's forward map and its adjoint."""
    net, p = _conv_net(2, 8)
    wnet = net.working(dtype)
    form = wnet._conv_form("c")
    assert form[0] == "dense" and form[1].dtype == dtype
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 8, 2, 2))
    attrs = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    y = np.asarray(get_op("conv2d").real(x, p["w"], p["b"], **attrs))
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(wnet.apply("c", [x.astype(dtype)]), y, rtol=tol, atol=tol)
    a = rng.normal(size=(7, 8, 2, 2))
    (t,) = wnet.transpose("c", a.astype(dtype))
    np.testing.assert_allclose(t, conv_transpose(a, p["w"], (8, 2, 2), **attrs), rtol=tol, atol=tol)


def test_large_maps_get_no_dense_matrix():
    net, _ = _conv_net(16, 8)
    assert net._conv_form("c")[0] != "dense"


@pytest.mark.parametrize("xs,ws,padding", [((3, 8, 8), (4, 3, 3, 3), (1, 1)), ((2, 9, 7), (5, 2, 3, 2), (2, 1)),
                                           ((4, 6, 10), (3, 4, 1, 1), (0, 0)), ((1, 5, 5), (2, 1, 5, 5), (0, 4))])
def test_shifted_gemm_convolution_is_the_op(xs, ws, padding):
    from certnn.bounds.net import conv_shifted
    rng = np.random.default_rng(len(xs) + ws[0])
    x, w = rng.normal(size=(6,) + xs), rng.normal(size=ws)
    attrs = dict(stride=(1, 1), padding=padding, dilation=(1, 1), groups=1)
    np.testing.assert_allclose(conv_shifted(x, w, padding), get_op("conv2d").real(x, w, **attrs),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_stride_one_maps_run_as_shifted_gemms_with_the_same_maps(dtype):
    net, p = _conv_net(8, 4)
    wnet = net.working(dtype)
    assert wnet._conv_form("c")[0] == "shifted"
    rng = np.random.default_rng(1)
    attrs = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    x, a = rng.normal(size=(3, 4, 8, 8)), rng.normal(size=(5, 4, 8, 8))
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(wnet.apply("c", [x.astype(dtype)]), get_op("conv2d").real(x, p["w"], p["b"], **attrs),
                               rtol=tol, atol=tol)
    (t,) = wnet.transpose("c", a.astype(dtype))
    assert t.dtype == dtype
    np.testing.assert_allclose(t, conv_transpose(a, p["w"], (4, 8, 8), **attrs), rtol=tol, atol=tol)


def test_shifted_gemm_convolution_in_chunks_of_rows(monkeypatch):
    import certnn.bounds.net as net_mod
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(11, 3, 8, 8)), rng.normal(size=(4, 3, 3, 3))
    whole = net_mod.conv_shifted(x, w, (1, 1))
    monkeypatch.setattr(net_mod, "SHIFTED_CHUNK", 3 * 4 * 11 * 10)      # 3 rows per chunk
    np.testing.assert_array_equal(net_mod.conv_shifted(x, w, (1, 1)), whole)
