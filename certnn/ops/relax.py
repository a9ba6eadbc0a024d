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
  the free parameters of the relaxation where any value in a range is valid:
  the lower slope of piecewise-linear ops (relu: [0, 1]) and the tangent points
  of sigmoid and tanh; ``ALPHA`` says per op how alpha-CROWN starts, projects
  and differentiates them. ``mode`` picks the default lower slope of the
  piecewise-linear ops ("adaptive": 1 when u > -l else 0, as in CROWN;
  "same-slope": the upper slope).

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
    "embedding": (1,), "dropout": (0,), "where": (1, 2), "rfft": "any", "irfft": "any", "complex_mul": "one", "complex_matmul": "one",
}

def _chord(l, u, fl, fu, xp=np):
    w = xp.where(u > l, (fu - fl) / xp.where(u > l, u - l, 1.0), 0.0)
    return w, fl - w * l


# The piecewise-linear rules below are written over a namespace ``xp`` (NumPy by
# default) so that certnn.proofs can run this very code on z3 terms and prove
# the lines sound for all real l <= u, slopes and alpha (``relax/*`` theorems).

def relu_relax(l, u, alpha=None, mode="adaptive", xp=np):
    return leaky_relu_relax(l, u, alpha=alpha, mode=mode, negative_slope=0.0, xp=xp)


def leaky_relu_relax(l, u, alpha=None, mode="adaptive", negative_slope=0.01, xp=np):
    """Stable pieces are exact; an unstable neuron gets the chord above (the
    function is convex for slope <= 1) and any line through the origin with
    slope in [negative_slope, 1] below."""
    s = negative_slope
    active, inactive = l >= 0, u <= 0
    uw, ub = _chord(l, u, xp.where(l < 0, s * l, l), xp.where(u > 0, u, s * u), xp)
    if alpha is not None:
        lw = xp.clip(alpha, s, 1.0)
    elif mode == "same-slope":
        lw = xp.copy(uw)
    else:
        lw = xp.where(u > -l, 1.0, s)
    lw = xp.where(active, 1.0, xp.where(inactive, s, lw))
    uw = xp.where(active, 1.0, xp.where(inactive, s, uw))
    ub = xp.where(xp.logical_or(active, inactive), 0.0, ub)
    return lw, xp.zeros_like(l), uw, ub


def abs_relax(l, u, alpha=None, mode="adaptive", xp=np):
    """abs is convex: chord above; below any line through the origin with slope
    in [-1, 1] (adaptive: the sign of the wider side)."""
    uw, ub = _chord(l, u, xp.abs(l), xp.abs(u), xp)
    if alpha is not None:
        lw = xp.clip(alpha, -1.0, 1.0)
    elif mode == "same-slope":
        lw = xp.copy(uw)
    else:
        lw = xp.where(u > -l, 1.0, -1.0)
    pos, neg = l >= 0, u <= 0
    lw = xp.where(pos, 1.0, xp.where(neg, -1.0, lw))
    uw = xp.where(pos, 1.0, xp.where(neg, -1.0, uw))
    ub = xp.where(xp.logical_or(pos, neg), 0.0, ub)
    return lw, xp.zeros_like(l), uw, ub


