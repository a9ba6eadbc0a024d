"""Taylor-model arithmetic: every operation encloses the exact function at sampled
points (box corners and noise-symbol vertices included), and containment is exact
where it must be."""

import numpy as np
import pytest

from certnn.control import expr as ex
from certnn.control.simulate import NP
from certnn.control.taylor import TM, TMAlgebra, absorb, affine, basis, contains, stack, unstack

EXPRS = ["x*y - 3*x**2*y + 0.1", "sin(x)*cos(y) + exp(x/2)", "x/(2.5 + y) - sqrt(2 + x) + log(3 + y)",
         "tan(0.3*x) - (x - y)**3"]


def _setup(order, seed, noise=True, P=4):
    rng = np.random.default_rng(seed)
    b = basis(2, order)
    c = rng.uniform(-1, 1, (P, 2))
    r = rng.uniform(0.0, 0.4, (P, 2))
    S = stack([affine(c[:, 0], r[:, 0], 0, b), affine(c[:, 1], r[:, 1], 1, b)])
    if noise:
        S.lo, S.hi = S.lo - rng.uniform(0, 0.05, S.lo.shape), S.hi + rng.uniform(0, 0.05, S.hi.shape)
        S = absorb(S)
    return b, S, rng


def _values(b, X: TM, z, eps):
    """The TM's polynomial + noise part at points (z, eps), per piece: (P, k)."""
    mono = np.prod(z[:, None, :] ** b.exps[None], -1)                   # (k, m)
    return np.einsum("km,pm->pk", mono, X.c) + np.einsum("kq,pq->pk", eps[:, :X.q], X.e)


def _points(rng, k, q):
    z = rng.uniform(-1, 1, (k, 2))
    z[:4] = [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    eps = rng.uniform(-1, 1, (k, q))
    eps[:16] = np.sign(rng.uniform(-1, 1, (16, q)))
    return z, eps


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("text", EXPRS)
def test_operations_enclose_the_function(order, text):
    b, S, rng = _setup(order, seed=hash(text) % 1000)
    X, Y = unstack(S)
    F = ex.evaluate(ex.compile_tape([ex.parse(text, ["x", "y"], "f")]), {"x": X, "y": Y}, TMAlgebra(b, X.shape))[0]
    z, eps = _points(rng, 2000, S.q)
    xs, ys = _values(b, X, z, eps), _values(b, Y, z, eps)
    # x, y take these values (their remainders are rounding-sized); F must enclose f at them
    exact = ex.evaluate(ex.compile_tape([ex.parse(text, ["x", "y"], "f")]), {"x": xs, "y": ys}, NP)[0]
    err = exact - _values(b, F, z, eps)
    assert np.all(err >= F.lo[:, None] - 1e-300) and np.all(err <= F.hi[:, None] + 1e-300)
    lo, hi = F.range()
    assert np.all(exact >= lo[:, None]) and np.all(exact <= hi[:, None])


def test_higher_order_is_tighter():
    widths = []
    for order in (1, 2, 4):
        b, S, _ = _setup(order, seed=3, noise=False)
        X, Y = unstack(S)
        F = TMAlgebra(b, X.shape).sin(TMAlgebra(b, X.shape).mul(X, Y))
        widths.append(np.max(F.hi - F.lo))
    assert widths[0] > widths[1] > widths[2]


def test_containment_is_exact_and_sound():
    b, S, _ = _setup(3, seed=5)
    assert contains(S, S).all()
    moved = TM(S.c.copy(), S.lo, S.hi, b, S.e)
    moved.c[..., 0] += 1e-9
    assert not contains(S, moved).any()
    wider = TM(S.c, S.lo - 1e-9, S.hi + 1e-9, b, S.e)
    assert contains(wider, S).all() and not contains(S, wider).any()
    # a new symbol may take up a remainder, but only one that sits in one component
    grown = absorb(TM(S.c, S.lo - 1e-6, S.hi + 1e-6, b, S.e))
    assert contains(grown, TM(S.c, S.lo - 1e-6, S.hi + 1e-6, b, S.e)).all()
    shared = TM(grown.c, grown.lo, grown.hi, b, grown.e.copy())
    shared.e[:, :, -2:] = shared.e[:, :, -2:].sum(1, keepdims=True)     # one new symbol in both components
    assert not contains(shared, TM(S.c, S.lo - 1e-6, S.hi + 1e-6, b, S.e)).any()
