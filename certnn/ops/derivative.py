"""derivative: partial derivatives of the elementwise ops, and the tangent rules.

``derivative(x0[, x1], op=f, wrt=(p, q, ...), params=attrs)`` is the partial
derivative d^k f / dx_p dx_q ... of the elementwise op ``f`` (with its
attributes ``params``) at the inputs, elementwise. Its mathematics comes from
the op's own table entry:

* first order: the op's ``grads`` (the very code the vjp/jvp rules run, so the
  kink conventions agree: relu'(0) = 0, abs'(0) = 0, a tie of max splits 1/2);
* higher order: sympy differentiates that first derivative, written with
  ``Piecewise`` for its kinks (``Max``, ``Abs``, ``sign`` rewritten), branch by
  branch. Piecewise-linear ops get 0 (their second derivative almost
  everywhere); sigmoid and softplus, written piecewise only to avoid overflow,
  get the derivative of each branch, which is the analytic derivative.

Rules: ``real`` (first order: ``grads``; higher: the sympy expression through
``lambdify``, computed in the inputs' float dtype), ``vjp``/``jvp`` (the next
derivative), ``sympy_form``, ``interval`` (the sympy expression evaluated in
sound interval arithmetic, :mod:`certnn.floats.symbolic_interval`). No binary32
or error rule: higher derivatives are a float64 (or float32) computation.

Because every partial derivative is again an op, the forward-mode derivative of
a graph is a graph (:func:`tangent_rule` gives each op's jvp written with ops),
and derivatives of any order follow by nesting; training differentiates
through them with the ordinary vjp rules.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy

from ..errors import MissingRuleError, ShapeError
from ..floats import interval as iv
from ..floats.symbolic_interval import ASSUMES, compile_interval
from ._common import broadcast_shapes
from .registry import OpDef, Sample, get_op, register
from .xp import NP, SYM

_M = __name__
NAME = "derivative"


def _base(op: str):
    base = get_op(op)
    if not base.elementwise or base.sympy_form is None or base.grads is None or op == NAME:
        raise ShapeError(f"{NAME}: op '{op}' is not an elementwise op with a sympy form")
    return base


def _check(n_inputs: int, op: str, wrt: tuple):
    base = _base(op)
    if n_inputs not in base.arity:
        raise ShapeError(f"{NAME}: op '{op}' takes {base.arity[0]} input(s), got {n_inputs}")
    if not wrt or any(not isinstance(p, int) or not 0 <= p < n_inputs for p in wrt):
        raise ShapeError(f"{NAME}: wrt={wrt} must list input positions of '{op}' (0..{n_inputs - 1})")
    return base


@functools.lru_cache(maxsize=None)
def symbols(n: int) -> tuple:
    return sympy.symbols(f"x0:{n}", real=True)


def _smooth(e):
    """Kinks as Piecewise branches, so that sympy differentiates branch by branch."""
    e = sympy.sympify(e).rewrite(sympy.Piecewise)
    return sympy.piecewise_fold(e)


@functools.lru_cache(maxsize=None)
def expression(op: str, wrt: tuple, params: tuple):
    """The sympy expression of d^k op / dx_wrt in the symbols ``symbols(arity)``."""
    base = _base(op)
    n = base.arity[0]
    xs = symbols(n)
    attrs = dict(params)
    f = base.sympy_form(*xs, **attrs)
    e = sympy.sympify(base.grads(*xs, f, xp=SYM, **attrs)[wrt[0]])
    for p in wrt[1:]:
        e = _smooth(sympy.diff(_smooth(e), xs[p]))
    return e


@functools.lru_cache(maxsize=None)
def _numeric(op: str, wrt: tuple, params: tuple):
    n = _base(op).arity[0]
    return sympy.lambdify(symbols(n), expression(op, wrt, params), modules=["scipy", "numpy"], cse=True)


def _boundary_subs(cond) -> list:
    """Substitutions putting a point on the boundary of ``cond`` (symbol REL number
    or symbol REL symbol); None when the condition has another form."""
    if isinstance(cond, (sympy.And, sympy.Or)):
        subs = [_boundary_subs(c) for c in cond.args]
        return None if any(s is None for s in subs) else [x for s in subs for x in s]
    if not isinstance(cond, sympy.core.relational.Relational):
        return None
    lhs, rhs = cond.lhs, cond.rhs
    if lhs.is_Symbol and (rhs.is_number or rhs.is_Symbol):
        return [{lhs: rhs}]
    if rhs.is_Symbol and lhs.is_number:
        return [{rhs: lhs}]
    return None


@functools.lru_cache(maxsize=None)
def is_smooth(op: str, params: tuple, order: int) -> bool:
    """Is the op C^order everywhere? Judged on its sympy form: the function and
    its partial derivatives up to ``order`` (kinks written as Piecewise) must
    take equal values from every branch on every branch boundary. relu, abs,
    leaky_relu, maximum, minimum are not C^1; tanh, sigmoid, softplus, gelu,
    exp, ... are (sigmoid and softplus are written piecewise only to avoid
    overflow, and their branches agree)."""
    base = _base(op)
    n = base.arity[0]
    xs = symbols(n)
    exprs = [_smooth(base.sympy_form(*xs, **dict(params)))]
    wrts = [()]
    for _ in range(order):
        wrts = [w + (p,) for w in wrts for p in range(n)]
        exprs += [expression(op, tuple(sorted(w)), params) for w in wrts]
    for e in exprs:
        for pw in e.atoms(sympy.Piecewise):
            for _, cond in pw.args:
                if cond is sympy.true:
                    continue
                subs = _boundary_subs(cond)
                if subs is None:
                    return False
                for sub in subs:
                    vals = [sympy.simplify(b.subs(sub)) for b, _ in pw.args]
                    if any(sympy.simplify(v - vals[0]) != 0 for v in vals[1:]):
                        return False
    return True


@functools.lru_cache(maxsize=None)
def kinks(op: str, params: tuple):
    """The kinks of a one-input piecewise-linear op (its second derivative is 0
    and its first is piecewise constant with breaks at ``x REL number``): the
    break points, sorted; None for any other op."""
    base = _base(op)
    if base.arity[0] != 1:
        return None
    d1, d2 = expression(op, (0,), params), expression(op, (0, 0), params)
    if d2 != 0:
        return None
    points = set()
    for pw in d1.atoms(sympy.Piecewise):
        for _, cond in pw.args:
            if cond is sympy.true:
                continue
            subs = _boundary_subs(cond)
            if subs is None or any(not v.is_number for sub in subs for v in sub.values()):
                return None
            points.update(float(v) for sub in subs for v in sub.values())
    return sorted(points)


def _dtype(xs):
    return next((np.asarray(x).dtype for x in xs if np.asarray(x).dtype.kind == "f"), np.dtype(np.float64))


def real(*xs, op, wrt, params=()):
    """The partial derivative at ``xs`` (broadcast), in the inputs' float dtype."""
    base = _check(len(xs), op, wrt)
    attrs = dict(params)
    dtype = _dtype(xs)
    shape = np.broadcast_shapes(*[np.shape(x) for x in xs])
    with np.errstate(all="ignore"):
        if len(wrt) == 1:
            g = base.grads(*xs, base.real(*xs, **attrs), xp=NP, **attrs)[wrt[0]]
        else:
            g = _numeric(op, wrt, params)(*xs)
    return np.array(np.broadcast_to(np.asarray(g, dtype=dtype), shape))