def s_shaped(f, df, d2f):
    """Relaxation of a monotone increasing function, convex on x <= 0, concave on
    x >= 0 and point-symmetric about (0, f(0)) (sigmoid, tanh). Convex piece
    (u <= 0): chord above, a tangent below at any point t in [l, u]; concave
    piece: the mirror. Mixed sign: the upper line is a tangent at t in [t_u, u],
    where the tangent at t_u >= 0 passes through (l, f(l)) (from such t the line
    lies above f at l, and line - f is concave on [l, 0] and >= 0 at both ends);
    when t_u > u no such tangent exists and the chord is above f (its slope is
    >= f'(u)). The lower line is the mirror: a tangent at t in [l, t_l], with
    t_l(u) = -t_u(-u) by the symmetry. Default tangent point: the midpoint clipped
    into the range, which leaves the least area between line and f (no more than
    the tangents at l and u, which lie inside the parallel lines of slope
    min(f'(l), f'(u)) used before). ``alpha`` (shape ``(*l.shape, 2)``: lower, upper tangent
    point) overrides the default, clipped into the valid ranges, so any alpha
    gives sound lines."""

    def tangent(t):
        w = df(t)
        return w, f(t) - w * t

    table = _TangentTable(f, df)

    def ranges(l, u):
        """Valid tangent points per neuron: lower in [a, b], upper in [c, d]; a
        side whose line is the chord is marked by ``chord_*`` (its range unused)."""
        convex, concave = u <= 0, l >= 0
        mixed = ~(convex | concave)
        # the chord is valid exactly when the tangent at the far end is not:
        # g_up(u) < 0 with g_up(t) = f(t) + f'(t)(l - t) - f(l), increasing in t >= 0
        chord_up = convex | (mixed & (f(u) + df(u) * (l - u) < f(l)))
        chord_lo = concave | (mixed & (f(l) + df(l) * (u - l) > f(u)))
        t_u = np.minimum(table.upper_point(l), u)   # >= the true t_u: on the valid side
        t_l = np.maximum(-table.upper_point(-u), l)
        lo_b = np.where(mixed, t_l, u)
        up_c = np.where(mixed, t_u, l)
        return l, lo_b, up_c, u, chord_lo, chord_up

    def default_points(l, u, rng=None):
        # the area between a tangent line and f over [l, u] is least for the
        # tangent at the midpoint (d/dt of line_t(m) = f''(t) (m - t)), so the
        # best valid point is the midpoint clipped into the range
        lo_a, lo_b, up_c, up_d, _, _ = ranges(l, u) if rng is None else rng
        m = (l + u) / 2
        return np.clip(m, lo_a, np.maximum(lo_a, lo_b)), np.clip(m, np.minimum(up_c, up_d), up_d)

    def relax(l, u, alpha=None, mode="adaptive"):
        fl, fu = f(l), f(u)
        cw, cb = _chord(l, u, fl, fu)
        rng = ranges(l, u)
        lo_a, lo_b, up_c, up_d, chord_lo, chord_up = rng
        if alpha is None:
            t_lo, t_up = default_points(l, u, rng)
        else:
            t_lo = np.clip(alpha[..., 0], lo_a, lo_b)
            t_up = np.clip(alpha[..., 1], up_c, up_d)
        tlw, tlb = tangent(t_lo)
        tuw, tub = tangent(t_up)
        shape = np.broadcast(l, t_lo).shape
        lw = np.broadcast_to(np.where(chord_lo, cw, tlw), shape)
        lb = np.broadcast_to(np.where(chord_lo, cb, tlb), shape)
        uw = np.broadcast_to(np.where(chord_up, cw, tuw), shape)
        ub = np.broadcast_to(np.where(chord_up, cb, tub), shape)
        point = u <= l  # a degenerate interval: the constant value
        return (np.where(point, 0.0, lw), np.where(point, fl, lb),
                np.where(point, 0.0, uw), np.where(point, fu, ub))

    relax.alpha = TangentPoints(ranges, default_points, d2f)
    return relax


class _TangentTable:
    """t_u(l) for l < 0: the point t >= 0 whose tangent passes through (l, f(l)),
    tabulated once on a grid of l (step 2^-9 on [-40, 0]) by bisection, and read
    conservatively: t_u decreases as l increases, so the value at the grid point
    at or left of l is >= the true t_u(l), which keeps the tangent on the valid
    side (the loss is at most one grid step of l). Left of the table the caller
    falls back to the tangent at u."""

    STEP, LEFT = 2.0 ** -9, 40.0

    def __init__(self, f, df):
        self.f, self.df, self._t = f, df, None

    def _build(self):
        f, df = self.f, self.df
        grid = -self.LEFT + self.STEP * np.arange(int(self.LEFT / self.STEP) + 1)
        fl = f(grid)
        lo, hi = np.zeros_like(grid), np.full_like(grid, 2 * self.LEFT)
        for _ in range(48):  # g(t) = f(t) + f'(t)(l - t) - f(l) increases in t >= 0
            mid = (lo + hi) / 2
            pos = f(mid) + df(mid) * (grid - mid) - fl >= 0
            hi, lo = np.where(pos, mid, hi), np.where(pos, lo, mid)
        hi[-1] = 0.0  # l = 0: the tangent at 0
        return grid, hi

    def upper_point(self, l):
        if self._t is None:
            self._t = self._build()
        grid, t = self._t
        x = np.minimum(np.asarray(l, np.float64), 0.0)
        i = np.floor((x + self.LEFT) / self.STEP).astype(np.int64)
        i = np.clip(i, 0, grid.size - 1)
        i -= grid[i] > x  # rounding in the index: step back to a grid point <= l
        return np.where(i < 0, np.inf, t[np.maximum(i, 0)])


