"""Taylor models: sound polynomial enclosures of functions of the initial state.

A Taylor model (TM) over ``n`` variables z in [-1, 1]^n and order ``d`` is a
polynomial p of degree <= d with binary64 coefficients and an interval
remainder I; it stands for every function g with g(z) in p(z) + I for every z
in the box (the enclosure is *pointwise in z*). Arithmetic on TMs keeps that
true (Berz & Makino; the representation of Flow*, JuliaReach's TaylorModels
and POLAR):

* every coefficient is computed as an interval enclosing the exact result
  (:mod:`certnn.floats.interval`: outward rounding, the ``bilinear``
  midpoint-radius products), its midpoint becomes the new coefficient and its
  radius moves into the remainder ("sweeping"; |z^k| <= 1 on the box);
* a product's terms of degree > d are bounded over the box and moved into the
  remainder (a monomial whose exponents are all even ranges over [0, 1],
  others over [-1, 1]);
* a remainder meets a polynomial through the polynomial's range bound
  (constant term +- the sum of the other coefficients' magnitudes, a
  monomial with all-even exponents counted on one side only);
* an elementary function f (sin, cos, exp, log, sqrt, 1/x) of a TM with
  constant term c is its Taylor polynomial at c plus the Lagrange remainder:
  f(c + d) = sum_{i<=q} f^(i)(c)/i! d^i + f^(q+1)(xi)/(q+1)! d^(q+1) with xi
  in c + range(d). The coefficients f^(i)(c)/i! and the enclosure of
  f^(q+1)/(q+1)! over the ball c + range(d) come from Arb's rigorous power
  series (python-flint's ``arb_series``): boundary ``arb-ball-arithmetic``.

Every TM operation is vectorized over a leading batch axis (the pieces of a
split initial set); values of shape (..., m) for the m monomials of the basis.
The same operations on constant-only TMs (n = 0) are plain interval arithmetic.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..floats import interval as iv

ARB = "arb-ball-arithmetic"          # registered in certnn.floats.interval (the ops' DFT coefficients use it too)
USES = iv.BLAS + (ARB,)
ARB_PREC = 64
U = 2.0 ** -53                      # unit roundoff of binary64
UNARY = ("sin", "cos", "exp", "log", "sqrt", "inv")


def qiv(q) -> tuple[float, float]:
    """Floats lo <= q <= hi for a rational (or float) q, equal when q is a binary64 number."""
    q = Fraction(q)
    f = float(q)
    lo = f if Fraction(f) <= q else float(np.nextafter(f, -np.inf))
    hi = f if Fraction(f) >= q else float(np.nextafter(f, np.inf))
    return lo, hi


# ------------------------------------------------------------------ monomial basis

class Basis:
    """Monomials z^e of total degree <= order in ``nvars`` variables, graded
    (index 0 is the constant), with the product tables."""

    def __init__(self, nvars: int, order: int):
        self.nvars, self.order = nvars, order
        exps = [e for deg in range(order + 1) for e in _exponents(nvars, deg)]
        self.exps = np.array(exps, np.int64).reshape(len(exps), nvars)
        self.m = len(exps)
        self.deg = self.exps.sum(1)
        self.even = np.all(self.exps % 2 == 0, axis=1)
        index = {tuple(e): k for k, e in enumerate(exps)}
        ki, kj, kk, ti, tj, teven = [], [], [], [], [], []
        for i, j in itertools.product(range(self.m), repeat=2):
            e = tuple(self.exps[i] + self.exps[j])
            if sum(e) <= order:
                ki.append(i), kj.append(j), kk.append(index[e])
            else:
                ti.append(i), tj.append(j), teven.append(all(x % 2 == 0 for x in e))
        m = self.m
        flat = lambda i, j: np.asarray(i, np.int64) * m + np.asarray(j, np.int64)  # noqa: E731
        self.S_full = np.zeros((m * m, m))        # scatter of the kept pair products (row i*m+j)
        self.S_full[flat(ki, kj), kk] = 1.0
        self.kept_mask = self.S_full.sum(1)
        self.trunc_mask = 1.0 - self.kept_mask
        self.t_even = np.zeros(m * m, bool)
        self.t_even[flat(ti, tj)] = teven
        self.t_odd = (self.trunc_mask > 0) & ~self.t_even
        self.index = index

    def linear_index(self, var: int) -> int:
        e = [0] * self.nvars
        e[var] = 1
        return self.index[tuple(e)]


def _exponents(n, deg):
    if n == 0:
        if deg == 0:
            yield ()
        return
    for first in range(deg, -1, -1):
        for rest in _exponents(n - 1, deg - first):
            yield (first,) + rest


@functools.lru_cache(maxsize=32)
def basis(nvars: int, order: int) -> Basis:
    return Basis(nvars, order)


# ------------------------------------------------------------------ sound helpers
#
# Lean versions of certnn.floats.interval's operations for the small arrays of TM
# arithmetic (the per-call overhead dominates there). Rounding: a binary64 sum or
# product r = fl(x) satisfies |r - x| <= 2u|r| + eta (u = 2^-53, eta = 2^-1074 for
# underflow; additions never underflow), and one nextafter step outward encloses
# x from r. Infinite or NaN intermediate results are turned into the whole line
# by :func:`_finish`, so an overflow can only lose precision, never soundness.

_NEXT = np.nextafter
ETA = iv.ETA


def _dn(x):
    return _NEXT(x, -np.inf)


def _upx(x):
    return _NEXT(x, np.inf)


def _iadd(al, ah, bl, bh):
    return _dn(al + bl), _upx(ah + bh)


def _imul(al, ah, bl, bh):
    p1, p2, p3, p4 = al * bl, al * bh, ah * bl, ah * bh
    return _dn(np.minimum(np.minimum(p1, p2), np.minimum(p3, p4))), \
        _upx(np.maximum(np.maximum(p1, p2), np.maximum(p3, p4)))


@functools.lru_cache(maxsize=None)
def _grow(n: int) -> float:
    """A float >= 1 + 2 gamma_n: the exact sum of n nonnegative floats is at most
    fl(sum) (1 + 2 gamma_n) in any order (fl(sum) >= (1 - gamma_n) sum)."""
    return float(_upx(1.0 + 2.0 * iv.gamma(max(n, 1))))


def _sum_up(a, axis=-1):
    """An upper bound of the exact sum of nonnegative floats along ``axis``."""
    n = a.shape[axis]
    if n == 0:
        return np.zeros(a.shape[:-1]) if axis == -1 else np.sum(a, axis=axis)
    s = np.sum(a, axis=axis)
    return np.where(s == 0, 0.0, _upx(s * _grow(n)))    # a float sum of nonnegatives is 0 only if all are


def _err(x) -> np.ndarray:
    """An upper bound of the total rounding error of the floats x (..., k), each the
    result of one rounded sum or product: sum 2u|x| + k eta."""
    return _upx(_upx(2 * U * _sum_up(np.abs(x))) + x.shape[-1] * ETA)


def _sweep(lo, hi):
    """Coefficient enclosures (..., m) -> (midpoints, an upper bound of the sum of radii)."""
    m, r = iv.midrad(lo, hi)
    return m, _sum_up(r)


def _finish(c, e, lo, hi, b):
    """Elements with a non-finite coefficient or a NaN bound become the whole line."""
    bad = ~(np.isfinite(c).all(-1) & np.isfinite(e).all(-1)) | np.isnan(lo) | np.isnan(hi)
    if bad.any():
        c = np.where(bad[..., None], 0.0, c)
        e = np.where(bad[..., None], 0.0, e)
        lo, hi = np.where(bad, -np.inf, lo), np.where(bad, np.inf, hi)
    return TM(c, lo, hi, b, e)


def _poly_dev(c: np.ndarray, b: Basis):
    """Upper bounds (dn, up) with p(z) - c_0 in [-dn, up] over [-1, 1]^n."""
    rest = np.asarray(c, np.float64)[..., 1:]
    even = b.even[1:]
    up_part = _sum_up(np.where(even, np.maximum(rest, 0.0), np.abs(rest)))
    dn_part = _sum_up(np.where(even, np.maximum(-rest, 0.0), np.abs(rest)))
    return dn_part, up_part


def poly_range(c: np.ndarray, b: Basis):
    """Sound bounds of p(z) = sum c_k z^k over [-1, 1]^n, per batch element."""
    dn, up = _poly_dev(c, b)
    return _dn(c[..., 0] - dn), _upx(c[..., 0] + up)


# ------------------------------------------------------------------ Taylor models

@dataclass
class TM:
    """p(z) + e . eps + I: polynomial coefficients ``c`` (..., m), noise coefficients
    ``e`` (..., q) of symbols eps in [-1, 1]^q (affine arithmetic: the symbolic
    remainder, see :func:`absorb`) and the interval remainder [lo, hi] (...)."""
    c: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    b: Basis
    e: np.ndarray | None = None

    def __post_init__(self):
        if self.e is None:
            self.e = np.zeros(np.shape(self.c)[:-1] + (0,))

    @property
    def shape(self):
        return self.lo.shape

    @property
    def q(self) -> int:
        return self.e.shape[-1]

    def noise(self):
        """An upper bound of sum |e_i| (the noise part's magnitude), per element."""
        return _sum_up(np.abs(self.e))

    def range(self):
        """Sound bounds of the TM's values over the box, per batch element."""
        with np.errstate(all="ignore"):
            dn, up = _poly_dev(self.c, self.b)
            s = self.noise()
            c0 = self.c[..., 0]
            lo, hi = _dn(c0 - _upx(dn + s)), _upx(c0 + _upx(up + s))
            lo, hi = _iadd(lo, hi, self.lo, self.hi)
        return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)

    def __getitem__(self, idx):
        if not isinstance(idx, tuple):
            idx = (idx,)
        full = idx + (slice(None),)
        return TM(self.c[full], self.lo[idx], self.hi[idx], self.b, self.e[full])


