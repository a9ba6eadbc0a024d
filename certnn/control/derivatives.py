"""Sound bounds of a network's value and input gradient over boxes, and of a Lie
derivative V' = grad V(x) . f(x, u(x)) (shared by the Lyapunov producer and checker).

A forward walk over the graph, asking each node's op for its rules (no op names
here): the value of a node is its ``interval`` rule on its inputs' intervals (the
outward-rounded IBP of :mod:`certnn.floats.interval`); its tangents (one per input
direction, so the Jacobian with respect to the network input) are

* for an op that is affine in its variable inputs (``relax`` = ``AFFINE``): the
  op's ``interval`` rule on the tangent intervals minus the op's constant term
  f(0) (a point), which encloses the linear part applied to every tangent;
* for an elementwise op: sum_i d_i f * t_i, where the partial derivatives d_i f
  are the op's own derivative rule ``grads(x, y, xp)`` (the code autograd runs)
  evaluated in the interval namespace :data:`IVXP`: arithmetic on :class:`Iv`
  values rounds outward, comparisons are three-valued, and ``xp.where`` takes
  the hull of both branches where the condition is undecided (a box across a
  ReLU's kink gets the derivative interval [0, 1]).

Every result contains the real value of the network and of its gradient at every
point of the box. The dynamics f are evaluated in interval arithmetic from the
system's tape (:mod:`.expr`; sin/cos through Arb balls).
"""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from ..errors import UnsupportedOp
from ..floats import interval as iv
from ..ir.passes import unfuse
from ..ops import get_op
from ..ops.relax import AFFINE, AFFINE_OPS
from . import expr as ex
from .taylor import arb_interval, qiv


class Tri:
    """A three-valued comparison: ``yes`` where it holds on the whole box, ``no``
    where it fails on the whole box, undecided elsewhere."""

    def __init__(self, yes, no):
        self.yes, self.no = np.asarray(yes, bool), np.asarray(no, bool)


class Iv:
    """An interval array [lo, hi] with outward-rounded arithmetic."""

    __array_priority__ = 100

    def __init__(self, lo, hi=None):
        self.lo = np.asarray(lo, np.float64)
        self.hi = self.lo if hi is None else np.asarray(hi, np.float64)

    @staticmethod
    def of(x):
        return x if isinstance(x, Iv) else Iv(*qiv(x)) if isinstance(x, (Fraction, int)) else Iv(x, x)

    def __add__(self, o):
        o = Iv.of(o)
        return Iv(*iv.add(self.lo, self.hi, o.lo, o.hi))

    __radd__ = __add__

    def __neg__(self):
        return Iv(-self.hi, -self.lo)

    def __sub__(self, o):
        return self + (-Iv.of(o))

    def __rsub__(self, o):
        return Iv.of(o) + (-self)

    def __mul__(self, o):
        if o is self:
            return Iv(*iv.square(self.lo, self.hi))
        o = Iv.of(o)
        return Iv(*iv.mul(self.lo, self.hi, o.lo, o.hi))

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = Iv.of(o)
        return Iv(*iv.div(self.lo, self.hi, o.lo, o.hi))

    def __rtruediv__(self, o):
        return Iv.of(o) / self

    def _cmp(self, o, strict, greater):
        o = Iv.of(o)
        if greater:
            return Tri(self.lo > o.hi if strict else self.lo >= o.hi, self.hi <= o.lo if strict else self.hi < o.lo)
        return Tri(self.hi < o.lo if strict else self.hi <= o.lo, self.lo >= o.hi if strict else self.lo > o.hi)

    def __gt__(self, o):
        return self._cmp(o, True, True)

    def __ge__(self, o):
        return self._cmp(o, False, True)

    def __lt__(self, o):
        return self._cmp(o, True, False)

    def __le__(self, o):
        return self._cmp(o, False, False)