def _gelu(x):
    from scipy.special import erf
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _gelu_slope(x):
    from scipy.special import erf
    return 0.5 * (1.0 + erf(x / np.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


# max over x of relu(x) - gelu(x) = |x| Phi(-|x|) = -min gelu: 0.169971207479903661...
# rounded up (the ops' _GELU_MIN is a float below min gelu, checked with mpmath)
GELU_RELU_GAP = 0.16997120747990370


def gelu_relax(l, u, alpha=None, mode="adaptive"):
    """gelu(x) = x Phi(x) on [l, u]; gelu'' = phi(x) (2 - x^2) is >= 0 on [-sqrt 2,
    sqrt 2] and <= 0 outside. Two candidate lines per side, the one with less area
    between it and gelu (the larger value at the midpoint for the lower line, the
    smaller for the upper) is kept:

    * Taylor: the chord, exact on the side where gelu is convex (upper) or concave
      (lower) throughout [l, u]; on the other side the tangent at the midpoint
      m when the curvature has one sign, else the chord shifted by M (u - l)^2 / 8
      with M = max |gelu''| on [l, u] (linear interpolation's error; |h| for
      h = phi (2 - x^2) peaks at 0, +-2 or the ends, h' = phi x (x^2 - 4));
    * ReLU: relu - GELU_RELU_GAP <= gelu <= relu, so relu's lines (chord above,
      the adaptive slope 0 or 1 below) with the lower one shifted down by the gap;
      sound on every interval, tight on wide ones.

    The intercepts are moved outward by 1e-12 (1 + |l| + |u|) for float64 evaluation."""
    l, u = np.asarray(l, np.float64), np.asarray(u, np.float64)
    w = u - l
    m = (l + u) / 2
    fl, fu, fm = _gelu(l), _gelu(u), _gelu(m)
    cw, cb = _chord(l, u, fl, fu)
    s2 = np.sqrt(2.0)
    convex, concave = (l >= -s2) & (u <= s2), (u <= -s2) | (l >= s2)
    h = lambda x: np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi) * (2 - x * x)  # noqa: E731
    M = np.maximum(np.abs(h(l)), np.abs(h(u)))
    for p in (0.0, -2.0, 2.0):
        M = np.where((l <= p) & (p <= u), np.maximum(M, abs(h(p))), M)
    shift = M * (1 + 1e-9) * w * w / 8
    tw = _gelu_slope(m)
    tb = fm - tw * m
    t_lw, t_lb = np.where(convex, tw, cw), np.where(convex, tb, np.where(concave, cb, cb - shift))
    t_uw, t_ub = np.where(concave, tw, cw), np.where(concave, tb, np.where(convex, cb, cb + shift))
    r_lw, r_uw, r_ub = relu_relax(l, u, mode="adaptive")[0], *relu_relax(l, u)[2:]
    r_lb = np.full_like(l, -GELU_RELU_GAP)
    take_lo = t_lw * m + t_lb >= r_lw * m + r_lb
    take_up = t_uw * m + t_ub <= r_uw * m + r_ub
    margin = 1e-12 * (1 + np.abs(l) + np.abs(u))
    return (np.where(take_lo, t_lw, r_lw), np.where(take_lo, t_lb, r_lb) - margin,
            np.where(take_up, t_uw, r_uw), np.where(take_up, t_ub, r_ub) + margin)


# ---------------------------------------------------------------- alpha-CROWN parameters
# Per op: how alpha-CROWN starts, projects and differentiates its free parameters.
# ``init/bounds`` get the relaxed node's input bounds l, u shaped (N, 1, *shape);
# ``grad`` gets the chosen alpha, ``gi`` (d bound / d coefficient at the node's
# input, from the reverse sweep) and the split rows ap = max(A, 0), am = min(A, 0).

class LowerSlope:
    """Piecewise-linear convex ops (relu, leaky_relu, abs): alpha is the lower
    line's slope through the origin, free in [lo, 1] (unstable neurons)."""

    def __init__(self, rule, lo):
        self.rule, self.lo = rule, lo

    def init(self, l, u, shape, mode, **attrs):
        return np.broadcast_to(self.rule(l, u, mode=mode, **attrs)[0], shape).copy()

    def bounds(self, l, u, **attrs):
        lo = self.lo(attrs) if callable(self.lo) else self.lo
        return lo, 1.0

    def grad(self, alpha, l, u, gi, ap, am):
        # the lower line is alpha * x: d/d alpha of ap * alpha * x (stable neurons ignore alpha)
        return np.where((l < 0) & (u > 0), gi * ap, 0.0)


class TangentPoints:
    """S-shaped ops (sigmoid, tanh): alpha[..., 0] and alpha[..., 1] are the
    tangent points of the lower and upper lines, each in its valid range."""

    def __init__(self, ranges, default_points, d2f):
        self.ranges, self.default_points, self.d2f = ranges, default_points, d2f

    def init(self, l, u, shape, mode, **attrs):
        t_lo, t_up = self.default_points(l, u)
        return np.stack([np.broadcast_to(t_lo, shape), np.broadcast_to(t_up, shape)], axis=-1)

    def bounds(self, l, u, **attrs):
        lo_a, lo_b, up_c, up_d, _, _ = self.ranges(l, u)
        return np.stack([lo_a, up_c], axis=-1), np.stack([lo_b, up_d], axis=-1)

    def grad(self, alpha, l, u, gi, ap, am):
        # tangent at t: slope f'(t), intercept f(t) - t f'(t); d/dt of
        # a * (line(t) at gi) = a f''(t) (gi - t). Chord sides do not depend on t.
        lo_a, lo_b, up_c, up_d, chord_lo, chord_up = self.ranges(l, u)
        t_lo = np.clip(alpha[..., 0], lo_a, lo_b)
        t_up = np.clip(alpha[..., 1], up_c, up_d)
        g_lo = np.where(chord_lo, 0.0, ap * self.d2f(t_lo) * (gi - t_lo))
        g_up = np.where(chord_up, 0.0, am * self.d2f(t_up) * (gi - t_up))
        return np.stack([g_lo, g_up], axis=-1)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _dsigmoid(x):
    s = _sigmoid(x)
    return s * (1.0 - s)


sigmoid_relax = s_shaped(_sigmoid, _dsigmoid, lambda x: _dsigmoid(x) * (1.0 - 2.0 * _sigmoid(x)))
tanh_relax = s_shaped(np.tanh, lambda x: 1.0 - np.tanh(x) ** 2,
                      lambda x: -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2))

