"""Broadcasting arithmetic: add, sub, mul, div, neg.

Real semantics are NumPy's in the inputs' dtype; broadcasting follows NumPy.
div's domain excludes a zero divisor (IEEE gives +-inf or NaN there).

Interval rules (outward rounded, :mod:`certnn.floats.interval`): add/sub from
the endpoints; mul/div from the extremes of the four endpoint products or
quotients; a divisor box containing 0 gives the whole line for that element
(no finite bound exists); neg is exact.
"""

from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import elementwise, rand_samples

_M = __name__
_bcast = rand_samples([((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5))])

elementwise("add", _M, lambda a, b, xp: a + b, lambda a, b, y, xp: (1.0, 1.0), arity=2,
            samples=_bcast, linear=True, interval=iv.add, assumes=iv.RN, error=er.add_error)
elementwise("sub", _M, lambda a, b, xp: a - b, lambda a, b, y, xp: (1.0, -1.0), arity=2,
            samples=_bcast, linear=True, interval=iv.sub, assumes=iv.RN, error=er.sub_error)
elementwise("mul", _M, lambda a, b, xp: a * b, lambda a, b, y, xp: (b, a), arity=2,
            samples=_bcast, interval=iv.mul, assumes=iv.RN, error=er.mul_error)
elementwise("div", _M, lambda a, b, xp: a / b, lambda a, b, y, xp: (1.0 / b, -y / b), arity=2,
            samples=rand_samples([((3, 4), (3, 4)), ((2, 3), (3,))], avoid=[0.0], gap=0.3),
            interval=iv.div, assumes=iv.RN, error=er.div_error)
elementwise("neg", _M, lambda a, xp: -a, lambda a, y, xp: (-1.0,), linear=True, interval=iv.neg, error=er.passthrough)
