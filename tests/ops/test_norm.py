"""batch_norm (eval mode) and layer_norm against naive loop references, all
input derivatives, dtype, shape-rule errors, and PyTorch parity when torch is installed."""

import itertools

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op

BN = get_op("batch_norm")
LN = get_op("layer_norm")


def naive_bn(x, w, b, m, v, eps):
    y = np.empty_like(x)
    for idx in itertools.product(*map(range, x.shape)):
        c = idx[1]
        y[idx] = (x[idx] - m[c]) / np.sqrt(v[c] + eps) * w[c] + b[c]
    return y


def naive_ln(x, w, b, eps):
    k = w.ndim
    lead = x.shape[:x.ndim - k]
    y = np.empty_like(x)
    for idx in itertools.product(*map(range, lead)):
        row = x[idx]
        mu = row.sum() / row.size
        var = ((row - mu) ** 2).sum() / row.size
        y[idx] = (row - mu) / np.sqrt(var + eps) * w + b
    return y


def fd_grads(f, xs, ct, h=1e-6):
    """Central-difference gradient of <ct, f(xs)> with respect to every element of every input."""
    grads = []
    for i, x in enumerate(xs):
        g = np.zeros_like(x)
        for idx in itertools.product(*map(range, x.shape)):
            plus = [a.copy() for a in xs]
            minus = [a.copy() for a in xs]
            plus[i][idx] += h
            minus[i][idx] -= h
            g[idx] = np.sum(ct * (f(*plus) - f(*minus))) / (2 * h)
        grads.append(g)
    return grads


def _bn_inputs(rng, xshape):
    c = xshape[1]
    return (rng.standard_normal(xshape), rng.uniform(0.5, 1.5, c), rng.standard_normal(c),
            rng.standard_normal(c), rng.uniform(0.2, 2.0, c))


@pytest.mark.parametrize("xshape", [(4, 3), (2, 3, 4, 5), (2, 4, 6)])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_batch_norm_matches_naive(xshape, eps):
    rng = np.random.default_rng(0)
    ins = _bn_inputs(rng, xshape)
    y = BN.real(*ins, eps=eps)
    np.testing.assert_allclose(y, naive_bn(*ins, eps), rtol=1e-13, atol=1e-13)
    assert y.shape == BN.shape([a.shape for a in ins], eps=eps)


@pytest.mark.parametrize("xshape", [(3, 2), (2, 2, 2, 3)])
def test_batch_norm_vjp_jvp_all_inputs(xshape):
    rng = np.random.default_rng(1)
    ins = _bn_inputs(rng, xshape)
    eps = 1e-3
    y = BN.real(*ins, eps=eps)
    ct = rng.standard_normal(y.shape)
    got = BN.vjp(ct, y, *ins, eps=eps)
    want = fd_grads(lambda *a: naive_bn(*a, eps), list(ins), ct)
    assert len(got) == 5
    for g, e, a in zip(got, want, ins):
        assert g.shape == a.shape                     # exact input shapes, no unbroadcasting needed
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    ts = [rng.standard_normal(a.shape) for a in ins]
    lhs = np.sum(ct * BN.jvp(ts, y, *ins, eps=eps))
    assert np.isclose(lhs, sum(np.sum(g * t) for g, t in zip(got, ts)), rtol=1e-12)


def test_batch_norm_float32():
    ins = [a.astype(np.float32) for a in _bn_inputs(np.random.default_rng(2), (2, 3, 4, 4))]
    y = BN.real(*ins, eps=1e-5)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in BN.vjp(np.ones_like(y), y, *ins, eps=1e-5))
    assert BN.jvp(ins, y, *ins, eps=1e-5).dtype == np.float32


