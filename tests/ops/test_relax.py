"""The elementwise ``relax`` rules: every line pair encloses the function on
[l, u] for any interval and any alpha (in range or not: the rule clips), the
S-shaped rules are at least as tight as the parallel-line relaxation they
replaced, and the alpha-CROWN parameter gradients match central differences."""

import numpy as np
import pytest

from certnn.ops import get_op
from certnn.ops.relax import ALPHA, _sigmoid

FUNCS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "abs": np.abs,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
}
ATTRS = {"leaky_relu": {"negative_slope": 0.2}}


def _intervals(rng, n):
    """Intervals of every kind: one-sided, mixed, narrow, wide, degenerate."""
    c = rng.normal(size=n) * rng.choice([0.1, 1.0, 4.0], size=n)
    w = np.abs(rng.normal(size=n)) * rng.choice([1e-6, 0.05, 1.0, 6.0, 30.0], size=n)
    l = c - w * rng.random(n)
    u = c + w * rng.random(n)
    u[:5] = l[:5]  # points
    return l, u


def _alpha(op, rng, shape):
    if op in ("sigmoid", "tanh"):
        return rng.normal(size=shape + (2,)) * 5  # tangent points, mostly out of range
    return rng.uniform(-2, 2, size=shape)       # slopes, partly out of range


@pytest.mark.parametrize("op", sorted(FUNCS))
def test_lines_enclose_the_function(op):
    rng = np.random.default_rng(sorted(FUNCS).index(op))
    l, u = _intervals(rng, 400)
    rule, f = get_op(op).relax, FUNCS[op]
    xs = l[:, None] + (u - l)[:, None] * np.linspace(0, 1, 801)[None]
    for alpha in (None, _alpha(op, rng, l.shape)):
        lw, lb, uw, ub = rule(l, u, alpha=alpha, **ATTRS.get(op, {}))
        fx = f(xs)
        tol = 1e-12 * (1 + np.abs(xs))
        assert np.all(lw[:, None] * xs + lb[:, None] <= fx + tol), f"{op}: lower line above f"
        assert np.all(uw[:, None] * xs + ub[:, None] >= fx - tol), f"{op}: upper line below f"


@pytest.mark.parametrize("op, df", [("sigmoid", lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
                                    ("tanh", lambda x: 1 - np.tanh(x) ** 2)])
def test_s_shaped_default_is_at_least_as_tight_as_parallel_lines(op, df):
    rng = np.random.default_rng(1)
    l = -np.abs(rng.normal(size=500)) * 3
    u = np.abs(rng.normal(size=500)) * 3  # mixed-sign intervals
    f = FUNCS[op]
    lw, lb, uw, ub = get_op(op).relax(l, u)
    k = np.minimum(df(l), df(u))  # the old rule: slope k through (l, f(l)) below, (u, f(u)) above
    xs = l[:, None] + (u - l)[:, None] * np.linspace(0, 1, 201)[None]
    new_gap = (uw[:, None] * xs + ub[:, None]) - (lw[:, None] * xs + lb[:, None])
    old_gap = (f(u) - k * u)[:, None] - (f(l) - k * l)[:, None]  # parallel lines: constant gap
    ratio = new_gap.mean(axis=1) / old_gap[:, 0]  # ~ the areas between the lines
    assert np.all(ratio <= 1 + 1e-9)
    assert np.median(ratio) < 0.6  # 0.37 here


@pytest.mark.parametrize("op", sorted(FUNCS))
def test_alpha_gradient_matches_central_differences(op):
    """d/d alpha of sum(ap * (lw x + lb) + am * (uw x + ub)) at a point x, the
    quantity whose reverse sweep _slope_grads differentiates."""
    rng = np.random.default_rng(3)
    l, u = _intervals(rng, 200)
    keep = (l < 0) & (u > 0) & (u - l > 1e-3)  # unstable, not tiny: alpha moves the lines
    l, u = l[keep], u[keep]
    a = rng.normal(size=l.shape)
    ap, am = np.maximum(a, 0), np.minimum(a, 0)
    x = l + (u - l) * rng.random(l.shape)
    rule, attrs = get_op(op).relax, ATTRS.get(op, {})
    lo, hi = ALPHA[op].bounds(l, u, **attrs)
    shape = ALPHA[op].init(l, u, l.shape, "adaptive", **attrs).shape
    lo, hi = np.broadcast_to(lo, shape), np.broadcast_to(hi, shape)
    alpha = lo + (hi - lo) * rng.uniform(0.2, 0.8, shape)  # strictly inside the valid range

    def value(al):
        lw, lb, uw, ub = rule(l, u, alpha=al, **attrs)
        return ap * (lw * x + lb) + am * (uw * x + ub)

    p = alpha.reshape(l.shape + (-1,))  # the parameters of a neuron on the last axis
    g = ALPHA[op].grad(alpha, l, u, x, ap, am).reshape(p.shape)
    width = (hi - lo).reshape(p.shape)
    assert l.size > 50
    for j in range(p.shape[-1]):
        h = np.zeros_like(p)
        h[..., j] = 1e-6 * np.maximum(1.0, width[..., j])
        fd = (value((p + h).reshape(shape)) - value((p - h).reshape(shape))) / (2 * h[..., j])
        np.testing.assert_allclose(g[..., j], fd, rtol=1e-4, atol=1e-6)


def test_gelu_lines_enclose_the_function_and_tighten_quadratically():
    """gelu's lines (Taylor or ReLU-based, whichever is tighter) hold on intervals of
    every kind, and on narrow ones their gap is second order in the width."""
    from certnn.ops.relax import _gelu
    rng = np.random.default_rng(7)
    l, u = _intervals(rng, 2000)
    rule = get_op("gelu").relax
    xs = l[:, None] + (u - l)[:, None] * np.linspace(0, 1, 801)[None]
    lw, lb, uw, ub = (v[:, None] for v in rule(l, u))
    fx = _gelu(xs)
    assert np.all(lw * xs + lb <= fx) and np.all(uw * xs + ub >= fx)
    gaps = []
    for w in (1e-2, 1e-3):
        c = rng.normal(size=500) * 3
        lw, lb, uw, ub = rule(c - w, c + w)
        gaps.append(np.max((uw - lw) * c + ub - lb))
    assert gaps[1] < gaps[0] / 50
    wide = rule(np.array([-30.0]), np.array([30.0]))              # the ReLU-based lines
    assert wide[0][0] in (0.0, 1.0) and abs(wide[2][0] - 0.5) < 1e-12
