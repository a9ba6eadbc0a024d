"""Every op's ``error`` rule bounds |binary32 kernel(x^) - real(x)| for binary32
inputs x^ within the stated input error e of a real point x in the box, on the
op's samples, at random points and box corners: in the sequential order, and
with ``order="any"`` against the pairwise kernel. Rules that accept inexact
operands everywhere (matmul with two boxed operands, batch_norm/layer_norm with
boxed parameters, mse with a boxed target) are also checked that way, and the
bounds are checked to be tight enough that halving them would fail."""

import numpy as np
import pytest

from certnn.floats import b32
from certnn.ops import all_ops, get_op

OPS = [op for op in all_ops() if op.error is not None]
# rules written for inexact values in every float input (not only the first)
ALL_BOXED = ["matmul", "batch_norm", "layer_norm", "mse", "div", "mul", "add"]


def _first_only(op, i, x):
    return np.asarray(x).dtype.kind == "f" and (op.elementwise or i == 0)


def _every_float(op, i, x):
    return np.asarray(x).dtype.kind == "f"


def _check(op, radius, in_err, order="sequential", boxed=_first_only, trials=60, seed=11):
    """Max over samples and trials of measured |binary32 - real| / bound (asserts <= 1)."""
    rng = np.random.default_rng(seed)
    kernel_order = "sequential" if order == "sequential" else "pairwise"
    worst = 0.0
    for s in op.samples(rng):
        attrs = op.normalize(s.attrs)
        centre = [np.asarray(x, np.float32) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
                  for x in s.inputs]
        is_boxed = [boxed(op, i, c) for i, c in enumerate(centre)]
        los, his, errs = [], [], []
        for c, b in zip(centre, is_boxed):
            c64 = c.astype(np.float64) if c.dtype.kind == "f" else c
            r = radius + in_err if b else 0.0   # the box holds every real x within e of x^
            los.append(c64 - r if b else c64)
            his.append(c64 + r if b else c64)
            errs.append(np.full(c.shape, in_err if b else 0.0))
        out_lo, out_hi = op.interval(los, his, **attrs)
        bound = op.error(los, his, errs, out_lo, out_hi, order=order, **attrs)
        assert np.all(bound >= 0) and not np.any(np.isnan(bound))
        for trial in range(trials):
            xh, xr = [], []
            for c, b in zip(centre, is_boxed):
                if not b:
                    xh.append(c)
                    xr.append(c.astype(np.float64) if c.dtype.kind == "f" else c)
                    continue
                if trial < 2:  # corners of the binary32 box
                    p = c.astype(np.float64) + (radius if trial else -radius)
                else:
                    p = c.astype(np.float64) + rng.uniform(-radius, radius, c.shape)
                x32 = p.astype(np.float32)
                xh.append(x32)
                xr.append(x32.astype(np.float64) + rng.uniform(-in_err, in_err, c.shape))
            with b32.settings(order=kernel_order):
                y32 = op.binary32(*xh, **attrs).astype(np.float64)
            yr = op.real(*xr, **attrs)
            diff = np.abs(y32 - yr)
            slack = 1e-12 * np.abs(yr) + 1e-300  # float64 stands in for the exact real result
            assert np.all(diff <= bound + slack), (op.name, float(np.max(diff - bound)))
            worst = max(worst, float(np.max(diff / np.maximum(bound, 1e-300))))
    return worst


@pytest.mark.parametrize("radius,in_err", [(0.0, 0.0), (0.05, 0.0), (0.0, 1e-3), (0.05, 1e-4)])
@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_error_rule_bounds_binary32_minus_real(op, radius, in_err):
    _check(op, radius, in_err)


@pytest.mark.parametrize("radius,in_err", [(0.0, 0.0), (0.05, 1e-4)])
@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_any_order_bound_holds_for_pairwise_kernel(op, radius, in_err):
    _check(op, radius, in_err, order="any", trials=20)


@pytest.mark.parametrize("name", ALL_BOXED)
def test_error_rule_with_every_input_inexact(name):
    _check(get_op(name), 0.02, 1e-4, boxed=_every_float, trials=30)
    _check(get_op(name), 0.02, 1e-4, order="any", boxed=_every_float, trials=10)


@pytest.mark.parametrize("name", ["div", "sqrt", "log", "softplus", "gelu", "matmul", "mean", "mse"])
def test_bounds_are_tight_enough_that_half_would_fail(name):
    """Halving the bound would be violated somewhere: the rule is not vacuous."""
    assert _check(get_op(name), 0.0, 1e-3, trials=30) > 0.5


def test_bound_blows_up_where_the_kernel_can_leave_the_domain():
    """A divisor, sqrt or log argument within the input error of 0: no finite bound."""
    lo, hi, e = np.array([0.5]), np.array([1.0]), np.array([0.6])
    for name in ("sqrt", "log"):
        op = get_op(name)
        assert np.isinf(op.error([lo], [hi], [e], *op.interval([lo], [hi]))).all()
    op = get_op("div")
    one = np.array([1.0])
    assert np.isinf(op.error([one, lo], [one, hi], [np.zeros(1), e], *op.interval([one, lo], [one, hi]))).all()