# ops whose relaxation has free parameters that alpha-CROWN optimizes
ALPHA = {
    "relu": LowerSlope(relu_relax, 0.0),
    "leaky_relu": LowerSlope(leaky_relu_relax, lambda attrs: attrs.get("negative_slope", 0.01)),
    "abs": LowerSlope(abs_relax, -1.0),
    "sigmoid": sigmoid_relax.alpha,
    "tanh": tanh_relax.alpha,
}
ALPHA_OPS = tuple(ALPHA)


# ---------------------------------------------------------------- relaxations of several inputs
#
# A ``multivariate`` relax rule ``relax(los, his, var, **attrs) -> Planes`` bounds an op
# of several variable inputs (or a non-elementwise one) by two linear functions of
# its variable inputs on their box: lower(x) <= f(x) <= upper(x). ``los``/``his``
# give every input's bounds (constants with lo == hi), ``var`` which inputs vary.
# CROWN's backward sweep asks ``back``; alpha-CROWN's reverse sweep asks ``forward``.

class Planes:
    """Two linear functions of the variable inputs (sample axis N first)."""

    def back(self, a):
        """Coefficient rows ``a`` (N, K, *out) on the output: rows on each variable input
        and the bias (N, K), taking the lower function where a > 0, the upper where a < 0."""
        raise NotImplementedError

    def forward(self, xs, a):
        """The chosen function (by the sign of ``a``) at values ``xs`` of the variable inputs."""
        raise NotImplementedError


def multivariate(rule):
    rule.multivariate = True
    return rule


def _sum_to(g, shape):
    """Sum a (N, K, *s) array over the axes broadcast against (N, K, *shape)."""
    from ._common import unbroadcast
    return unbroadcast(g, g.shape[:2] + tuple(shape))