def _pad_e(e, q):
    if e.shape[-1] == q:
        return e
    return np.concatenate([e, np.zeros(e.shape[:-1] + (q - e.shape[-1],))], -1)


def constant(lo, hi, b: Basis, shape=()) -> TM:
    """The TM of an interval constant (0 polynomial + the interval; or an exact float)."""
    lo = np.broadcast_to(np.asarray(lo, np.float64), shape)
    hi = np.broadcast_to(np.asarray(hi, np.float64), shape)
    c = np.zeros(shape + (b.m,))
    if np.array_equal(lo, hi):
        c[..., 0] = lo
        return TM(c, np.zeros(shape), np.zeros(shape), b)
    return TM(c, lo.copy(), hi.copy(), b)


def affine(center, radius, var: int | None, b: Basis) -> TM:
    """center + radius * z_var, exactly (var None: the constant)."""
    center = np.asarray(center, np.float64)
    c = np.zeros(center.shape + (b.m,))
    c[..., 0] = center
    if var is not None:
        c[..., b.linear_index(var)] = radius
    return TM(c, np.zeros(center.shape), np.zeros(center.shape), b)


def concat(tms, axis=0) -> TM:
    q = max(t.q for t in tms)
    return TM(np.concatenate([t.c for t in tms], axis), np.concatenate([t.lo for t in tms], axis),
              np.concatenate([t.hi for t in tms], axis), tms[0].b,
              np.concatenate([_pad_e(t.e, q) for t in tms], axis))


