"""Soundness of the multivariate relaxations ("planes") that CROWN uses on the
zoo's attention and gating: the McCormick planes of a product of two variable
inputs (:data:`certnn.ops.relax.BILINEAR`: ``mul``, ``matmul``).

``planes/mul-mccormick``, ``planes/matmul-mccormick`` (``proved``, z3 over the
reals): the op's own ``Planes`` code (``back``, what CROWN's backward sweep
asks, and ``forward``, what alpha-CROWN's reverse sweep asks), run on NumPy
object arrays of z3 terms, gives for coefficient rows ``a`` on the output

    back(a) . (x, y) + bias  =  sum a * forward((x, y), a)  <=  sum a * prod(x, y)

for every x in [l_x, u_x] and y in [l_y, u_y] (all real boxes): the first
equality is a polynomial identity, the inequality is one unsat query each.

The softmax / masked_softmax tangent planes (first-order Taylor planes with a
second-order remainder) involve exp, which z3's real arithmetic does not
decide: a named gap, tested against sampled points (tests/ops/test_planes.py).
So are layer_norm's tangent planes, whose remainder rests on derivative bounds
derived by hand (see ``certnn.ops.norm.ln_relax``).
"""

from __future__ import annotations

import itertools

import numpy as np

from .theorems import Theorem, z3_unsat

# (x shape, y shape) per case, without the sample axis; broadcasting included
CASES = {
    "mul": [((3,), (3,)), ((2, 1), (1, 2)), ((2,), ())],
    "matmul": [((1, 2), (2, 2)), ((2, 2), (2, 1)), ((2, 1, 2), (2, 1))],
}
_PROD = {"mul": np.multiply, "matmul": np.matmul}


def _reals(prefix, shape):
    import z3
    out = np.empty((1,) + shape, dtype=object)
    for idx in np.ndindex(*out.shape):
        out[idx] = z3.Real(prefix + "_".join(map(str, idx)))
    return out


def _sum(a):
    import z3
    return z3.Sum(*[v for v in np.ravel(a)]) if np.size(a) else z3.RealVal(0)


def _rows(out_shape):
    """Every sign pattern of one coefficient row, output k scaled by k + 1 (so a code
    that confused rows of different magnitude would be caught)."""
    size = int(np.prod(out_shape))
    mags = np.arange(1, size + 1, dtype=float)
    for signs in itertools.product((1.0, -1.0), repeat=size):
        yield (np.array(signs) * mags).reshape((1, 1) + out_shape)


def prove_mccormick(op_name: str, timeout_s: float = 60.0) -> str:
    import z3
    from ..ops.relax import BILINEAR
    prod = _PROD[op_name]
    queries = 0
    for sx, sy in CASES[op_name]:
        x, y = _reals("x", sx), _reals("y", sy)
        lx, ux, ly, uy = _reals("lx", sx), _reals("ux", sx), _reals("ly", sy), _reals("uy", sy)
        box = [c for lo, v, hi in ((lx, x, ux), (ly, y, uy))
               for a, b, c_ in zip(lo.ravel(), v.ravel(), hi.ravel()) for c in (a <= b, b <= c_)]
        planes = BILINEAR[op_name]([lx, ly], [ux, uy], (True, True))
        z = prod(x, y)
        for a in _rows(z.shape[1:]):
            (cx, cy), bias = planes.back(a)
            lin = _sum(cx[:, 0] * x) + _sum(cy[:, 0] * y) + _sum(bias)
            chosen = _sum(a[:, 0] * planes.forward([x, y], a)[:, 0])
            for what, claim in (("back = forward", lin == chosen), ("sound", lin <= _sum(a[:, 0] * z))):
                z3_unsat(box, claim, f"{op_name} {sx} x {sy}, row {a.ravel().tolist()}: {what} fails", timeout_s)
                queries += 1
    return f"z3 {z3.get_version_string()}: {queries} queries, all unsat"


def _theorem(op_name: str) -> Theorem:
    cases = "; ".join(f"x {sx}, y {sy}" for sx, sy in CASES[op_name])
    return Theorem(
        name=f"planes/{op_name}-mccormick",
        statement=(f"{op_name} of two variable inputs: CROWN's McCormick planes are sound, "
                   f"back(a).(x, y) + bias = sum a * forward((x, y), a) <= sum a * {op_name}(x, y) on the box"),
        evidence="proved",
        covers=(f"op {op_name} (multivariate relaxation)", "certnn.ops.relax"),
        domain=(f"every real box [l_x, u_x] x [l_y, u_y] and point in it, at the shapes {cases} (sample axis 1); "
                "coefficient rows: every sign pattern, output k scaled by k + 1. Real-number planes: the "
                "float evaluation is not covered. Other shapes: by the structure of the code (it works through "
                f"{op_name} itself), not machine-checked"),
        prove=lambda: prove_mccormick(op_name), quick=True)


THEOREMS = [_theorem("mul"), _theorem("matmul")]
GAPS = {
    "planes/softmax-tangent": "softmax and masked_softmax tangent planes with a second-order remainder: exp is "
                              "not decided by z3's real arithmetic; tested against sampled points of random boxes "
                              "(tests/ops/test_planes.py)",
    "planes/layer_norm-tangent": "layer_norm tangent planes with a second-order remainder (bounds on the "
                                 "derivatives of v q^(-1/2) along a segment, derived in the rule's docstring): "
                                 "not machine-checked; tested against sampled points of random boxes, near-constant "
                                 "rows included (tests/ops/test_planes.py), and through a ViT "
                                 "(tests/bounds/test_transformer.py)",
}
