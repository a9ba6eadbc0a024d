"""Validated integration of the plant over one control period (sound arithmetic).

Given Taylor models X0(z) of the states at t_k and P(z) of the inputs held
constant over the period (controls, zero-order-hold disturbances), enclose the
solution of x' = f(x, p) for t in [0, h] (the interval Taylor series method of
Moore and Lohner, with Taylor-model coefficients as in Berz & Makino):

1. **A priori enclosure.** A box B (proposed by the caller, never trusted) is
   accepted when hull(X0) + [0, h] f(B, hull(P)) lies in B. Then every solution
   from X0 exists on [0, h] and stays in B (Picard-Lindelof: the Picard operator
   maps the continuous functions with values in B into themselves).
2. **Taylor coefficients.** x(t) = sum_{k<K} x_k t^k + x_K(xi) t^K, where x_k are
   the normalized Taylor coefficients of the solution through x(0) (x_{k+1} =
   f(x)_k / (k+1), computed by Taylor-mode automatic differentiation of f's
   tape: Cauchy products, and the usual recurrences for division, sin/cos, exp,
   log and sqrt) and the last term is Lagrange's remainder: the K-th coefficient
   of the solution through x(xi) in B (the system is autonomous on the period,
   so that coefficient is x_K(x(xi))). The x_k (k < K) are computed on the TMs
   (pointwise in z), x_K on the box B in interval arithmetic (constant-only TMs).
3. **Evaluation.** At t = h (an interval around the exact period) by Horner's
   rule in TM arithmetic, and over sub-intervals [t_a, t_b] of the period for
   properties that must hold at every time.

A discrete plant is stepped by its map evaluated in TM arithmetic (exact up to
the TM's own enclosure). Everything here is sound arithmetic (no search): the
producer proposes B, and the tube checker calls the same function with the B
recorded in the tube.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..floats import interval as iv
from . import expr as ex
from .taylor import TM, TMAlgebra, basis, constant, qiv, stack, unstack


# ------------------------------------------------------------------ Taylor-mode series of a tape

def _zero(x) -> bool:
    return x is None or (isinstance(x, Fraction) and x == 0)


class _Series:
    """Truncated power series arithmetic over an algebra; coefficients are algebra
    values, Fractions or None (zero)."""

    def __init__(self, alg):
        self.alg = alg

    def add(self, a, b):
        if _zero(a):
            return b
        if _zero(b):
            return a
        return self.alg.add(a, b)

    def mul(self, a, b):
        if _zero(a) or _zero(b):
            return None
        return self.alg.mul(a, b)

    def scale(self, a, q: Fraction):
        return None if _zero(a) else self.alg.mul(a, q)

    def dot(self, pairs):
        acc = None
        for a, b in pairs:
            acc = self.add(acc, self.mul(a, b))
        return acc


def series_coefficients(tape: ex.Tape, states, x0: list, params: dict, K: int, alg) -> list:
    """[x_0, ..., x_K]: each a list (one entry per state) of the normalized Taylor
    coefficients of the solution of x' = f(x, params) through x0."""
    S = _Series(alg)
    ops = tape.ops
    idx = {s: i for i, s in enumerate(states)}
    node = [[] for _ in ops]                      # coefficient lists per tape op
    aux = [None] * len(ops)                       # companion series (sin <-> cos) and cached inverses
    jx = {}                                       # (op, j) -> j * coefficient j of that op (cached)
    xs = [list(x0)]
    for k in range(K):
        for n, op in enumerate(ops):
            kind = op[0]
            if kind == "const":
                v = op[1] if k == 0 else None
            elif kind == "var":
                name = op[1]
                if name in idx:
                    v = xs[k][idx[name]]
                elif name in params:
                    v = params[name] if k == 0 else None
                else:
                    raise ex.ExpressionError("dynamics", f"no value for the name {name!r}")
            else:
                a = node[op[1]]
                b = node[op[2]] if len(op) == 3 else None
                v = _coefficient(S, kind, k, a, b, node[n], aux, n, _scaled(S, jx, node, op[1]))
            node[n].append(v)
        fk = [node[i][k] for i in tape.outputs]
        xs.append([S.scale(v, Fraction(1, k + 1)) for v in fk])
    return xs


