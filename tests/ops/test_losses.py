"""cross_entropy and mse: naive references, reductions, ignore_index, the
all-ignored convention, error messages, dtype, and use through the tape."""

import math

import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.ops import get_op
from certnn.tensor import Tensor, apply

CE, MSE = get_op("cross_entropy"), get_op("mse")


def _naive_ce_rows(logits, target, ignore_index=-100):
    out = []
    for row, t in zip(logits, target):
        if t == ignore_index:
            out.append(0.0)
            continue
        lse = math.log(sum(math.exp(v) for v in row))
        out.append(lse - row[t])
    return np.array(out)


def _data(n=6, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)), rng.integers(0, c, size=n)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_naive(reduction):
    logits, target = _data()
    target[[1, 4]] = -100
    rows = _naive_ce_rows(logits, target)
    want = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / 4}[reduction]
    y = CE.real(logits, target, ignore_index=-100, reduction=reduction)
    np.testing.assert_allclose(y, want, rtol=1e-13)
    assert y.shape == CE.shape([logits.shape, target.shape], ignore_index=-100, reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_vjp_reference(reduction):
    logits, target = _data(seed=1)
    target[2] = 7
    ct = np.random.default_rng(2).standard_normal(6) if reduction == "none" else np.array(1.7)
    y = CE.real(logits, target, ignore_index=7, reduction=reduction)
    g, gt = CE.vjp(ct, y, logits, target, ignore_index=7, reduction=reduction)
    assert gt is None
    ref = np.zeros_like(logits)
    for i in range(6):
        if target[i] == 7:
            continue
        p = np.exp(logits[i]) / np.exp(logits[i]).sum()
        p[target[i]] -= 1
        w = ct[i] if reduction == "none" else ct / (5 if reduction == "mean" else 1)
        ref[i] = w * p
    np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-15)


def test_cross_entropy_all_ignored_is_zero_with_zero_gradient():
    logits = np.random.default_rng(3).standard_normal((3, 4))
    target = np.full(3, -100)
    for reduction in ("mean", "sum"):
        y = CE.real(logits, target, ignore_index=-100, reduction=reduction)
        assert y.shape == () and float(y) == 0.0 and not np.isnan(y)
        g, _ = CE.vjp(np.array(1.0), y, logits, target, ignore_index=-100, reduction=reduction)
        assert np.all(g == 0.0)
        assert float(CE.jvp([np.ones_like(logits), None], y, logits, target, ignore_index=-100,
                            reduction=reduction)) == 0.0
    np.testing.assert_array_equal(CE.real(logits, target, reduction="none"), np.zeros(3))


def test_cross_entropy_stable_for_large_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [5e4, 5e4, 5e4]])
    target = np.array([1, 2])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = CE.real(logits, target, reduction="none")
        g, _ = CE.vjp(np.ones(2), y, logits, target, reduction="none")
    np.testing.assert_allclose(y, [1000.0, math.log(3)], rtol=1e-14)
    np.testing.assert_allclose(g, [[1.0, -1.0, 0.0], [1 / 3, 1 / 3, -2 / 3]], atol=1e-15)


def test_cross_entropy_errors():
    logits, target = _data()
    target[3] = 12
    with pytest.raises(ShapeError, match=r"cross_entropy: target value 12 is out of range for 4 classes"):
        CE.real(logits, target)
    target[3] = -1
    with pytest.raises(ShapeError, match="target value -1 is out of range"):
        CE.vjp(np.array(1.0), None, logits, target)
    with pytest.raises(ShapeError, match="integer class indices"):
        CE.real(logits, np.zeros(6))
    with pytest.raises(ShapeError, match=r"expected logits \(N, C\) and target \(N,\), got logits \(6, 4\) "
                                         r"and target \(5,\)"):
        CE.shape([(6, 4), (5,)])
    with pytest.raises(ShapeError, match="got logits"):
        CE.shape([(6,), (6,)])
    with pytest.raises(ShapeError, match="reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        CE.shape([(6, 4), (6,)], reduction="avg")
    assert CE.shape([(None, 10), (None,)], ignore_index=-100, reduction="none") == (None,)
    assert CE.shape([(None, 10), (None,)], ignore_index=-100, reduction="mean") == ()


def test_cross_entropy_float32_and_target_not_differentiable():
    logits, target = _data(64, 10)
    logits = logits.astype(np.float32)
    y = CE.real(logits, target)
    assert y.dtype == np.float32 and y.shape == ()
    g, gt = CE.vjp(np.ones_like(y), y, logits, target)
    assert g.dtype == np.float32 and gt is None
    assert CE.differentiable == (True, False)
    np.testing.assert_allclose(y, _naive_ce_rows(logits.astype(np.float64), target).mean(), rtol=1e-5)


def test_cross_entropy_through_the_tape():
    logits, target = _data(8, 5, seed=4)
    x = Tensor(logits.astype(np.float32), requires_grad=True)
    loss = apply("cross_entropy", x, target)
    loss.backward()
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    p[np.arange(8), target] -= 1
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, p / 8, rtol=1e-5, atol=1e-7)


# ---- mse ----------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_values_and_grads(reduction):
    rng = np.random.default_rng(5)
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    sq = np.array([[(a - b) ** 2 for a, b in zip(r1, r2)] for r1, r2 in zip(p, t)])
    want = {"none": sq, "sum": sq.sum(), "mean": sq.sum() / 12}[reduction]
    y = MSE.real(p, t, reduction=reduction)
    np.testing.assert_allclose(y, want, rtol=1e-13)
    assert y.shape == MSE.shape([p.shape, t.shape], reduction=reduction)
    ct = rng.standard_normal(y.shape)
    gp, gt = MSE.vjp(ct, y, p, t, reduction=reduction)
    ref = 2 * (p - t) * ct / (12 if reduction == "mean" else 1)
    np.testing.assert_allclose(gp, ref, rtol=1e-13)
    np.testing.assert_allclose(gt, -ref, rtol=1e-13)


def test_mse_errors_dtype_and_dynamic():
    with pytest.raises(ShapeError, match=r"mse: pred \(4, 3\) and target \(4, 1\) must have the same shape"):
        MSE.shape([(4, 3), (4, 1)])
    with pytest.raises(ShapeError, match="reduction must be one of"):
        MSE.shape([(4, 3), (4, 3)], reduction="max")
    assert MSE.shape([(None, 3), (None, 3)], reduction="none") == (None, 3)
    p = np.ones((3, 2), np.float32)
    y = MSE.real(p, np.zeros((3, 2), np.float32))
    assert y.dtype == np.float32 and float(y) == 1.0
    assert all(g.dtype == np.float32 for g in MSE.vjp(np.ones_like(y), y, p, np.zeros_like(p)))