def test_batch_norm_shape_errors():
    c3 = (3,)
    assert BN.shape([(None, 3, 8, 8), c3, c3, c3, c3], eps=1e-5) == (None, 3, 8, 8)
    with pytest.raises(ShapeError) as e:
        BN.shape([(None, 3, 8, 8), c3, c3, (4,), c3], eps=1e-5)
    msg = str(e.value)
    assert msg.startswith("batch_norm:") and "running_mean" in msg and "(4,)" in msg and "(N, 3, 8, 8)" in msg
    with pytest.raises(ShapeError, match="batch_norm: input must have at least 2 dimensions"):
        BN.shape([(3,), c3, c3, c3, c3], eps=1e-5)
    with pytest.raises(ShapeError, match="batch_norm: weight must have shape"):
        BN.shape([(2, 3), (1, 3), c3, c3, c3], eps=1e-5)
    with pytest.raises(ShapeError, match="batch_norm: eps"):
        BN.shape([(2, 3), c3, c3, c3, c3], eps=-1.0)
    with pytest.raises(ShapeError, match="expected 5 inputs"):
        BN.check_arity(3)


@pytest.mark.parametrize("xshape,k", [((3, 5), 1), ((2, 3, 4), 2), ((2, 3, 6), 1), ((4, 3), 2), ((5,), 1)])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_layer_norm_matches_naive(xshape, k, eps):
    rng = np.random.default_rng(3)
    ns = xshape[len(xshape) - k:]
    x, w, b = rng.standard_normal(xshape), rng.standard_normal(ns), rng.standard_normal(ns)
    y = LN.real(x, w, b, eps=eps)
    np.testing.assert_allclose(y, naive_ln(x, w, b, eps), rtol=1e-12, atol=1e-12)
    assert y.shape == LN.shape([x.shape, w.shape, b.shape], eps=eps)


@pytest.mark.parametrize("xshape,k", [((3, 4), 1), ((2, 2, 3), 2)])
def test_layer_norm_vjp_jvp_all_inputs(xshape, k):
    rng = np.random.default_rng(4)
    ns = xshape[len(xshape) - k:]
    ins = [rng.standard_normal(xshape), rng.standard_normal(ns), rng.standard_normal(ns)]
    eps = 1e-3
    y = LN.real(*ins, eps=eps)
    ct = rng.standard_normal(y.shape)
    got = LN.vjp(ct, y, *ins, eps=eps)
    want = fd_grads(lambda *a: naive_ln(*a, eps), ins, ct)
    for g, e, a in zip(got, want, ins):
        assert g.shape == a.shape
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    ts = [rng.standard_normal(a.shape) for a in ins]
    lhs = np.sum(ct * LN.jvp(ts, y, *ins, eps=eps))
    assert np.isclose(lhs, sum(np.sum(g * t) for g, t in zip(got, ts)), rtol=1e-12)


def test_layer_norm_output_is_normalised_and_float32():
    x = np.random.default_rng(5).standard_normal((4, 7)).astype(np.float32) * 10 + 3
    w, b = np.ones(7, np.float32), np.zeros(7, np.float32)
    y = LN.real(x, w, b, eps=1e-5)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-4)               # biased variance
    assert all(g.dtype == np.float32 for g in LN.vjp(np.ones_like(y), y, x, w, b, eps=1e-5))
    # the cotangent to x is orthogonal to constant shifts (mean-invariance)
    gx = LN.vjp(np.random.default_rng(6).standard_normal((4, 7)), y, x.astype(float), w * 1.0, b * 1.0,
                eps=1e-5)[0]
    np.testing.assert_allclose(gx.sum(axis=1), 0, atol=1e-10)


def test_layer_norm_shape_errors():
    assert LN.shape([(None, 5, 8), (8,), (8,)], eps=1e-5) == (None, 5, 8)
    assert LN.shape([(None, 5, 8), (5, 8), (5, 8)], eps=1e-5) == (None, 5, 8)

    def err(shapes):
        with pytest.raises(ShapeError) as e:
            LN.shape(shapes, eps=1e-5)
        assert str(e.value).startswith("layer_norm:")
        return str(e.value)

    msg = err([(None, 5, 8), (5,), (5,)])
    assert "(N, 5, 8)" in msg and "(5,)" in msg and "normalized shape" in msg
    assert "bias shape (4,)" in err([(2, 8), (8,), (4,)])
    assert "at least 1 dimension" in err([(2, 8), (), ()])
    assert "(7, 8)" in err([(8,), (7, 8), (7, 8)])


