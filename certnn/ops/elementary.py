"""Elementary functions: exp, log, sqrt, abs, and elementwise maximum/minimum.

Domains: log and sqrt take x > 0 (IEEE NaN/-inf outside, as NumPy gives).
Kinks (abs at 0, maximum/minimum at ties) take the minimal-norm Clarke
derivative: abs'(0) = 0; max(a, a) gives 1/2 to each argument.

Interval rules: exp, log, sqrt are increasing (endpoint images, outward
rounded; exp and log rest on ``libm-float64-within-4ulp``, sqrt is correctly
rounded). A box reaching below 0 leaves the domain of log and sqrt: that
element becomes the whole line (log of a box starting at exactly 0 has lower
bound -inf). abs, maximum and minimum are exact (no rounding): abs is
decreasing then increasing, maximum/minimum are increasing in both arguments.
"""

import numpy as np

from ..floats import error_rules as er
from . import relax as rx
from ..floats import interval as iv
from ._common import elementwise, rand_samples

_M = __name__
_pos = rand_samples([(3, 4), (5,)], low=0.2, high=3.0)
_ties = rand_samples([((3, 4), (3, 4)), ((2, 3), (3,))])

def _exp_slope(a, b):
    return np.exp(b) * (1 + 1e-12)  # exp' = exp, largest at the right end (libm slack included)


elementwise("exp", _M, lambda x, xp: xp.exp(x), lambda x, y, xp: (y,),
            interval=iv.exp, assumes=iv.LIBM, error=er.lipschitz_cr(_exp_slope))
elementwise("log", _M, lambda x, xp: xp.log(x), lambda x, y, xp: (1.0 / x,), samples=_pos,
            interval=iv.log, assumes=iv.LIBM, error=er.log_error)
elementwise("sqrt", _M, lambda x, xp: xp.sqrt(x), lambda x, y, xp: (0.5 / y,), samples=_pos,
            interval=iv.sqrt, assumes=iv.RN, error=er.sqrt_error)
elementwise("abs", _M, lambda x, xp: xp.abs(x),
            lambda x, y, xp: (xp.where(x > 0, 1.0, xp.where(x < 0, -1.0, 0.0)),),
            samples=rand_samples([(3, 4), (5,)], avoid=[0.0]), interval=iv.abs_, error=er.passthrough, relax=rx.abs_relax)


def _max_grads(a, b, y, xp):
    ga = xp.where(a > b, 1.0, xp.where(a < b, 0.0, 0.5))
    return ga, 1.0 - ga


def _min_grads(a, b, y, xp):
    ga = xp.where(a < b, 1.0, xp.where(a > b, 0.0, 0.5))
    return ga, 1.0 - ga


elementwise("maximum", _M, lambda a, b, xp: xp.maximum(a, b), _max_grads, arity=2, samples=_ties,
            interval=lambda al, ah, bl, bh: (np.maximum(al, bl), np.maximum(ah, bh)), error=er.max_error)
elementwise("minimum", _M, lambda a, b, xp: xp.minimum(a, b), _min_grads, arity=2, samples=_ties,
            interval=lambda al, ah, bl, bh: (np.minimum(al, bl), np.minimum(ah, bh)), error=er.max_error)