def _partials(xs, op, wrt, params):
    return [real(*xs, op=op, wrt=tuple(sorted(wrt + (p,))), params=params) for p in range(len(xs))]


def vjp(ct, out, *xs, op, wrt, params=()):
    return tuple(ct * g for g in _partials(xs, op, wrt, params))


def jvp(tangents, out, *xs, op, wrt, params=()):
    acc = None
    for t, g in zip(tangents, _partials(xs, op, wrt, params)):
        acc = t * g if acc is None else acc + t * g
    return acc


def sympy_form(*syms, op, wrt, params=()):
    _check(len(syms), op, wrt)
    e = expression(op, tuple(wrt), tuple(params))
    return e.subs(dict(zip(symbols(len(syms)), syms)), simultaneous=True)


def grads(*args, xp=NP, op, wrt, params=()):
    """Partials of the derivative (``args`` = inputs, then the output, as for every
    elementwise op's ``grads``): the derivatives one order higher."""
    xs = args[:-1]
    if getattr(xp, "symbolic", False):
        return tuple(sympy_form(*xs, op=op, wrt=tuple(sorted(wrt + (p,))), params=params)
                     for p in range(len(xs)))
    return tuple(_partials(xs, op, wrt, params))


@iv.uses(*ASSUMES)
def interval(los, his, op, wrt, params=()):
    los, his = iv.inputs(NAME, los, his)
    _check(len(los), op, wrt)
    fn = compile_interval(expression(op, tuple(wrt), tuple(params)), symbols(len(los)))
    return iv.finish(NAME, *fn(los, his))