def stack(tms) -> TM:
    """Stack TMs of shape (P,) into one of shape (P, k) (k = len(tms))."""
    q = max(t.q for t in tms)
    shape = np.broadcast_shapes(*[t.shape for t in tms])
    bc = lambda a, extra: np.broadcast_to(a, shape + extra)  # noqa: E731
    return TM(np.stack([bc(t.c, (t.b.m,)) for t in tms], -2), np.stack([bc(t.lo, ()) for t in tms], -1),
              np.stack([bc(t.hi, ()) for t in tms], -1), tms[0].b,
              np.stack([bc(_pad_e(t.e, q), (q,)) for t in tms], -2))


def unstack(t: TM) -> list:
    return [TM(t.c[..., j, :], t.lo[..., j], t.hi[..., j], t.b, t.e[..., j, :]) for j in range(t.lo.shape[-1])]


def absorb(X: TM, pad: float = 0.0) -> TM:
    """Move the remainders of a stacked TM (..., n) into n new noise symbols, one per
    component (column j of the new block is nonzero in component j only), so that
    later steps carry them linearly instead of wrapping them in intervals. The
    sets do not shrink: [lo, hi] is inside mid + rad [-1, 1]; ``pad`` widens the
    radius by that relative amount (and the remainder left by 2^-1022), so that a
    recomputation that rounds differently still lands inside."""
    m, r = iv.midrad(X.lo, X.hi)
    if pad:
        r = _upx(r * (1.0 + pad))
    c0l, c0h = iv.add(X.c[..., 0], X.c[..., 0], m, m)
    c0, r0 = iv.midrad(c0l, c0h)
    c = X.c.copy()
    c[..., 0] = c0
    n = X.shape[-1]
    new = np.zeros(X.shape + (n,))
    idx = np.arange(n)
    new[..., idx, idx] = r
    if pad:
        r0 = _upx(r0 * (1.0 + pad) + 2.0 ** -1022)
    return TM(c, -r0, r0, X.b, np.concatenate([X.e, new], -1))


