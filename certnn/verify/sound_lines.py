"""Sound linear bounds of sigmoid and tanh on an interval, for the checker.

``lower_line(op, l, u, t)`` returns float arrays (w, b) with ``w z + b <= f(z)``
for every real z in [l, u], exactly, given sound enclosures of f (the op table's
``interval`` rules, which assume libm within a few ulps). ``t`` is the tangent
point the producer proposes; nothing about it is trusted. Candidates, in the
order the producer's relaxation (``certnn.ops.relax.s_shaped``) picks them:

* the tangent at t, when provably valid: t in [l, min(u, 0)] (the convex
  piece, where a tangent lies below f), and when u > 0 also T(u) <= f(u) (then
  T - f is convex on [0, u] and <= 0 at both ends). The float slope w is a
  lower end of f'(t)'s enclosure; the intercept is lowered by
  |w - f'(t)| * max(|l - t|, |u - t|) so the line stays below the exact tangent;
* the chord, as a line of float slope s through points at or below (l, f(l))
  and (u, f(u)): valid on a concave piece (l >= 0), and across 0 when
  s <= f'(l) (it then lies below the tangent at l on the convex side);
* otherwise the line through (l, f(l)) of slope k <= min(f'(l), f'(u)), the
  least slope of f on [l, u]: f(z) - k z is nondecreasing there. Always valid.

``upper_line`` is the lower line of h(y) = -f(-y) on [-u, -l] (h has the same
shape), reflected. Every rounding goes the safe way (``certnn.floats.interval``).
"""

from __future__ import annotations

import numpy as np

from ..floats import interval as iv


def _dtanh(lo, hi):
    """f' = 1 - f^2 on an enclosure of f."""
    return iv.sub(1.0, 1.0, *iv.mul(lo, hi, lo, hi))


def _dsigmoid(lo, hi):
    """f' = f (1 - f) on an enclosure of f."""
    return iv.mul(lo, hi, *iv.sub(1.0, 1.0, lo, hi))


OPS = {"tanh": (iv.tanh, _dtanh), "sigmoid": (iv.sigmoid, _dsigmoid)}
ASSUMES = iv.LIBM


def _at(op, x):
    """Enclosures of f(x) and f'(x) at float points x."""
    f, df = OPS[op]
    flo, fhi = f(x, x)
    dlo, dhi = df(flo, fhi)
    return (flo, fhi), (np.maximum(dlo, 0.0), dhi)   # f is increasing: f' >= 0


def lower_line(op, l, u, t):
    return _lower(lambda x: _at(op, x), *np.broadcast_arrays(l, u, t))


def upper_line(op, l, u, t):
    def reflected(y):  # h(y) = -f(-y), h'(y) = f'(-y)
        (flo, fhi), d = _at(op, -y)
        return (-fhi, -flo), d
    w, b = _lower(reflected, *np.broadcast_arrays(-u, -l, -np.asarray(t)))
    return w, -b


def _lower(at, l, u, t):
    with np.errstate(all="ignore"):
        (fl, _), (dl, _) = at(l)
        (fu, _), (du, _) = at(u)
        # the parallel line: slope k at most the least slope of f on [l, u]
        k = np.minimum(dl, du)
        par_b = iv.down(fl - iv.up(np.where(k == 0, 0.0, k * l)))
        # the chord: below both end points
        s = np.where(u > l, np.maximum((fu - fl) / (u - l), 0.0), 0.0)
        b0 = np.minimum(fl, iv.down(fu - iv.up(s * iv.up(u - l))))
        chord_b = iv.down(b0 - iv.up(s * l))
        chord_ok = (l >= 0) | ((u > 0) & (s <= dl))
        # the tangent at t
        (ft, ft_hi), (dt, dt_hi) = at(t)
        gap = iv.up(dt_hi - dt)                                     # >= |w - f'(t)| with w = dt
        reach = iv.up(np.maximum(np.abs(l - t), np.abs(u - t)))     # >= max |z - t| on [l, u]
        tan_b = iv.down(iv.down(ft - iv.up(gap * reach)) - iv.up(dt * t))
        t_at_u = iv.up(ft_hi + iv.up(dt_hi * iv.up(u - t)))        # >= T(u)
        tan_ok = (t >= l) & (t <= u) & (t <= 0) & ((u <= 0) | (t_at_u <= fu))
        w = np.where(tan_ok, dt, np.where(chord_ok, s, k))
        b = np.where(tan_ok, tan_b, np.where(chord_ok, chord_b, par_b))
        # an unbounded end (an overflowed bound): the constant f(l) (f is increasing)
        bad = ~(np.isfinite(w) & np.isfinite(b))
    return np.where(bad, 0.0, w), np.where(bad, np.where(np.isfinite(fl), fl, -np.inf), b)