def shape(in_shapes, op, wrt, params=()):
    _check(len(in_shapes), op, wrt)
    return broadcast_shapes(NAME, *in_shapes)


# ---------------------------------------------------------------- tangent rules

def params_of(attrs: dict) -> tuple:
    return tuple(sorted(attrs.items()))


def partial(op: str, attrs: dict, p: int) -> tuple[str, tuple, tuple]:
    """(op, wrt, params) of the partial derivative of node ``op(attrs)`` in input ``p``."""
    if op == NAME:
        return attrs["op"], tuple(sorted(tuple(attrs["wrt"]) + (p,))), tuple(attrs["params"])
    return op, (p,), params_of(attrs)


_Y = sympy.Symbol("y", real=True)   # the op's output, in first derivatives written with it


@functools.lru_cache(maxsize=None)
def rational_partial(op: str, params: tuple, p: int):
    """The op's first partial ``grads[p]`` as a sympy expression in its inputs
    ``symbols(n)`` and its output ``y`` when it is rational there (+, -, *, /,
    integer powers, numbers: tanh' = 1 - y^2, sigmoid' = y (1 - y), exp' = y,
    log' = 1/x, mul' = b, ...), else None (relu's where, gelu's erf, ...)."""
    base = _base(op)
    xs = symbols(base.arity[0])
    e = sympy.sympify(base.grads(*xs, _Y, xp=SYM, **dict(params))[p])
    ok = all(a.is_Symbol or a.is_Number or a.is_Add or a.is_Mul or (a.is_Pow and a.exp.is_Integer)
             for a in sympy.preorder_traversal(e))
    return e if ok else None


def emit(ap, e, env: dict):
    """Apply a rational sympy expression with ops: ``env`` maps its symbols to
    the caller's values; numbers come back as Python floats (ap makes them
    constants where they meet a value)."""
    if e in env:
        return env[e]
    if e.is_Number:
        return float(e)
    if e.is_Add:
        acc = None
        for a in sorted(e.args, key=lambda a: a.could_extract_minus_sign()):
            neg = a.could_extract_minus_sign()
            h = emit(ap, -a if neg else a, env)
            acc = (ap("neg", h) if neg else h) if acc is None else ap("sub" if neg else "add", acc, h)
        return acc
    if e.is_Mul:
        c, rest = e.as_coeff_Mul()
        h = emit(ap, rest, env) if not rest.is_Mul else None
        if rest.is_Mul:
            for a in rest.args:
                h = emit(ap, a, env) if h is None else ap("mul", h, emit(ap, a, env))
        return h if c == 1 else ap("neg", h) if c == -1 else ap("mul", h, float(c))
    if e.is_Pow and e.exp.is_Integer:
        n = int(e.exp)
        b = emit(ap, e.base, env)
        h = b
        for _ in range(abs(n) - 1):
            h = ap("mul", h, b)
        return h if n > 0 else ap("div", 1.0, h)
    raise MissingRuleError(f"cannot write {e} with ops")