def contains(outer: TM, inner: TM) -> np.ndarray:
    """For stacked TMs (..., n): per element of the batch, is every value of inner
    (for every z and every value of its noise symbols) a value of outer for the same
    z and the same symbols, for some value of outer's *new* symbols (those beyond
    inner's)? The new symbols must each sit in one component (else: False). Sound
    test: range(p_in - p_out) + sum |e_in - e_out| + I_in inside I_out +- sum |e_new|
    (exact when the two agree: equal coefficients give a zero deviation)."""
    q_old = inner.q
    if outer.q < q_old:
        outer = TM(outer.c, outer.lo, outer.hi, outer.b, _pad_e(outer.e, q_old))
    new = outer.e[..., q_old:]
    diagonal = np.all(np.count_nonzero(new, axis=-2) <= 1, axis=-1)       # (...) per batch element
    with np.errstate(all="ignore"):
        slack = _sum_up(np.abs(new))
        dl, dh = iv.sub(inner.c, inner.c, outer.c, outer.c)
        exact = inner.c == outer.c
        m, r = iv.midrad(dl, dh)
        m, r = np.where(exact, 0.0, m), np.where(exact, 0.0, r)
        dn, up = _poly_dev(m, inner.b)
        el, eh = iv.sub(inner.e, inner.e, outer.e[..., :q_old], outer.e[..., :q_old])
        edev = _sum_up(np.where(inner.e == outer.e[..., :q_old], 0.0, np.maximum(np.abs(el), np.abs(eh))))
        spread = _up0(_up0(_sum_up(r) + edev))
        lo_dev = _up0(_up0(dn - m[..., 0]) + spread)       # deviation below: -(c0 - dn) + ...
        hi_dev = _up0(_up0(up + m[..., 0]) + spread)
        # inner's bounds rounded outward, outer's (widened by the new symbols) inward
        lo_ok = _dn0(inner.lo, lo_dev) >= np.where(slack == 0, outer.lo, _upx(outer.lo - slack))
        hi_ok = np.where(hi_dev == 0, inner.hi, _upx(inner.hi + hi_dev)) <= \
            np.where(slack == 0, outer.hi, _dn(outer.hi + slack))
    return np.all(lo_ok & hi_ok, axis=-1) & diagonal


def _up0(x):
    """One step up, except for an exact 0 (a sum of zeros)."""
    return np.where(x == 0, 0.0, _upx(x))


def _dn0(a, b):
    """A lower bound of a - b, exact when b == 0."""
    return np.where(b == 0, a, _dn(a - b))