def _where(cond, a, b):
    a, b = Iv.of(a), Iv.of(b)
    if not isinstance(cond, Tri):
        cond = Tri(cond, ~np.asarray(cond, bool))
    lo = np.where(cond.yes, a.lo, np.where(cond.no, b.lo, np.minimum(a.lo, b.lo)))
    hi = np.where(cond.yes, a.hi, np.where(cond.no, b.hi, np.maximum(a.hi, b.hi)))
    return Iv(lo, hi)


def _lift(fn):
    return lambda x: Iv(*fn(Iv.of(x).lo, Iv.of(x).hi))


IVXP = SimpleNamespace(
    exp=_lift(iv.exp), log=_lift(iv.log), log1p=_lift(iv.log1p), sqrt=_lift(iv.sqrt), tanh=_lift(iv.tanh),
    abs=_lift(iv.abs_), erf=_lift(iv.erf), where=_where,
    maximum=lambda a, b: Iv(np.maximum(Iv.of(a).lo, Iv.of(b).lo), np.maximum(Iv.of(a).hi, Iv.of(b).hi)),
    minimum=lambda a, b: Iv(np.minimum(Iv.of(a).lo, Iv.of(b).lo), np.minimum(Iv.of(a).hi, Iv.of(b).hi)),
    symbolic=False)
IVXP.pi = Iv(3.141592653589793, 3.1415926535897936)      # the floats next to pi, below and above


def value_and_gradient(graph, lo: np.ndarray, hi: np.ndarray, want_gradient: bool = True):
    """Intervals of the (single) output and, when asked, of its gradient with respect
    to the input, for every box [lo, hi] (B, d). Returns (out_lo, out_hi) each (B, k)
    and (g_lo, g_hi) each (d, B, k) (or None)."""
    g = unfuse(graph)
    B, d = lo.shape
    val, tan = {}, {}
    for n in g.nodes:
        if n.op == "input":
            val[n.id] = Iv(lo, hi)
            if want_gradient:
                eye = np.broadcast_to(np.eye(d)[:, None, :], (d, B, d))
                tan[n.id] = Iv(eye, eye)
            continue
        if n.op in ("param", "const"):
            a = np.asarray(g.arrays[n.id], np.float64)
            val[n.id] = Iv(a, a)
            continue
        op = get_op(n.op)
        ins = [val[i] for i in n.inputs]
        if op.interval is None:
            raise UnsupportedOp(n.op, "interval", f"node '{n.id}'")
        y = Iv(*op.interval([x.lo for x in ins], [x.hi for x in ins], **n.attrs))
        val[n.id] = y
        var = [i for i in n.inputs if i in tan]
        if not want_gradient or not var:
            continue
        if op.relax == AFFINE and _affine_in(n.op, [p for p, i in enumerate(n.inputs) if i in tan]):
            tan[n.id] = _affine_tangent(op, n, val, tan, d)
        elif op.elementwise and op.grads is not None:
            parts = op.grads(*[val[i] for i in n.inputs], y, xp=IVXP, **n.attrs)
            acc = None
            for i, p in zip(n.inputs, parts):
                if i not in tan:
                    continue
                p = Iv.of(p)
                t = tan[i]
                term = Iv(*iv.mul(p.lo[None], p.hi[None], t.lo, t.hi))
                acc = term if acc is None else acc + term
            tan[n.id] = acc
        else:
            raise UnsupportedOp(n.op, "grads", f"node '{n.id}': no derivative rule for interval gradients")
    out = g.outputs[0]
    y = val[out]
    yl, yh = y.lo.reshape(B, -1), y.hi.reshape(B, -1)
    if not want_gradient:
        return (yl, yh), None
    t = tan[out]
    return (yl, yh), (t.lo.reshape(d, B, -1), t.hi.reshape(d, B, -1))


def _affine_in(name, var_pos) -> bool:
    """Is the op affine in these variable inputs (the others fixed)? (AFFINE_OPS)"""
    rule = AFFINE_OPS.get(name)
    return rule == "any" or (rule == "one" and len(var_pos) == 1) or \
        (isinstance(rule, tuple) and set(var_pos) <= set(rule))


