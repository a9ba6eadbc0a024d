"""First-order Taylor models over boxes, in sound float64 arithmetic.

A Taylor model (TM) of a quantity q over a batch of boxes is

    q(x) in c + sum_j g_j d_j + [-r, r]   for every x = m + d in the box,
    |d_j| <= h_j,

with float arrays c (the value at the box centre m, up to the remainder), g
(one coefficient array per input coordinate j, or None for a quantity that
does not depend on x) and r >= 0. The linear part carries the dependence on
the input exactly, so quantities that are later subtracted or multiplied
keep their correlation (the dependency problem of plain intervals); only the
remainder is an interval. Composition follows Taylor's theorem with a
Lagrange remainder (Berz & Makino's Taylor models, at order 1):

* sums and scalings are exact on (c, g) up to rounding;
* a product of a = ca + La + ea and b = cb + Lb + eb (L linear, |e| <= r)
  is ca cb + (ca Lb + cb La) + [ca eb + cb ea + (La + ea)(Lb + eb)], the
  bracket bounded by |ca| rb + |cb| ra + (lam_a + ra)(lam_b + rb) with
  lam = sum_j |g_j| h_j;
* a smooth elementwise f of TMs a_p: f(a) = f(c) + sum_p f_p(c) (a_p - c_p)
  + 1/2 sum_pq f_pq(xi) (a_p - c_p)(a_q - c_q), with enclosures of f(c) and
  f_p(c) at the point c and of f_pq over the range box of the a_p
  (:func:`elementwise`). The remainder is second order in the box size.

Rounding: c and g are rounded to nearest; the error of each such result is at
most ``k * 2^-52 * (sum of the absolute values of its terms) + 2^-1000`` (k the
number of operations; 2^-52 is twice the unit roundoff, 2^-1000 covers
underflow) and is added to the remainder, weighted by h for coefficients. The
remainder itself is a sum of products of nonnegative floats: fewer than 64
roundings each, so multiplying it by 1 + 2^-40 and adding 2^-1000 makes it an
upper bound (``_up``). Anything non-finite makes the remainder infinite (a
box too big to bound: the caller splits it). Rests on ieee754-binary64-rn
(and on libm where the caller's enclosures do).
"""

from __future__ import annotations

import numpy as np

from . import interval as iv

EPS = 2.0 ** -52
TINY = 2.0 ** -1000
INFLATE = 1.0 + 2.0 ** -40


def _up(x):
    """An upper bound of a nonnegative sum/product computed in round-to-nearest."""
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.asarray(x, dtype=np.float64) * INFLATE + TINY
    return np.where(np.isnan(x), np.inf, x)


def _below(x):
    """A float <= x - (its rounding error): x - |x| 2^-51 - 2^-1000, for x computed by
    one round-to-nearest operation (cheaper than a nextafter step, and as sound)."""
    return x - (np.abs(x) * (2 * EPS) + TINY)


def _above(x):
    return x + (np.abs(x) * (2 * EPS) + TINY)


def _err(abs_sum, ops: int):
    """Bound on the rounding error of a result of ``ops`` operations whose terms
    have absolute values summing to ``abs_sum``."""
    return abs_sum * (ops * EPS) + TINY


class TM:
    __slots__ = ("c", "g", "r", "h")

    def __init__(self, c, g, r, h):
        self.c = np.asarray(c, dtype=np.float64)
        self.g = None if g is None else np.asarray(g, dtype=np.float64)
        self.r = np.asarray(r, dtype=np.float64)
        self.h = h                      # (k, B): half-widths of the batch of boxes

    # ---- construction ------------------------------------------------------------------------
    @staticmethod
    def boxes(lo, hi) -> "TM":
        """The identity on a batch of boxes lo, hi (B, k): centre m, half-width h
        with [lo, hi] inside [m - h, m + h]."""
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        m = 0.5 * lo + 0.5 * hi
        h = iv.up(np.maximum(hi - m, m - lo)).T.copy()
        h = np.maximum(h, 0.0)
        k = lo.shape[1]
        g = np.zeros((k,) + lo.shape)
        g[np.arange(k), :, np.arange(k)] = 1.0
        return TM(m, g, 0.0, h)

    @staticmethod
    def const(lo, hi=None, h=None) -> "TM":
        """A quantity that does not depend on x, enclosed by [lo, hi]."""
        if hi is None:
            return TM(lo, None, 0.0, h)
        m, r = iv.midrad(lo, hi)
        return TM(m, None, r, h)

    # ---- views -------------------------------------------------------------------------------
    def _hb(self, g):
        """h shaped to broadcast against g (k, B, ...)."""
        return self.h.reshape(self.h.shape + (1,) * (g.ndim - 2))

    def lam(self):
        """sum_j |g_j| h_j, rounded up: the largest deviation of the linear part."""
        if self.g is None:
            return np.zeros_like(self.c)
        return _up(np.sum(np.abs(self.g) * self._hb(self.g), axis=0))

    def radius(self):
        return _up(self.lam() + self.r)

    def interval(self):
        """An enclosure (lo, hi) of the quantity over the boxes (the point itself
        for an exact constant, so exact weights stay exact)."""
        if self.g is None and not np.any(self.r):
            return self.c, self.c
        d = self.radius()
        with np.errstate(invalid="ignore", over="ignore"):
            lo, hi = _below(self.c - d), _above(self.c + d)
        bad = ~np.isfinite(d) | ~np.isfinite(self.c)
        return iv.whole_line(bad, lo, hi)

    def abs_bound(self):
        """An upper bound of |q| over the boxes."""
        return _up(np.abs(self.c) + self.radius())