class TMAlgebra:
    """TM arithmetic for :func:`certnn.control.expr.evaluate` and the Taylor series.
    Operands are TMs or Fractions (exact constants)."""

    def __init__(self, b: Basis, shape):
        self.b, self.shape = b, tuple(shape)

    # constants
    def const(self, q):
        return Fraction(q)

    def lift(self, x) -> TM:
        if isinstance(x, TM):
            return x
        return constant(*qiv(x), self.b, self.shape)

    # linear operations
    def add(self, A, B):
        if isinstance(A, Fraction) and isinstance(B, Fraction):
            return A + B
        if isinstance(A, Fraction):
            A, B = B, A
        if isinstance(B, Fraction):
            return self.add_coef0(A, *qiv(B))
        q = max(A.q, B.q)
        with np.errstate(all="ignore"):
            c, e = A.c + B.c, _pad_e(A.e, q) + _pad_e(B.e, q)
            t = _upx(_err(c) + _err(e))
            lo, hi = _iadd(A.lo, A.hi, B.lo, B.hi)
            return _finish(c, e, _dn(lo - t), _upx(hi + t), self.b)

    def neg(self, A):
        if isinstance(A, Fraction):
            return -A
        return TM(-A.c, -A.hi, -A.lo, self.b, -A.e)

    def sub(self, A, B):
        return self.add(A, self.neg(B))

    def scale(self, A: TM, slo, shi) -> TM:
        """A times an interval [slo, shi] (arrays broadcast to the batch shape), in
        midpoint-radius form: with s in [sm - sr, sm + sr], each coefficient x becomes
        fl(x sm), off from x s by at most 2u|fl(x sm)| + eta + |x| sr (swept)."""
        slo, shi = np.asarray(slo, np.float64), np.asarray(shi, np.float64)
        with np.errstate(all="ignore"):
            sm = 0.5 * slo + 0.5 * shi
            sr = _upx(np.maximum(shi - sm, sm - slo))
            smx = sm[..., None]
            c, e = A.c * smx, A.e * smx
            src = _upx(_sum_up(np.abs(A.c)) + _sum_up(np.abs(A.e)))
            t = _upx(_upx(_err(c) + _err(e)) + _upx(src * sr))
            lo, hi = _imul(A.lo, A.hi, slo, shi)
            return _finish(c, e, _dn(lo - t), _upx(hi + t), self.b)

    def add_interval(self, A: TM, lo, hi) -> TM:
        with np.errstate(all="ignore"):
            return _finish(A.c, A.e, *_iadd(A.lo, A.hi, lo, hi), self.b)

    def add_coef0(self, A: TM, lo, hi) -> TM:
        """A plus an interval constant, kept in the constant term (its radius and the
        rounding go into the remainder)."""
        with np.errstate(all="ignore"):
            lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
            m = 0.5 * lo + 0.5 * hi
            r = _upx(np.maximum(hi - m, m - lo))
            c = A.c.copy() if A.c.shape == np.broadcast_shapes(A.c.shape[:-1], m.shape) + A.c.shape[-1:] \
                else np.broadcast_to(A.c, np.broadcast_shapes(A.c.shape[:-1], m.shape) + A.c.shape[-1:]).copy()
            c[..., 0] = A.c[..., 0] + m
            t = _upx(_upx(2 * U * np.abs(c[..., 0])) + r)
            return _finish(c, np.broadcast_to(A.e, c.shape[:-1] + A.e.shape[-1:]), _dn(A.lo - t), _upx(A.hi + t),
                           self.b)

    def mul(self, A, B):
        if isinstance(A, Fraction) and isinstance(B, Fraction):
            return A * B
        if isinstance(A, Fraction):
            A, B = B, A
        if isinstance(B, Fraction):
            if B == 0:
                return B
            return self.scale(A, *qiv(B))
        return self.mul_tm(A, B)

    def mul_tm(self, A: TM, B: TM) -> TM:
        """(pA + eA.eps + IA)(pB + eB.eps + IB). Kept: the polynomial product up to the
        order and the noise terms cA0 eB + cB0 eA (cX0 the constant terms). Into the
        remainder: (pA - cA0) eB.eps, (pB - cB0) eA.eps, (eA.eps)(eB.eps), the terms
        with IA or IB, the truncated products and every rounding error.

        Rounding of the polynomial product: the pair products p_ij = fl(a_i c_j) differ
        from the exact ones by at most 2u|p_ij| + eta; a kept coefficient is a float
        sum of at most N = m^2 of them (error gamma_{N-1} of the sum of magnitudes),
        so all kept coefficients together are off by at most gamma_{N+2} sum|p| + N eta.
        Truncated pairs are bounded over the box: a monomial with all-even exponents
        on one side ([0, 1]), others on both."""
        b = self.b
        with np.errstate(all="ignore"):
            p = (A.c[..., :, None] * B.c[..., None, :]).reshape(np.broadcast_shapes(A.shape, B.shape) + (b.m * b.m,))
            coef = p @ b.S_full
            ap = np.abs(p)
            N = b.m * b.m
            kept = iv.nonneg_sum_bounds(ap @ b.kept_mask, N)[1]
            t_up = iv.nonneg_sum_bounds(np.where(b.t_odd, ap, 0.0).sum(-1)
                                        + np.where(b.t_even, np.maximum(p, 0.0), 0.0).sum(-1), N)[1]
            t_dn = iv.nonneg_sum_bounds(np.where(b.t_odd, ap, 0.0).sum(-1)
                                        + np.where(b.t_even, np.maximum(-p, 0.0), 0.0).sum(-1), N)[1]
            trunc = iv.nonneg_sum_bounds(ap @ b.trunc_mask, N)[1]
            slack = _upx(_upx(iv.gamma(N + 2) * _upx(kept + trunc)) + N * ETA)
            ca0, cb0 = A.c[..., 0], B.c[..., 0]
            # noise terms cA0 eB + cB0 eA: two products and a sum per symbol, error <= 5u(|t1| + |t2|) + 3 eta
            q = max(A.q, B.q)
            ea, eb = _pad_e(A.e, q), _pad_e(B.e, q)
            t1, t2 = ca0[..., None] * eb, cb0[..., None] * ea
            e = t1 + t2
            erad = _upx(_upx(5 * U * _upx(_sum_up(np.abs(t1)) + _sum_up(np.abs(t2)))) + 3 * q * ETA)
            sa, sb = A.noise(), B.noise()
            dna, upa = _poly_dev(A.c, b)
            dnb, upb = _poly_dev(B.c, b)
            r = _imul(-dna, upa, -sb, sb)                        # (pA - cA0) eB.eps
            r = _iadd(*r, *_imul(-dnb, upb, -sa, sa))            # (pB - cB0) eA.eps
            r = _iadd(*r, *_imul(-sa, sa, sb, sb))               # (eA.eps)(eB.eps)
            pal, pah = _dn(ca0 - _upx(dna + sa)), _upx(ca0 + _upx(upa + sa))
            pbl, pbh = _dn(cb0 - _upx(dnb + sb)), _upx(cb0 + _upx(upb + sb))
            r = _iadd(*r, *_imul(pal, pah, B.lo, B.hi))
            r = _iadd(*r, *_imul(A.lo, A.hi, pbl, pbh))
            r = _iadd(*r, *_imul(A.lo, A.hi, B.lo, B.hi))
            r = _iadd(*r, -t_dn, t_up)
            t = _upx(slack + erad)
            return _finish(coef, e, _dn(r[0] - t), _upx(r[1] + t), b)

    def div(self, A, B):
        if isinstance(B, Fraction):
            if B == 0:
                raise ZeroDivisionError("division by the constant 0")
            return self.mul(A, 1 / B)
        return self.mul(A, self.unary("inv", B))

    # elementary functions
    def unary(self, name, A):
        if isinstance(A, Fraction):
            A = self.lift(A)
        b = self.b
        q = b.order
        c0 = A.c[..., 0]
        d = TM(A.c.copy(), A.lo, A.hi, b, A.e)
        d.c[..., 0] = 0.0
        dlo, dhi = d.range()
        coef_lo, coef_hi, R_lo, R_hi = _arb_taylor(name, c0, dlo, dhi, q)
        # Horner: sum_i a_i d^i
        acc = constant(coef_lo[..., q], coef_hi[..., q], b, self.shape)
        for i in range(q - 1, -1, -1):
            acc = self.mul(acc, d)
            acc = self.add_coef0(acc, coef_lo[..., i], coef_hi[..., i])
        # Lagrange remainder R * d^(q+1), d in [dlo, dhi]
        dp = (np.ones_like(dlo), np.ones_like(dhi))
        for _ in range(q + 1):
            dp = iv.mul(*dp, dlo, dhi)
        return self.add_interval(acc, *iv.mul(R_lo, R_hi, *dp))

    def sin(self, A):
        return self.unary("sin", A)

    def cos(self, A):
        return self.unary("cos", A)

    def exp(self, A):
        return self.unary("exp", A)

    def log(self, A):
        return self.unary("log", A)

    def sqrt(self, A):
        return self.unary("sqrt", A)