def _elementwise_tangent(name):
    """sum_p t_p * d_p f(xs). A first partial that is rational in the inputs and
    the output is written with arithmetic ops on them (tanh: t * (1 - y*y)),
    so nested derivatives stay arithmetic; any other partial is a derivative
    node. Constant partials scale the tangent (add: t, sub: -t)."""
    def rule(ap, ts, xs, y, **attrs):
        acc = None
        for p, t in enumerate(ts):
            if t is None:
                continue
            op, wrt, params = partial(name, attrs, p)
            e = rational_partial(op, params, p) if name != NAME else None
            if e is None:
                e = expression(op, wrt, params)
                d = None if e.is_number else ap(NAME, *xs, op=op, wrt=wrt, params=params)
            else:
                d = None if e.is_number else emit(ap, e, {**dict(zip(symbols(len(xs)), xs)), _Y: y})
            if d is None:
                c = float(e)
                if c == 0.0:
                    continue
                term = t if c == 1.0 else ap("neg", t) if c == -1.0 else ap("mul", t, c)
            else:
                term = ap("mul", t, d)
            acc = term if acc is None else ap("add", acc, term)
        return acc
    return rule


def _linear_tangent(name):
    def rule(ap, ts, xs, y, **attrs):
        if all(t is None for t in ts):
            return None
        if any(t is None for t in ts):
            raise MissingRuleError(f"op '{name}': tangent with some inputs constant is not supported "
                                   "(a zero tangent of unknown batch size)")
        return ap(name, *ts, **attrs)
    return rule


def tangent_rule(name: str):
    """The op's jvp written with ops: its own ``tangent`` rule, or derived (an
    elementwise op from its partial derivatives, a linear op applied to the
    tangents); MissingRuleError otherwise."""
    op = get_op(name)
    if op.tangent is not None:
        return op.tangent
    if op.elementwise and (op.grads is not None) and (op.sympy_form is not None):
        return _elementwise_tangent(name)
    if op.linear:
        return _linear_tangent(name)
    raise MissingRuleError(f"op '{name}' (defined in {op.module}) has no tangent rule: its forward-mode "
                           "derivative cannot be written with ops")


# ---------------------------------------------------------------- registration

def _samples(rng):
    u = lambda lo, hi, *s: rng.uniform(lo, hi, size=s)  # noqa: E731

    def away(a):  # keep off the kinks at 0
        return np.where(np.abs(a) < 0.1, a + np.sign(a + 1e-300) * 0.2, a)
    out = [Sample((u(-2, 2, 3, 4),), {"op": "tanh", "wrt": (0, 0)}),
           Sample((u(-2, 2, 5),), {"op": "tanh", "wrt": (0,)}),
           Sample((u(-2, 2, 5),), {"op": "tanh", "wrt": (0, 0, 0, 0)}),
           Sample((u(-3, 3, 3, 4),), {"op": "sigmoid", "wrt": (0, 0, 0)}),
           Sample((u(-3, 3, 5),), {"op": "softplus", "wrt": (0, 0)}),
           Sample((u(-2, 2, 5),), {"op": "exp", "wrt": (0, 0)}),
           Sample((u(0.3, 3, 5),), {"op": "log", "wrt": (0, 0, 0)}),
           Sample((u(0.3, 3, 5),), {"op": "sqrt", "wrt": (0, 0)}),
           Sample((away(u(-2, 2, 5)),), {"op": "relu", "wrt": (0, 0)}),
           Sample((away(u(-2, 2, 5)),), {"op": "leaky_relu", "wrt": (0,),
                                         "params": (("negative_slope", 0.25),)}),
           Sample((u(-2, 2, 3, 4), u(-2, 2, 4)), {"op": "mul", "wrt": (0, 1)}),
           Sample((u(-2, 2, 5), away(u(-2, 2, 5))), {"op": "div", "wrt": (1, 1)})]
    return out


register(OpDef(
    name=NAME, module=_M, arity=(1, 2), attrs={"op": "tanh", "wrt": (0, 0), "params": ()},
    shape=shape, real=real, vjp=vjp, jvp=jvp, sympy_form=sympy_form, grads=grads,
    interval=interval, samples=_samples, elementwise=True, doc=__doc__))