def _h(*tms):
    return next((t.h for t in tms if t.h is not None), None)


def _gsum(ga, gb, sign: float = 1.0):
    if ga is None:
        return None if gb is None else sign * gb
    return ga if gb is None else ga + sign * gb


def _coef_err(g, terms_abs, ops, h_of):
    """Rounding error of coefficients g (bounded by ``terms_abs``), weighted by h."""
    if g is None:
        return 0.0
    e = _err(terms_abs, ops)
    return np.sum(e * h_of(g), axis=0)


def add(a: TM, b: TM, sign: float = 1.0) -> TM:
    """a + b (or a - b with sign = -1)."""
    h = _h(a, b)
    with np.errstate(all="ignore"):
        c = a.c + sign * b.c
        g = _gsum(a.g, b.g, sign)
        r = a.r + b.r + _err(np.abs(a.c) + np.abs(b.c), 1)
        if a.g is not None and b.g is not None:   # one-sided coefficients are copied exactly
            r = r + _coef_err(g, np.abs(a.g) + np.abs(b.g), 1, a._hb)
    return _finite(c, g, _up(r), h)


def neg(a: TM) -> TM:
    return TM(-a.c, None if a.g is None else -a.g, a.r, a.h)


def scale(a: TM, s: float) -> TM:
    """s * a for an exact float s."""
    with np.errstate(all="ignore"):
        g = None if a.g is None else s * a.g
        r = abs(s) * a.r + _err(np.abs(s * a.c), 1) + (0.0 if g is None else _coef_err(g, np.abs(g), 1, a._hb))
        return _finite(s * a.c, g, _up(r), a.h)


def mul(a: TM, b: TM) -> TM:
    """a * b (see the module docstring)."""
    h = _h(a, b)
    with np.errstate(all="ignore"):
        c = a.c * b.c
        ga = None if a.g is None else a.g * b.c
        gb = None if b.g is None else b.g * a.c
        g = _gsum(ga, gb)
        r = (np.abs(a.c) * b.r + np.abs(b.c) * a.r + (a.lam() + a.r) * (b.lam() + b.r)
             + _err(np.abs(c), 1))
        if g is not None:
            terms = (0.0 if ga is None else np.abs(ga)) + (0.0 if gb is None else np.abs(gb))
            hb = (a if a.g is not None else b)._hb
            r = r + _coef_err(g, terms, 3, hb)
    return _finite(c, g, _up(r), h)


def elementwise(args: list, value, partials, hessian) -> TM:
    """f(a_1, ..., a_n) for TMs a_p, given interval enclosures (lists of (lo, hi)):
    ``value(points) -> enclosure of f`` at the points c, ``partials(points)`` of
    each f_p at c, ``hessian(boxes)`` of each f_pq (p <= q, row-major) over the
    boxes. ``points`` and ``boxes`` are lists of (lo, hi), one per argument."""
    h = _h(*args)
    n = len(args)
    with np.errstate(all="ignore"):
        pts = [(a.c, a.c) for a in args]
        m0, r0 = iv.midrad(*value(pts))
        lam = [a.lam() for a in args]
        dev = [_up(l + a.r) for l, a in zip(lam, args)]
        boxes = [(_below(a.c - d), _above(a.c + d)) for a, d in zip(args, dev)]
        rem = r0
        g = None
        terms = 0.0
        any_g = next((a for a in args if a.g is not None), None)
        for a, (plo, phi), l in zip(args, partials(pts), lam):
            pm, pr = iv.midrad(plo, phi)
            pmax = np.maximum(np.abs(plo), np.abs(phi))
            rem = rem + pmax * a.r + pr * l
            if a.g is not None:
                t = pm * a.g
                g = t if g is None else g + t
                terms = terms + np.abs(t)
        k = 0
        hs = hessian(boxes)
        for p in range(n):
            for q in range(p, n):
                hlo, hhi = hs[k]
                k += 1
                hmax = np.maximum(np.abs(hlo), np.abs(hhi))
                rem = rem + (0.5 if p == q else 1.0) * hmax * dev[p] * dev[q]
        if g is not None:
            rem = rem + _coef_err(g, terms, 2 * n, any_g._hb)
        shape = np.broadcast_shapes(*[np.shape(a.c) for a in args])
        m0 = np.broadcast_to(m0, shape)
        rem = _up(np.broadcast_to(rem, shape))
    return _finite(m0, g, rem, h)


