"""The checker's sound sigmoid/tanh lines: below (above) the function on the
whole interval in exact arithmetic (mpmath at 200 bits, at the points where the
float check comes closest), for any proposed tangent point, and as tight as the
producer's relaxation at its own points."""

import mpmath as mp
import numpy as np
import pytest

from certnn.ops import get_op
from certnn.ops.relax import ALPHA, _sigmoid
from certnn.verify.sound_lines import lower_line, upper_line

FLOAT = {"tanh": np.tanh, "sigmoid": _sigmoid}
EXACT = {"tanh": mp.tanh, "sigmoid": lambda x: 1 / (1 + mp.exp(-x))}


def _intervals(rng, n):
    c = rng.normal(size=n) * rng.choice([0.1, 1.0, 4.0, 15.0], size=n)
    w = np.abs(rng.normal(size=n)) * rng.choice([0.0, 1e-9, 0.05, 1.0, 6.0, 30.0], size=n)
    return c - w * rng.random(n), c + w * rng.random(n)


@pytest.mark.parametrize("op", ["tanh", "sigmoid"])
@pytest.mark.parametrize("points", ["default", "random", "far"])
def test_lines_enclose_the_function_exactly(op, points):
    rng = np.random.default_rng(hash((op, points)) % 2**32)
    l, u = _intervals(rng, 3000)
    t = ALPHA[op].init(l, u, l.shape, "adaptive")
    if points == "random":
        t = t + rng.normal(size=t.shape)
    elif points == "far":
        t = rng.normal(size=t.shape) * 50
    lw, lb = lower_line(op, l, u, t[..., 0])
    uw, ub = upper_line(op, l, u, t[..., 1])
    xs = np.clip(l[:, None] + (u - l)[:, None] * np.linspace(0, 1, 401)[None], l[:, None], u[:, None])
    fx = FLOAT[op](xs)
    mp.mp.prec = 200
    for w, b, sign in ((lw, lb, 1), (uw, ub, -1)):
        gap = sign * (w[:, None] * xs + b[:, None] - fx)       # > 0 would be a violation
        assert np.all(gap <= 1e-15), gap.max()
        for k in np.argsort(gap, axis=None)[-60:]:           # the closest calls, exactly
            i, j = divmod(int(k), xs.shape[1])
            x = mp.mpf(float(xs[i, j]))
            assert sign * (mp.mpf(float(w[i])) * x + mp.mpf(float(b[i])) - EXACT[op](x)) <= 0, (l[i], u[i], t[i])


@pytest.mark.parametrize("op", ["tanh", "sigmoid"])
def test_lines_at_the_default_points_are_the_producers_up_to_rounding(op):
    rng = np.random.default_rng(1)
    l, u = _intervals(rng, 2000)
    t = ALPHA[op].init(l, u, l.shape, "adaptive")
    plw, plb, puw, pub = get_op(op).relax(l, u, alpha=t)
    lw, lb = lower_line(op, l, u, t[..., 0])
    uw, ub = upper_line(op, l, u, t[..., 1])
    xs = l[:, None] + (u - l)[:, None] * np.linspace(0, 1, 51)[None]
    low = lambda w, b: w[:, None] * xs + b[:, None]  # noqa: E731
    assert np.all(np.abs(low(lw, lb) - low(plw, plb)) <= 1e-12)
    assert np.all(np.abs(low(uw, ub) - low(puw, pub)) <= 1e-12)


def test_unbounded_ends_give_a_constant_line():
    w, b = lower_line("tanh", np.array([-np.inf]), np.array([0.5]), np.array([0.0]))
    assert w[0] == 0.0 and b[0] <= -1.0
    w, b = upper_line("sigmoid", np.array([-1.0]), np.array([np.inf]), np.array([0.0]))
    assert w[0] == 0.0 and b[0] >= 1.0
