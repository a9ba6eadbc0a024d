"""Local derivative laws: a sample of the slower adjoint proofs, and wrong rules
(a vjp that is not the adjoint, a jvp that is not the derivative, a wrong
partial derivative) are caught."""

from dataclasses import replace

import numpy as np
import pytest

from certnn.ops import get_op
from certnn.ops.registry import Sample
from certnn.proofs import derivatives as D
from certnn.proofs.theorems import ProofFailed


def test_conv2d_with_stride_padding_dilation_and_groups():
    op = get_op("conv2d")
    D._laws_at(op, Sample((np.zeros((1, 4, 3, 3)), np.zeros((4, 2, 2, 2)), np.zeros(4)),
                          {"groups": 2, "padding": (1, 1), "stride": (2, 1), "dilation": (1, 2)}))


def test_softmax_cross_entropy_jacobians():
    D._laws_at(get_op("softmax"), Sample((np.zeros((2, 3)),), {"axis": 0}))
    D._laws_at(get_op("cross_entropy"), Sample((np.zeros((2, 3)), np.array([2, -100]))))


def _bad_linear_vjp(ct, out, x, w, b=None, needs=None):
    gx, gw, gb = get_op("linear").vjp(ct, out, x, w, b)
    return gx, gw, gb * 2                              # the bias cotangent doubled


def _bad_linear_jvp(tangents, out, x, w, b=None):
    return get_op("linear").jvp([tangents[0], 0 * tangents[1], tangents[2]], out, x, w, b)  # drops dW


@pytest.mark.parametrize("field,bad,match", [
    ("vjp", _bad_linear_vjp, "<v, jvp\\(u\\)> - <vjp\\(v\\), u>"),
    ("jvp", _bad_linear_jvp, "<v, jvp\\(u\\)> - <vjp\\(v\\), u>"),
])
def test_a_wrong_linear_rule_is_caught(field, bad, match):
    op = replace(get_op("linear"), **{field: bad})
    with pytest.raises(ProofFailed, match=match):
        D.prove_adjoint(op)


def test_a_jvp_and_vjp_wrong_together_fail_the_derivative_law():
    # transposes of each other, but not the derivative: only the derivative law sees it
    op = get_op("sum")
    twice = replace(op, jvp=lambda t, out, x, **a: 2 * op.jvp(t, out, x, **a),
                    vjp=lambda ct, out, x, **a: tuple(2 * g for g in op.vjp(ct, out, x, **a)))
    with pytest.raises(ProofFailed, match="d/dt real"):
        D.prove_adjoint(twice)


def test_a_wrong_partial_derivative_is_caught():
    op = get_op("tanh")
    wrong = replace(op, grads=lambda x, y, xp: (1.0 - y,))
    with pytest.raises(ProofFailed, match="sympy gives"):
        D.prove_elementwise_derivative(wrong)