# ---------------------------------------------------------------- PyTorch parity

def test_pytorch_parity():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    ins = _bn_inputs(rng, (2, 3, 4, 5))
    # torch does not differentiate the running statistics; our rules for them are
    # checked against finite differences above
    tins = [torch.tensor(a, requires_grad=i < 3) for i, a in enumerate(ins)]
    tx, tw, tb, tm, tv = tins
    ty = torch.nn.functional.batch_norm(tx, tm, tv, tw, tb, training=False, eps=1e-5)
    y = BN.real(*ins, eps=1e-5)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(ct))
    got = BN.vjp(ct, y, *ins, eps=1e-5)
    for g, t in zip(got[:3], tins[:3]):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)

    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = torch.nn.functional.layer_norm(tins[0], (3, 4), tins[1], tins[2], eps=1e-5)
    y = LN.real(x, w, b, eps=1e-5)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(ct))
    for g, t in zip(LN.vjp(ct, y, x, w, b, eps=1e-5), tins):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_jvp_accepts_scalar_zero_tangents():
    rng = np.random.default_rng(8)
    ins = _bn_inputs(rng, (2, 3, 2, 2))
    y = BN.real(*ins, eps=1e-5)
    tb = rng.standard_normal(3)
    np.testing.assert_allclose(BN.jvp([0.0, 0.0, tb, 0.0, 0.0], y, *ins, eps=1e-5),
                               np.broadcast_to(tb.reshape(1, 3, 1, 1), y.shape))
    x, w, b = rng.standard_normal((2, 4)), rng.standard_normal(4), rng.standard_normal(4)
    y = LN.real(x, w, b, eps=1e-5)
    np.testing.assert_allclose(LN.jvp([0.0, 0.0, b], y, x, w, b, eps=1e-5), np.broadcast_to(b, y.shape))


BNT = get_op("batch_norm_train")


@pytest.mark.parametrize("xshape,eps", [((6, 3), 1e-5), ((4, 3, 5, 5), 1e-5), ((3, 2, 7), 1e-3)])
def test_batch_norm_train_float64_value_and_gradients_equal_torch(xshape, eps):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, ct = rng.standard_normal(xshape) * 3 + 1, rng.standard_normal(xshape)
    w, b = rng.uniform(0.5, 1.5, xshape[1]), rng.uniform(-1, 1, xshape[1])
    y = BNT.real(x, w, b, eps=eps)
    gx, gw, gb = BNT.vjp(ct, y, x, w, b, eps=eps)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True, eps=eps)
    ty.backward(torch.tensor(ct))
    for ours, theirs in ((y, ty), (gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-11, atol=1e-12)


def test_batch_norm_train_constant_channel_is_the_bias_and_float32_stays():
    x = np.full((5, 2, 3, 3), 1e6, np.float32)
    x[:, 1] = np.arange(45, dtype=np.float32).reshape(5, 3, 3)
    y = BNT.real(x, np.ones(2, np.float32), np.array([0.25, 0.0], np.float32), eps=1e-5)
    assert y.dtype == np.float32 and np.all(y[:, 0] == np.float32(0.25))
    assert abs(float(y[:, 1].mean())) < 1e-6 and abs(float(y[:, 1].std()) - 1) < 1e-4


def test_batch_norm_train_shape_errors():
    with pytest.raises(ShapeError, match="weight must have shape"):
        BNT.shape([(2, 3, 4, 4), (4,), (3,)], eps=1e-5)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        BNT.shape([(3,), (3,), (3,)], eps=1e-5)


def test_batch_norm_layer_running_statistics_from_the_op_equal_torch():
    torch = pytest.importorskip("torch")
    from certnn import nn
    from certnn.tensor import Tensor
    x = np.random.default_rng(5).standard_normal((8, 3, 4, 4)).astype(np.float32) * 2 + 0.5
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    for _ in range(2):
        y = ours(Tensor(x)).data
        ty = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-6, atol=1e-7)