def _affine_tangent(op, n, val, tan, d):
    """f(t) - f(0) on the tangent intervals of the variable inputs (d directions
    folded into the batch)."""
    los, his, zeros = [], [], []
    for i in n.inputs:
        if i in tan:
            t = tan[i]
            shp = t.lo.shape
            los.append(t.lo.reshape((-1,) + shp[2:]))
            his.append(t.hi.reshape((-1,) + shp[2:]))
            zeros.append(np.zeros((1,) + shp[2:]))
        else:
            los.append(val[i].lo)
            his.append(val[i].hi)
            zeros.append(val[i].lo)
    lo, hi = op.interval(los, his, **n.attrs)
    f0 = np.asarray(op.real(*zeros, **n.attrs), np.float64)
    lo, hi = iv.sub(lo, hi, f0, f0)
    lead = next(tan[i].lo.shape[:2] for i in n.inputs if i in tan)
    return Iv(lo.reshape(lead + lo.shape[1:]), hi.reshape(lead + hi.shape[1:]))


class IntervalAlgebra:
    """The tape's operations on :class:`Iv` values (Fractions stay exact)."""

    def const(self, q):
        return Fraction(q)

    def _bin(self, fn, a, b):
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return fn(a, b)
        return fn(Iv.of(a), Iv.of(b))

    def add(self, a, b):
        return self._bin(lambda x, y: x + y, a, b)

    def sub(self, a, b):
        return self._bin(lambda x, y: x - y, a, b)

    def mul(self, a, b):
        return self._bin(lambda x, y: x * y, a, b)

    def div(self, a, b):
        return self._bin(lambda x, y: x / y, a, b)

    def neg(self, a):
        return -a

    def _unary(self, name, a):
        a = Iv.of(a)
        return Iv(*arb_interval(name, a.lo, a.hi))

    def sin(self, a):
        return self._unary("sin", a)

    def cos(self, a):
        return self._unary("cos", a)

    def exp(self, a):
        return self._unary("exp", a)

    def log(self, a):
        return self._unary("log", a)

    def sqrt(self, a):
        return self._unary("sqrt", a)


def lie_bounds(V, controller, tape: ex.Tape, states, control, lo, hi):
    """Per box (B, n): intervals of V(x) and of V'(x) = grad V . f(x, u(x)) with
    u the controller's output (named ``control`` in the dynamics)."""
    (vl, vh), (gl, gh) = value_and_gradient(V, lo, hi)
    (ul, uh), _ = value_and_gradient(controller, lo, hi, want_gradient=False)
    env = {s: Iv(lo[:, i], hi[:, i]) for i, s in enumerate(states)}
    env[control] = Iv(ul[:, 0], uh[:, 0])
    f = [Iv.of(v) for v in ex.evaluate(tape, env, IntervalAlgebra())]
    acc = Iv(np.zeros(lo.shape[0]))
    for j, fj in enumerate(f):
        acc = acc + Iv(gl[j, :, 0], gh[j, :, 0]) * Iv(np.broadcast_to(fj.lo, lo.shape[:1]),
                                                     np.broadcast_to(fj.hi, lo.shape[:1]))
    return (vl[:, 0], vh[:, 0]), (acc.lo, acc.hi)


def inside_open_ball(lo, hi, radius_lo: float) -> np.ndarray:
    """Per box: is every point's Euclidean norm below ``radius_lo`` (a float at most
    the ball's radius)? max ||x||^2 over the box, rounded up, against r^2 rounded down."""
    far = np.maximum(np.abs(lo), np.abs(hi))
    s = iv.nonneg_sum_bounds(np.sum(iv.up(far * far), -1), lo.shape[1])[1]
    r2 = iv.down(np.float64(radius_lo) * np.float64(radius_lo))
    return s < r2