def _arb_taylor(name, c0, dlo, dhi, q):
    """Per element: enclosures of f^(i)(c0)/i! (i <= q) and of f^(q+1)(xi)/(q+1)! for
    xi in [c0 + dlo, c0 + dhi]."""
    from flint import arb, arb_series, ctx
    shape = np.shape(c0)
    c0, dlo, dhi = (np.asarray(x, np.float64).reshape(-1) for x in (c0, dlo, dhi))
    k = c0.size
    clo, chi = np.empty((k, q + 1)), np.empty((k, q + 1))
    Rlo, Rhi = np.empty(k), np.empty(k)
    xl, xh = iv.add(c0, c0, dlo, dhi)
    mid, rad = iv.midrad(xl, xh)
    old = ctx.prec
    ctx.prec = ARB_PREC
    try:
        for i in range(k):
            s = _series(name, arb_series([arb(float(c0[i])), 1], prec=q + 1))
            for j in range(q + 1):
                clo[i, j], chi[i, j] = _arb_iv(s[j])
            if np.isfinite(rad[i]):
                r = _series(name, arb_series([arb(float(mid[i]), float(rad[i])), 1], prec=q + 2))[q + 1]
                Rlo[i], Rhi[i] = _arb_iv(r)
            else:
                Rlo[i], Rhi[i] = -np.inf, np.inf
    finally:
        ctx.prec = old
    return (clo.reshape(shape + (q + 1,)), chi.reshape(shape + (q + 1,)), Rlo.reshape(shape), Rhi.reshape(shape))


