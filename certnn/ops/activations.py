"""Activations: relu, leaky_relu, tanh, sigmoid, gelu (exact erf form), softplus.

sigmoid and softplus are evaluated in overflow-free forms:
sigmoid(x) = 1/(1+e) if x >= 0 else e/(1+e) with e = exp(-|x|);
softplus(x) = max(x, 0) + log1p(exp(-|x|)).
Kinks: relu'(0) = 0, leaky_relu'(0) = negative_slope (minimal-norm convention).
"""

from ._common import elementwise, rand_samples

_M = __name__
_off0 = rand_samples([(3, 4), (5,)], avoid=[0.0])


def _sigmoid(x, xp):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


elementwise("relu", _M, lambda x, xp: xp.maximum(x, 0.0),
            lambda x, y, xp: (xp.where(x > 0, 1.0, 0.0),), samples=_off0)
elementwise("leaky_relu", _M,
            lambda x, xp, negative_slope: xp.where(x > 0, x, negative_slope * x),
            lambda x, y, xp, negative_slope: (xp.where(x > 0, 1.0, negative_slope),),
            attrs={"negative_slope": 0.01}, samples=_off0)
elementwise("tanh", _M, lambda x, xp: xp.tanh(x), lambda x, y, xp: (1.0 - y * y,))
elementwise("sigmoid", _M, _sigmoid, lambda x, y, xp: (y * (1.0 - y),))
elementwise("gelu", _M, lambda x, xp: 0.5 * x * (1.0 + xp.erf(x / xp.sqrt(2.0))),
            lambda x, y, xp: (0.5 * (1.0 + xp.erf(x / xp.sqrt(2.0)))
                              + x * xp.exp(-0.5 * x * x) / xp.sqrt(2.0 * xp.pi),))
elementwise("softplus", _M, lambda x, xp: xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x))),
            lambda x, y, xp: (_sigmoid(x, xp),), samples=_off0)
