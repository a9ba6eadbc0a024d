"""The specification on Taylor-model enclosures (sound arithmetic).

An enclosure is a TM of the states, shape (..., P, n) (pieces P, optionally a
leading axis of time sub-intervals). For a half-space ``a . x <= b`` the value
``a . x - b`` is a TM too (exact rational coefficients), whose range bound gives
sound margins:

* an unsafe polyhedron (all ``a_j . x <= b_j``) is avoided by a piece when some
  j has ``min (a_j . x - b_j) > 0``: margin ``max_j min(...)``;
* a target (all ``a_j . x <= b_j``) contains a piece when every j has
  ``max (a_j . x - b_j) <= 0``: margin ``min_j -max(...)``.

A property's windows decide which times are checked: :func:`check_times`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .problem import Halfspace, Property
from .taylor import TM, TMAlgebra, unstack


def functional(X: TM, h: Halfspace) -> TM:
    """The TM of a . x - b over an enclosure X (..., n)."""
    alg = TMAlgebra(X.b, X.shape[:-1])
    acc = Fraction(0)
    for Xi, ai in zip(unstack(X), h.a):
        if ai != 0:
            acc = alg.add(acc, alg.mul(Xi, ai))
    return alg.lift(alg.add(acc, -h.b))


def unsafe_margin(prop: Property, X: TM) -> np.ndarray:
    """(..., P): > 0 where the enclosure avoids every unsafe polyhedron."""
    out = np.full(X.shape[:-1], np.inf)
    for poly in prop.unsafe:
        m = np.full(X.shape[:-1], -np.inf)
        for h in poly:
            m = np.maximum(m, functional(X, h).range()[0])
        out = np.minimum(out, m)
    return out


def target_margin(prop: Property, X: TM) -> np.ndarray:
    """(..., P): >= 0 where the enclosure lies inside the target."""
    out = np.full(X.shape[:-1], np.inf)
    for h in prop.target:
        out = np.minimum(out, -functional(X, h).range()[1])
    return out


def in_window(window, t0: Fraction, t1: Fraction) -> bool:
    """Does [t0, t1] meet the closed window?"""
    return window is not None and t0 <= window[1] and t1 >= window[0]


def check_times(window, t0: Fraction, h: Fraction, sub: int) -> list:
    """The time intervals of the step [t0, t0 + h] on which a property with this
    window is checked: the ``sub`` equal parts of the step, each clipped to the
    window (a part meeting it in one point becomes that point), as offsets from
    t0. Empty when the step misses the window."""
    out = []
    for j in range(sub):
        a, b = t0 + h * Fraction(j, sub), t0 + h * Fraction(j + 1, sub)
        if in_window(window, a, b):
            out.append((max(a, window[0]) - t0, min(b, window[1]) - t0))
    return out