def _series(name, s):
    return {"sin": s.sin, "cos": s.cos, "exp": s.exp, "log": s.log, "sqrt": s.sqrt, "inv": s.inv}[name]()


def _arb_iv(x) -> tuple[float, float]:
    """A binary64 interval containing the arb ball x (one outward step after rounding
    the ball's end points to nearest); the whole line for a non-finite ball."""
    if not x.is_finite():
        return -np.inf, np.inf
    lo, hi = float(x.lower()), float(x.upper())
    return float(np.nextafter(lo, -np.inf)), float(np.nextafter(hi, np.inf))


def arb_interval(name, lo, hi):
    """f([lo, hi]) for the unary functions, elementwise, via Arb balls."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    shape = lo.shape
    mid, rad = iv.midrad(lo.reshape(-1), hi.reshape(-1))
    outl, outh = np.empty(mid.size), np.empty(mid.size)
    from flint import arb, ctx
    old = ctx.prec
    ctx.prec = ARB_PREC
    try:
        for i in range(mid.size):
            if not np.isfinite(rad[i]):
                outl[i], outh[i] = -np.inf, np.inf
                continue
            x = arb(float(mid[i]), float(rad[i]))
            y = {"sin": x.sin, "cos": x.cos, "exp": x.exp, "log": x.log, "sqrt": x.sqrt,
                 "inv": lambda: 1 / x}[name]()
            outl[i], outh[i] = _arb_iv(y)
    finally:
        ctx.prec = old
    return outl.reshape(shape), outh.reshape(shape)
