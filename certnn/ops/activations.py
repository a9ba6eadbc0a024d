"""Activations: relu, leaky_relu, tanh, sigmoid, gelu (exact erf form), softplus.

sigmoid and softplus are evaluated in overflow-free forms:
sigmoid(x) = 1/(1+e) if x >= 0 else e/(1+e) with e = exp(-|x|);
softplus(x) = max(x, 0) + log1p(exp(-|x|)).
Kinks: relu'(0) = 0, leaky_relu'(0) = negative_slope (minimal-norm convention).

Interval rules. relu is exact. leaky_relu is piecewise linear with one kink
at 0, so over [a, b] its extremes are among f(a), f(b) and f(0) = 0 (any
slope). tanh, sigmoid, softplus are increasing: endpoint images, outward
rounded (libm boundary). gelu(x) = x Phi(x) decreases on (-inf, x*] and
increases on [x*, inf), x* = -0.75179152469356...: a box on one side uses
the endpoint images, a box around x* has lower bound min gelu (a float below
-0.169971207479903661...) and upper bound the larger endpoint image (a
function that decreases then increases attains its max on a box at an end).
"""

import math

import numpy as np

from ..floats import error_rules as er
from . import relax as rx
from ..floats import interval as iv
from ._common import _times, elementwise, rand_samples, strong_zero
from .stash import Stash
from .xp import NP

_M = __name__
_off0 = rand_samples([(3, 4), (5,)], avoid=[0.0])


def _sigmoid(x, xp):
    """1 / (1 + e^-x), evaluated stably (scipy's expit: one pass, no overflow)."""
    return xp.expit(x)


def _leaky_interval(lo, hi, negative_slope):
    def point(x):                    # enclosure of f at the points x
        sl, sh = iv.mul(x, x, negative_slope, negative_slope)
        return np.where(x > 0, x, sl), np.where(x > 0, x, sh)
    (al, ah), (bl, bh) = point(lo), point(hi)
    kink = (lo <= 0) & (hi >= 0)
    return (np.minimum(np.minimum(al, bl), np.where(kink, 0.0, np.inf)),
            np.maximum(np.maximum(ah, bh), np.where(kink, 0.0, -np.inf)))


# gelu: x* lies strictly between these adjacent floats (gelu' < 0 at the left one,
# > 0 at the right one), and _GELU_MIN is a float below gelu(x*); all three are
# checked with mpmath in tests/floats/test_interval.py.
_GELU_LEFT, _GELU_RIGHT = -0.7517915246935646, -0.7517915246935644
_GELU_MIN = -0.16997120747990369


def _gelu_point(x):
    """Enclosure of 0.5 x (1 + erf(x / sqrt 2)) at the points x."""
    t = iv.mul(x, x, *iv.INV_SQRT2)
    s = iv.add(1.0, 1.0, *iv.erf(*t))
    return iv.mul(*iv.mul(x, x, *s), 0.5, 0.5)


def _gelu_interval(lo, hi):
    (al, ah), (bl, bh) = _gelu_point(lo), _gelu_point(hi)
    dec, inc = hi <= _GELU_LEFT, lo >= _GELU_RIGHT
    return (np.where(dec, bl, np.where(inc, al, _GELU_MIN)),
            np.where(dec, ah, np.where(inc, bh, np.maximum(ah, bh))))


def _closest_to_zero(a, b):
    return np.clip(0.0, a, b)


def _tanh_slope(a, b):
    c = _closest_to_zero(a, b)   # tanh' = 1 - tanh^2 peaks where |x| is smallest
    return np.minimum(1.0, (1.0 - np.tanh(c) ** 2) * (1 + 1e-12) + 1e-15)


def _sigmoid_slope(a, b):
    c = _closest_to_zero(a, b)   # sigmoid' = s(1 - s) peaks where |x| is smallest
    s = 1.0 / (1.0 + np.exp(-c))
    return np.minimum(0.25, s * (1.0 - s) * (1 + 1e-12) + 1e-15)


