"""masked_softmax: the softmax of the kept entries with exact zeros elsewhere;
fully masked rows are zeros with zero gradient (never NaN); binary32 follows
its definition step by step."""

import numpy as np
import pytest

from certnn import Tensor
from certnn import functional as F
from certnn.floats import b32
from certnn.ops import get_op

OP = get_op("masked_softmax")


def test_equals_softmax_of_the_kept_entries():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6)) * 3
    keep = rng.random((4, 6)) > 0.4
    keep[:, 0] = True
    y = OP.real(x, keep)
    for r in range(4):
        e = np.exp(x[r, keep[r]] - x[r, keep[r]].max())
        np.testing.assert_allclose(y[r, keep[r]], e / e.sum(), rtol=1e-14)
        assert np.all(y[r, ~keep[r]] == 0)


def test_fully_masked_row_is_zero_with_zero_gradient():
    x = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, -1.0, 0.5]]), requires_grad=True)
    keep = np.array([[True, False, True], [False, False, False]])
    y = F.masked_softmax(x, keep)
    assert np.all(np.isfinite(y.data)) and np.all(y.data[1] == 0)
    F.sum(y * Tensor(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]))).backward()
    assert np.all(x.grad[1] == 0) and x.grad[0, 1] == 0 and np.all(np.isfinite(x.grad))
    lo, hi = OP.interval([x.data, keep], [x.data + 1, keep])
    assert np.all(lo[1] == 0) and np.all(hi[1] == 0)
    assert np.all(OP.binary32(x.data.astype(np.float32), keep)[1] == 0)


def test_large_logits_do_not_overflow():
    x = np.array([[1000.0, 999.0, -1000.0]])
    y = OP.real(x, np.array([True, True, False]))
    np.testing.assert_allclose(y, [[1 / (1 + np.exp(-1)), 1 / (1 + np.e), 0.0]], rtol=1e-14)


@pytest.mark.parametrize("order", b32.ORDERS)
def test_binary32_follows_the_definition(order):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(5, 7)) * 4).astype(np.float32)
    keep = rng.random((5, 7)) > 0.3
    keep[2] = False
    y = OP.binary32(x, keep, order=order)
    for r in range(5):
        if not keep[r].any():
            assert np.all(y[r] == 0) and not np.signbit(y[r]).any()
            continue
        kept = x[r, keep[r]]
        z = (x[r] - kept.max()).astype(np.float32)
        e = np.where(keep[r], b32.b32_exp(np.where(keep[r], z, np.float32(0))), np.float32(0))
        s = e[0]
        if order == "sequential":
            for t in e[1:]:
                s = np.float32(s + t)
        else:
            s = b32.colsum(e[:, None], "pairwise")[0]
        want = np.where(keep[r], (e / s).astype(np.float32), np.float32(0))
        assert np.array_equal(y[r].view(np.uint32), want.view(np.uint32)), r


def test_mask_must_be_boolean_and_broadcast():
    from certnn.errors import ShapeError
    with pytest.raises(ShapeError, match="boolean"):
        OP.real(np.zeros((2, 3)), np.full((2, 3), 0.5))
    with pytest.raises(ShapeError, match="broadcast"):
        F.masked_softmax(Tensor(np.zeros((2, 3))), np.ones((2, 4), bool))