def _scaled(S, cache, node, i):
    """j -> j * (coefficient j of op i), computed once."""
    def get(j):
        if (i, j) not in cache:
            cache[(i, j)] = S.scale(node[i][j], Fraction(j))
        return cache[(i, j)]
    return get


def _coefficient(S, kind, k, a, b, out, aux, n, ja):
    alg = S.alg
    if kind == "add":
        return S.add(a[k], b[k])
    if kind == "sub":
        return S.add(a[k], None if _zero(b[k]) else alg.neg(b[k]))
    if kind == "neg":
        return None if _zero(a[k]) else alg.neg(a[k])
    if kind == "mul":
        return S.dot((a[j], b[k - j]) for j in range(k + 1))
    if kind == "div":                             # q = a / b: q_k = (a_k - sum_{j<k} q_j b_{k-j}) / b_0
        if k == 0:
            aux[n] = alg.div(Fraction(1), b[0])
            return S.mul(a[0], aux[n])
        rest = S.dot((out[j], b[k - j]) for j in range(k))
        num = S.add(a[k], None if _zero(rest) else alg.neg(rest))
        return S.mul(num, aux[n])
    if kind in ("sin", "cos"):                    # s' = a' c, c' = -a' s
        if k == 0:
            s0, c0 = alg.sin(a[0]), alg.cos(a[0])
            aux[n] = [c0] if kind == "sin" else [s0]
            return s0 if kind == "sin" else c0
        comp = aux[n]
        mine = S.scale(S.dot((ja(j), comp[k - j]) for j in range(1, k + 1)), Fraction(1, k))
        other = S.scale(S.dot((ja(j), out[k - j]) for j in range(1, k + 1)), Fraction(1, k))
        if kind == "sin":
            comp.append(None if _zero(other) else alg.neg(other))
            return mine
        comp.append(other)
        return None if _zero(mine) else alg.neg(mine)
    if kind == "exp":                             # e' = a' e
        if k == 0:
            return alg.exp(a[0])
        return S.scale(S.dot((ja(j), out[k - j]) for j in range(1, k + 1)), Fraction(1, k))
    if kind == "log":                             # l' a = a'
        if k == 0:
            aux[n] = alg.div(Fraction(1), a[0])
            return alg.log(a[0])
        rest = S.scale(S.dot((S.scale(out[j], Fraction(j)), a[k - j]) for j in range(1, k)), Fraction(1, k))
        return S.mul(S.add(a[k], None if _zero(rest) else alg.neg(rest)), aux[n])
    if kind == "sqrt":                            # s^2 = a
        if k == 0:
            s0 = alg.sqrt(a[0])
            aux[n] = alg.div(Fraction(1, 2), s0)
            return s0
        rest = S.dot((out[j], out[k - j]) for j in range(1, k))
        return S.mul(S.add(a[k], None if _zero(rest) else alg.neg(rest)), aux[n])
    raise ex.ExpressionError("dynamics", f"no Taylor rule for {kind}")  # pragma: no cover


# ------------------------------------------------------------------ one validated step

def _lift_all(alg, values):
    return [alg.lift(v if v is not None else Fraction(0)) for v in values]


def _interval_tms(lo, hi, shape):
    """Interval boxes as constant-only TMs (order 0, no variables)."""
    b0 = basis(0, 0)
    return [constant(lo[..., i], hi[..., i], b0, shape) for i in range(lo.shape[-1])]