# gelu's erf(x / sqrt 2) (SciPy's, about a quarter of a GPT's training step) from the
# forward, for the vjp; a miss recomputes it
_GELU_ERF = Stash(128 << 20)


def _gelu_erf(x, xp):
    """erf(x / sqrt 2); on a number array it is stashed under x for the vjp."""
    e = xp.erf(x / xp.sqrt(2.0))
    if isinstance(x, np.ndarray) and x.dtype != object and isinstance(e, np.ndarray):
        _GELU_ERF.put(x, None, e)
    return e


def _gelu_slope(x, erf, xp):
    """gelu'(x) = Phi(x) + x phi(x), with erf = erf(x / sqrt 2)."""
    return 0.5 * (1.0 + erf) + x * xp.exp(-0.5 * x * x) / xp.sqrt(2.0 * xp.pi)


def _gelu_vjp(ct, out, x):
    """The generic rule (ct * gelu'(x) with its strong zero), taking erf(x / sqrt 2)
    from the forward when it was stashed: the same bits, one erf fewer."""
    erf = _GELU_ERF.get(x, None)
    if erf is None:
        erf = NP.erf(x / math.sqrt(2.0))
    g = _gelu_slope(x, erf, NP)
    if isinstance(g, np.ndarray) and g.dtype != out.dtype:
        g = g.astype(out.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_times(ct, g),)


def _relu_vjp(ct, out, x):
    """ct * relu'(x) without a float64 array of partials: the same products as the
    generic rule (ct * 1.0 or ct * 0.0 in the result dtype, then its strong zero)."""
    with np.errstate(invalid="ignore"):          # inf * 0 is NaN, as in the generic rule
        return (strong_zero(np.multiply(ct, x > 0, dtype=np.result_type(ct, out)), ct),)


elementwise("relu", _M, lambda x, xp: xp.maximum(x, 0.0),
            lambda x, y, xp: (xp.where(x > 0, 1.0, 0.0),), samples=_off0, fast_vjp=_relu_vjp,
            interval=lambda lo, hi: (np.maximum(lo, 0.0), np.maximum(hi, 0.0)), error=er.relu_error,
            relax=rx.relu_relax)
elementwise("leaky_relu", _M,
            lambda x, xp, negative_slope: xp.where(x > 0, x, negative_slope * x),
            lambda x, y, xp, negative_slope: (xp.where(x > 0, 1.0, negative_slope),),
            attrs={"negative_slope": 0.01}, samples=_off0, interval=_leaky_interval, assumes=iv.RN, error=er.leaky_relu_error,
            relax=rx.leaky_relu_relax)
elementwise("tanh", _M, lambda x, xp: xp.tanh(x), lambda x, y, xp: (1.0 - y * y,),
            interval=iv.tanh, assumes=iv.LIBM, error=er.lipschitz_cr(_tanh_slope), relax=rx.tanh_relax)
elementwise("sigmoid", _M, _sigmoid, lambda x, y, xp: (y * (1.0 - y),),
            interval=iv.sigmoid, assumes=iv.LIBM, error=er.lipschitz_cr(_sigmoid_slope), relax=rx.sigmoid_relax)
elementwise("gelu", _M, lambda x, xp: 0.5 * x * (1.0 + _gelu_erf(x, xp)),
            lambda x, y, xp: (_gelu_slope(x, xp.erf(x / xp.sqrt(2.0)), xp),),
            interval=_gelu_interval, assumes=iv.LIBM, error=er.gelu_error, fast_vjp=_gelu_vjp,
            relax=rx.gelu_relax)
elementwise("softplus", _M, lambda x, xp: xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x))),
            lambda x, y, xp: (_sigmoid(x, xp),), samples=_off0,
            interval=iv.softplus, assumes=iv.LIBM, error=er.softplus_error)