def _finite(c, g, r, h) -> TM:
    """Non-finite values (overflow, an unbounded enclosure) become an infinite remainder."""
    bad = ~np.isfinite(c)
    if g is not None:
        bad = bad | ~np.all(np.isfinite(g), axis=0)
        g = np.where(np.isfinite(g), g, 0.0)
    return TM(np.where(np.isfinite(c), c, 0.0), g, np.where(bad, np.inf, r), h)


def split_scores(a: TM) -> np.ndarray:
    """(B, k): how much each input coordinate's extent costs the bound |a| <=
    |c| + sum_j |g_j| h_j + r of each box: |g_j| h_j plus the remainder shared
    in proportion to h_j; -1 for a coordinate of zero extent (nothing to split)."""
    h = a.h
    lin = np.abs(a.g) * a._hb(a.g) if a.g is not None else np.zeros_like(h)
    lin = lin.reshape(h.shape + (-1,)).max(axis=-1) if lin.ndim > 2 else lin
    share = np.where(h.sum(0) > 0, h / np.maximum(h.sum(0), 1e-300), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.broadcast_to(np.where(np.isfinite(a.r), a.r, 1e300), a.c.shape).reshape(h.shape[1], -1).max(axis=1)
        s = lin + r * share
    return np.where(h > 0, s, -1.0).T


# ---------------------------------------------------------------- sympy expressions

def column(a: TM, i) -> TM:
    """The quantity a[:, i] (a (B, n) TM)."""
    return TM(a.c[:, i], None if a.g is None else a.g[:, :, i], np.broadcast_to(a.r, a.c.shape)[:, i], a.h)


def _function_tm(fn, arg: TM) -> TM:
    from .symbolic_interval import compile_interval
    import sympy
    s = sympy.Dummy("s", real=True)
    f = fn(s)
    d1, d2 = sympy.diff(f, s), sympy.diff(f, s, 2)
    encl = [compile_interval(e, (s,)) for e in (f, d1, d2)]

    def call(k):
        return lambda boxes: encl[k]([boxes[0][0]], [boxes[0][1]])
    return elementwise([arg], call(0), lambda p: [call(1)(p)], lambda b: [call(2)(b)])


def sympy_tm(expr, env: dict, h) -> TM:
    """The TM of a sympy expression whose symbols are bound to TMs in ``env``:
    sums, products and integer powers by TM arithmetic, numbers as enclosures,
    other functions of one argument by :func:`elementwise` with enclosures of
    the function and its first two derivatives (sympy, outward rounded)."""
    import sympy
    from .symbolic_interval import number
    if expr.is_Symbol:
        return env[expr]
    if expr.is_number:
        lo, hi = number(expr)
        return TM.const(np.float64(lo), np.float64(hi), h=h) if lo != hi else TM.const(np.float64(lo), h=h)
    if expr.is_Add:
        parts = [sympy_tm(a, env, h) for a in expr.args]
        out = parts[0]
        for p in parts[1:]:
            out = add(out, p)
        return out
    if expr.is_Mul:
        c, rest = expr.as_coeff_Mul()
        parts = [sympy_tm(a, env, h) for a in (rest.args if rest.is_Mul else (rest,))]
        out = parts[0]
        for p in parts[1:]:
            out = mul(out, p)
        if c == 1:
            return out
        lo, hi = number(c)
        return scale(out, lo) if lo == hi else mul(out, TM.const(np.float64(lo), np.float64(hi), h=h))
    if expr.is_Pow and expr.exp.is_Integer and int(expr.exp) > 0:
        b = sympy_tm(expr.base, env, h)
        out = b
        for _ in range(int(expr.exp) - 1):
            out = mul(out, b)
        return out
    if expr.is_Pow and expr.exp.is_number:
        return _function_tm(lambda s: s ** expr.exp, sympy_tm(expr.base, env, h))
    if len(expr.args) == 1 and isinstance(expr, sympy.Function):
        return _function_tm(expr.func, sympy_tm(expr.args[0], env, h))
    from ..errors import CertnnError
    raise CertnnError(f"no Taylor-model form for {expr}")