def interval_rhs(tape, states, B_lo, B_hi, params: dict):
    """Enclosures (lo, hi), each (P, n), of f(x, p) for x in the boxes B and p in the
    ranges of the TMs ``params``."""
    shape = B_lo.shape[:-1]
    alg0 = TMAlgebra(basis(0, 0), shape)
    env = dict(zip(states, _interval_tms(B_lo, B_hi, shape)))
    for name, P in params.items():
        env[name] = constant(*P.range(), basis(0, 0), shape)
    ranges = [alg0.lift(v).range() for v in ex.evaluate(tape, env, alg0)]
    return np.stack([r[0] for r in ranges], -1), np.stack([r[1] for r in ranges], -1)


def picard_ok(tape, states, X0: TM, params: dict, h_hi: float, B_lo, B_hi) -> np.ndarray:
    """Per piece: does hull(X0) + [0, h] f(B, hull(params)) lie inside B?"""
    fl, fh = interval_rhs(tape, states, B_lo, B_hi, params)
    xl, xh = X0.range()
    cl, ch = iv.add(xl, xh, *iv.mul(fl, fh, 0.0, h_hi))
    return np.all((cl >= B_lo) & (ch <= B_hi), axis=-1)


def flow_step(tape, states, X0: TM, params: dict, h: Fraction, K: int, B_lo, B_hi, times=()):
    """Enclose the flow over [0, h] from X0 (a TM of shape (P, n)) with the inputs
    ``params`` (name -> TM (P,)) held. Returns (ok, X(h), X over each of the time
    intervals ``times`` ((t_a, t_b) Fractions in [0, h]) as one TM of shape
    (len(times), P, n), or None) where ``ok`` (P,) says which pieces' a priori box
    was valid (the enclosures of the others are meaningless)."""
    shape = X0.shape[:-1]
    h_lo, h_hi = qiv(h)
    ok = picard_ok(tape, states, X0, params, h_hi, B_lo, B_hi)
    alg = TMAlgebra(X0.b, shape)
    xs = series_coefficients(tape, states, unstack(X0), params, K - 1, alg)
    alg0 = TMAlgebra(basis(0, 0), shape)
    env0 = {n: constant(*P.range(), basis(0, 0), shape) for n, P in params.items()}
    xK = series_coefficients(tape, states, _interval_tms(B_lo, B_hi, shape), env0, K, alg0)[K]
    xK = [alg0.lift(v if v is not None else Fraction(0)).range() for v in xK]
    C = [stack(_lift_all(alg, c)) for c in xs]          # K TMs of shape (P, n)
    xl = np.stack([r[0] for r in xK], -1)
    xh = np.stack([r[1] for r in xK], -1)
    algn = TMAlgebra(X0.b, X0.shape)

    def at(tl, th):
        """Enclosure for t in [tl, th] (arrays broadcasting against (P, n))."""
        acc = C[K - 1]
        for k in range(K - 2, -1, -1):
            acc = algn.add(algn.scale(acc, tl, th), C[k])
        tp = (np.ones_like(tl), np.ones_like(th))
        for _ in range(K):
            tp = iv.mul(*tp, tl, th)
        return algn.add_interval(acc, *iv.mul(xl, xh, *tp))

    X_end = at(np.float64(h_lo), np.float64(h_hi))
    pieces = None
    if times:
        if not all(0 <= a <= b <= h for a, b in times):
            raise ValueError("flow_step: every time interval must lie in [0, h]")
        tl = np.array([max(qiv(a)[0], 0.0) for a, _ in times]).reshape(-1, 1, 1)
        th = np.array([qiv(b)[1] for _, b in times]).reshape(-1, 1, 1)
        pieces = at(tl, th)
    return ok, X_end, pieces


def map_step(tape, states, X0: TM, params: dict) -> TM:
    """x_{k+1} = f(x_k, p_k) in TM arithmetic (a discrete plant)."""
    shape = X0.shape[:-1]
    alg = TMAlgebra(X0.b, shape)
    env = dict(zip(states, unstack(X0))) | params
    return stack([alg.lift(v) for v in ex.evaluate(tape, env, alg)])
