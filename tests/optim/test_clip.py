import math

import numpy as np
import pytest

from certnn.optim import clip_grad_norm
from certnn.tensor import Tensor


def params_with(*grads, dtype=np.float64):
    ps = []
    for g in grads:
        p = Tensor(np.zeros(np.shape(g), dtype), requires_grad=True)
        p.grad = None if g is None else np.array(g, dtype)
        ps.append(p)
    return ps


def test_global_norm_and_scaling():
    ps = params_with([3.0, 0.0], [[4.0]], None)
    gs = [p.grad for p in ps[:2]]
    total = clip_grad_norm(ps, max_norm=1.0)
    assert total == 5.0
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad, [3 * coef, 0.0], rtol=1e-15)
    np.testing.assert_allclose(ps[1].grad, [[4 * coef]], rtol=1e-15)
    assert ps[0].grad is gs[0] and ps[1].grad is gs[1]  # in place
    assert ps[2].grad is None
    new_norm = math.sqrt(sum(float(np.sum(p.grad ** 2)) for p in ps[:2]))
    assert new_norm == pytest.approx(1.0, rel=1e-5) and new_norm < 1.0


def test_no_scaling_below_max():
    ps = params_with([0.3, 0.4])
    assert clip_grad_norm(ps, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(ps[0].grad, [0.3, 0.4])


def test_float32_grads_norm_in_float64():
    # squares overflow float32 (1e40) but the float64 sum does not
    ps = params_with([1e20, 1e20], dtype=np.float32)
    total = clip_grad_norm(ps, 1.0)
    assert total == pytest.approx(math.sqrt(2) * 1e20, rel=1e-6)
    assert ps[0].grad.dtype == np.float32
    np.testing.assert_allclose(ps[0].grad, [1 / math.sqrt(2)] * 2, rtol=1e-6)


def test_float32_many_small_values_accurate():
    g = np.full(1_000_000, 1e-3, np.float32)
    total = clip_grad_norm(params_with(g, dtype=np.float32), 10.0)
    assert total == pytest.approx(math.sqrt(1e6 * float(np.float32(1e-3)) ** 2), rel=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_norm_returned_grads_untouched(bad):
    ps = params_with([1.0, bad], [2.0])
    total = clip_grad_norm(ps, 1.0)
    assert (math.isnan(total) if np.isnan(bad) else total == math.inf)
    np.testing.assert_array_equal(ps[1].grad, [2.0])


def test_single_param_and_no_grads():
    (p,) = params_with([6.0, 8.0])
    assert clip_grad_norm(p, 5.0) == 10.0
    np.testing.assert_allclose(p.grad, [3.0, 4.0], rtol=1e-6)
    assert clip_grad_norm(params_with(None), 1.0) == 0.0


def test_bad_max_norm():
    with pytest.raises(ValueError):
        clip_grad_norm(params_with([1.0]), -1.0)
    with pytest.raises(ValueError):
        clip_grad_norm(params_with([1.0]), float("nan"))
