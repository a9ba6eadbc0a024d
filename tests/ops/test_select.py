"""The ``where`` op and the elementwise vjp's strong zero: where(y != 0, x / y, 0)
has the gradients of its safe formulation (PyTorch's are NaN: BugZoo card 11)."""

import numpy as np
import pytest

import certnn.functional as F
from certnn import compile as compile_, run
from certnn.errors import ShapeError
from certnn.ops import get_op
from certnn.tensor import Tensor


def test_where_selects_and_routes_the_cotangent():
    c = np.array([True, False, True])
    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    y = F.where(c, a, b)
    assert y.data.tolist() == [1.0, 20.0, 3.0]
    F.sum(y * Tensor(np.array([2.0, 3.0, 4.0]))).backward()
    assert a.grad.tolist() == [2.0, 0.0, 4.0] and b.grad.tolist() == [0.0, 3.0, 0.0]


def test_safe_division_gradients_are_finite():
    x = Tensor(np.array([1.0, 2.0, -3.0]), requires_grad=True)
    y = Tensor(np.array([0.0, 4.0, 0.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        F.sum(F.where(y.data != 0, x / y, Tensor(np.zeros(3)))).backward()
    assert x.grad.tolist() == [0.0, 0.25, 0.0]
    assert y.grad.tolist() == [0.0, -0.125, 0.0]


def test_strong_zero_only_where_the_cotangent_is_zero():
    """A nonzero cotangent through an infinite partial stays infinite (no masking of real blow-ups)."""
    vjp = get_op("div").vjp
    with np.errstate(divide="ignore"):
        out = np.array([1.0, 0.5]) / np.array([0.0, 2.0])
        da, db = vjp(np.array([1.0, 1.0]), out, np.array([1.0, 1.0]), np.array([0.0, 2.0]))
    assert np.isinf(da[0]) and da[1] == 0.5
    with np.errstate(divide="ignore"):
        da, db = vjp(np.array([0.0, 1.0]), out, np.array([1.0, 1.0]), np.array([0.0, 2.0]))
    assert da.tolist() == [0.0, 0.5] and np.isfinite(db).all()


def test_where_condition_must_be_boolean():
    with pytest.raises(ShapeError, match="condition must be boolean"):
        get_op("where").real(np.array([0.5, 1.0]), np.ones(2), np.zeros(2))


def test_where_in_binary32_semantics_ignores_the_branch_not_taken():
    from certnn import nn

    class Safe(nn.Module):
        def forward(self, x):
            return F.where(np.array([True, False]), x, Tensor(np.array([np.inf, -1.0], np.float32)))
    x = np.array([[3.0, 4.0]], np.float32)
    g = compile_(Safe().eval(), x).graph
    assert np.asarray(run(g, x, semantics="binary32")).tolist() == [[3.0, -1.0]]
