"""Linear relaxations: the ``relax`` rule kind, used by CROWN-family bound propagation.

Two shapes of rule:

* ``AFFINE``: the op is affine in its variable inputs (those that depend on the
  network input; parameters and constants are fixed). Bound propagation needs
  nothing more: the backward step is the op's own ``vjp`` rule (the transpose of
  its linear part) plus the constant term ``f(0)`` from the ``real`` rule, and the
  adjoint of that step (used to optimize slopes) is the ``real`` rule itself. One
  generic rule serves every such op, so it is attached from a table (see
  ``AFFINE_OPS``) the way the binary32 kernels are.
* an elementwise rule ``relax(l, u, alpha=None, mode="adaptive", **attrs) ->
  (lw, lb, uw, ub)``: arrays of the shape of ``l`` with
  ``lw*x + lb <= f(x) <= uw*x + ub`` for every x in [l, u]. ``alpha`` overrides
  the lower slope of piecewise-linear ops where any value in a range is valid
  (relu: [0, 1]); ``mode`` picks the default lower slope ("adaptive": 1 when
  u > -l else 0, as in CROWN; "same-slope": the upper slope).

An op with neither rule falls back to the constant relaxation ``[l_y, u_y]`` from
its ``interval`` rule (IBP inside CROWN), recorded in the result; an op without
an interval rule raises ``UnsupportedOp``.

The numbers here are float64 without rounding control (the producer side); the
certificate checker re-derives what it accepts in sound arithmetic.
"""

from __future__ import annotations

import numpy as np

AFFINE = "affine"

# ops affine in their variable inputs whenever the other inputs are constants
# ("any" = every input may be variable; a tuple = only these positions may be)
AFFINE_OPS = {
    "add": "any", "sub": "any", "neg": "any", "reshape": "any", "flatten": "any", "transpose": "any",
    "concat": "any", "slice": "any", "sum": "any", "mean": "any", "pad": "any",
    "linear": (0,), "conv2d": (0,), "batch_norm": (0,), "avg_pool2d": (0,), "div": (0,),
    "matmul": "one", "mul": "one",
}

ALPHA_OPS = ("relu", "leaky_relu", "abs")  # lower slope free in a range: optimized by alpha-CROWN


def _chord(l, u, fl, fu):
    w = np.where(u > l, (fu - fl) / np.where(u > l, u - l, 1.0), 0.0)
    return w, fl - w * l


def relu_relax(l, u, alpha=None, mode="adaptive"):
    return leaky_relu_relax(l, u, alpha=alpha, mode=mode, negative_slope=0.0)


def leaky_relu_relax(l, u, alpha=None, mode="adaptive", negative_slope=0.01):
    """Stable pieces are exact; an unstable neuron gets the chord above (the
    function is convex for slope <= 1) and any line through the origin with
    slope in [negative_slope, 1] below."""
    s = negative_slope
    active, inactive = l >= 0, u <= 0
    uw, ub = _chord(l, u, np.where(l < 0, s * l, l), np.where(u > 0, u, s * u))
    if alpha is not None:
        lw = np.clip(alpha, s, 1.0)
    elif mode == "same-slope":
        lw = uw.copy()
    else:
        lw = np.where(u > -l, 1.0, s)
    lw = np.where(active, 1.0, np.where(inactive, s, lw))
    uw = np.where(active, 1.0, np.where(inactive, s, uw))
    ub = np.where(active | inactive, 0.0, ub)
    return lw, np.zeros_like(l), uw, ub


def abs_relax(l, u, alpha=None, mode="adaptive"):
    """abs is convex: chord above; below any line through the origin with slope
    in [-1, 1] (adaptive: the sign of the wider side)."""
    uw, ub = _chord(l, u, np.abs(l), np.abs(u))
    if alpha is not None:
        lw = np.clip(alpha, -1.0, 1.0)
    elif mode == "same-slope":
        lw = uw.copy()
    else:
        lw = np.where(u > -l, 1.0, -1.0)
    pos, neg = l >= 0, u <= 0
    lw = np.where(pos, 1.0, np.where(neg, -1.0, lw))
    uw = np.where(pos, 1.0, np.where(neg, -1.0, uw))
    ub = np.where(pos | neg, 0.0, ub)
    return lw, np.zeros_like(l), uw, ub


def s_shaped(f, df):
    """Relaxation of a monotone increasing function convex on x <= 0 and concave
    on x >= 0 with f' largest at 0 (sigmoid, tanh). Convex piece: chord above,
    tangent at the midpoint below; concave piece: the mirror. Mixed sign: two
    parallel lines of slope k = min(f'(l), f'(u)) = min of f' on [l, u]; since
    f(x) - kx is then nondecreasing, f(l) - kl <= f(x) - kx <= f(u) - ku."""

    def relax(l, u, alpha=None, mode="adaptive"):
        fl, fu = f(l), f(u)
        cw, cb = _chord(l, u, fl, fu)
        m = (l + u) / 2
        tw = df(m)
        tb = f(m) - tw * m
        k = np.minimum(df(l), df(u))
        convex, concave = u <= 0, l >= 0
        lw = np.where(convex, tw, np.where(concave, cw, k))
        lb = np.where(convex, tb, np.where(concave, cb, fl - k * l))
        uw = np.where(convex, cw, np.where(concave, tw, k))
        ub = np.where(convex, cb, np.where(concave, tb, fu - k * u))
        point = u <= l  # a degenerate interval: the constant value
        return (np.where(point, 0.0, lw), np.where(point, fl, lb),
                np.where(point, 0.0, uw), np.where(point, fu, ub))

    return relax


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


sigmoid_relax = s_shaped(_sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)))
tanh_relax = s_shaped(np.tanh, lambda x: 1.0 - np.tanh(x) ** 2)
