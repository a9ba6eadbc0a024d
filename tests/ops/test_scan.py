"""selective_scan against the recurrence written as a plain loop, in real and
binary32 semantics."""

import numpy as np
import pytest

from certnn.floats import b32
from certnn.ops import get_op

OP = get_op("selective_scan")


def _inputs(rng, batch=2, L=6, D=3, N=4, dtype=np.float64):
    return tuple(a.astype(dtype) for a in (rng.normal(size=(batch, L, D)), rng.uniform(0.01, 1, (batch, L, D)),
                                            -rng.uniform(0.5, 2, (D, N)), rng.normal(size=(batch, L, N)),
                                            rng.normal(size=(batch, L, N))))


def test_real_is_the_recurrence():
    x, delta, A, B, C = _inputs(np.random.default_rng(0))
    y = OP.real(x, delta, A, B, C)
    for b in range(2):
        for d in range(3):
            h = np.zeros(4)
            for t in range(6):
                h = np.exp(delta[b, t, d] * A[d]) * h + delta[b, t, d] * x[b, t, d] * B[b, t]
                assert y[b, t, d] == pytest.approx(float(h @ C[b, t]), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("order", b32.ORDERS)
def test_binary32_follows_the_definition(order):
    x, delta, A, B, C = _inputs(np.random.default_rng(1), dtype=np.float32)
    y = OP.binary32(x, delta, A, B, C, order=order)
    F32 = np.float32
    for b in range(2):
        for d in range(3):
            h = np.zeros(4, F32)
            for t in range(6):
                a = b32.b32_exp((delta[b, t, d] * A[d]).astype(F32))
                u = F32(delta[b, t, d] * x[b, t, d])
                h = (a * h).astype(F32) + (u * B[b, t]).astype(F32)
                terms = (h * C[b, t]).astype(F32)
                want = b32.colsum(terms[:, None], order)[0]
                assert y[b, t, d].view(np.uint32) == F32(want).view(np.uint32)
