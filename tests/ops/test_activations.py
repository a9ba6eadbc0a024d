"""relu's one-pass vjp against the vjp the elementwise factory derives from its
partial derivative (``grads``): the same bits, signed zeros and NaNs included."""

import numpy as np
import pytest

from certnn.ops import get_op
from certnn.ops._common import _times
from certnn.ops.xp import NP


@pytest.mark.parametrize("x_dtype,ct_dtype", [(np.float32, np.float32), (np.float32, np.float64),
                                              (np.float64, np.float32), (np.float64, np.float64)])
@pytest.mark.parametrize("nonfinite", [False, True])
def test_relu_fast_vjp_is_the_generic_rule_bit_for_bit(x_dtype, ct_dtype, nonfinite):
    op = get_op("relu")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64)).astype(x_dtype)
    x[0, :4] = [0.0, -0.0, np.inf, -np.inf]
    ct = rng.standard_normal(x.shape).astype(ct_dtype)
    ct[1, :6] = [-0.0, 0.0, np.nan, np.inf, -np.inf, -0.0] if nonfinite else [-0.0, 0.0, 1.0, -0.0, 2.0, -0.0]
    x[1, :6] = [1.0, -1.0, -1.0, -2.0, 3.0, -3.0]
    y = op.real(x)
    (g,) = op.grads(x, y, xp=NP)
    with np.errstate(invalid="ignore"):
        generic = _times(ct, g.astype(y.dtype))
    (fast,) = op.vjp(ct, y, x)
    assert fast.dtype == generic.dtype and fast.shape == generic.shape
    assert fast.tobytes() == generic.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_vjp_with_the_stashed_erf_is_the_generic_rule_bit_for_bit(dtype):
    from certnn.ops.activations import _GELU_ERF
    op = get_op("gelu")
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((8, 300)) * 4).astype(dtype)
    x[0, :7] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -30.0]
    ct = rng.standard_normal(x.shape).astype(np.float32)
    ct[1, :4] = [0.0, -0.0, np.nan, np.inf]
    with np.errstate(all="ignore"):
        y = op.real(x)
        assert _GELU_ERF.get(x, None) is not None                  # the forward stashed its erf
        (g,) = op.grads(x, y, xp=NP)
        generic = _times(ct, g.astype(y.dtype))
        (stashed,) = op.vjp(ct, y, x)
        (recomputed,) = op.vjp(ct, y, x.copy())                    # another array: a miss
    assert stashed.tobytes() == generic.tobytes() == recomputed.tobytes()
