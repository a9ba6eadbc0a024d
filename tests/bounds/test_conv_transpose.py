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