class _McCormick(Planes):
    """z = prod(x, y) for a bilinear map ``prod`` (elementwise product, matmul) whose
    terms are products x_p y_q, each bounded by McCormick planes with one fixed choice:
    x y >= l_y x + l_x y - l_x l_y and x y <= u_y x + l_x y - l_x u_y (both valid on the
    box [l_x, u_x] x [l_y, u_y]). The coefficients factor through ``prod`` itself, so
    the sweep costs a few products of the op's own shape, never one per term."""

    def __init__(self, los, his, prod, grad_x, grad_y):
        (self.lx, self.ly), (self.ux, self.uy) = los, his
        self.prod, self.grad_x, self.grad_y = prod, grad_x, grad_y

    def back(self, a):
        ap, am = np.maximum(a, 0), np.minimum(a, 0)
        ex = lambda v: v[:, None]  # noqa: E731   sample axis -> (N, 1, ...) against the rows
        cx = self.grad_x(ap, ex(self.ly)) + self.grad_x(am, ex(self.uy))
        cy = self.grad_y(ex(self.lx), a)
        red = tuple(range(2, a.ndim))
        bias = -np.sum(ap * ex(self.prod(self.lx, self.ly)) + am * ex(self.prod(self.lx, self.uy)), axis=red)
        return [_sum_to(cx, self.lx.shape[1:]), _sum_to(cy, self.ly.shape[1:])], bias

    def forward(self, xs, a):
        x, y = xs
        ex = lambda v: v[:, None]  # noqa: E731
        lx, ly, uy = ex(self.lx), ex(self.ly), ex(self.uy)
        low = self.prod(x, ly) + self.prod(lx, y) - self.prod(lx, ly)
        up = self.prod(x, uy) + self.prod(lx, y) - self.prod(lx, uy)
        return np.where(a > 0, low, up)


def _t(v):
    return np.swapaxes(v, -1, -2)


@multivariate
def mul_bilinear(los, his, var, **_):
    return _McCormick(los, his, np.multiply, np.multiply, np.multiply)


@multivariate
def matmul_bilinear(los, his, var, **_):
    """z_ij = sum_k x_ik y_kj: rows a on z give a l_y^T (+ a^- (u_y - l_y)^T) on x and
    l_x^T a on y."""
    return _McCormick(los, his, np.matmul, lambda g, y: np.matmul(g, _t(y)), lambda x, g: np.matmul(_t(x), g))


# ops affine in one variable input whose product of two variable inputs is bilinear
BILINEAR = {"mul": mul_bilinear, "matmul": matmul_bilinear}


class Tangent(Planes):
    """First-order Taylor planes with a rigorous remainder, for a smooth op acting
    along ``axis`` (softmax, layer_norm): f(x) = f(c) + J(c)(x - c) + R with |R_i| <= rem_i
    on the box, so f(c) + J(x - c) -/+ rem enclose f. ``jvp(t)`` applies J(c), ``vjp(a)``
    its transpose (default ``jvp``: J is symmetric for softmax). Where an output's planes
    are wider than its interval [ylo, yhi], that output is bounded by the constants
    instead (``use``)."""

    def __init__(self, c, fc, jvp, rem, ylo, yhi, use, vjp=None):
        self.c, self.fc, self.jvp, self.rem = c, fc, jvp, rem
        self.ylo, self.yhi, self.use = ylo, yhi, use
        self.vjp = jvp if vjp is None else vjp

    def back(self, a):
        N, K = a.shape[:2]

        def dot(rows, v):                                      # sum over the op's axes: (N, K)
            return np.matmul(rows.reshape(N, K, -1), v.reshape(N, -1, 1))[..., 0]

        plane = a if self.use.all() else np.where(self.use[:, None], a, 0.0)
        cx = self.vjp(plane)                                   # J^T a
        # a . (f(c) - J c) - |a| . rem = a . f(c) - (J^T a) . c - |a| . rem on the planes' outputs
        bias = dot(plane, self.fc) - dot(cx, self.c) - dot(np.abs(plane), self.rem)
        if plane is not a:                                     # the others: their interval
            rest = a - plane
            bias += dot(np.maximum(rest, 0), self.ylo) + dot(np.minimum(rest, 0), self.yhi)
        return [cx], bias

    def forward(self, xs, a):
        ex = lambda v: v[:, None]  # noqa: E731
        (x,) = xs
        lin = ex(self.fc) + self.jvp(x - ex(self.c))
        plane = np.where(a > 0, lin - ex(self.rem), lin + ex(self.rem))
        const = np.where(a > 0, ex(self.ylo), ex(self.yhi))
        return np.where(ex(self.use), plane, const)
