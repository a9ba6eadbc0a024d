"""Local derivative laws of the op table, proved with sympy by running each op's
own rules on symbols. The theorems are generated from the registry, so an op
added to the table is covered (or listed as a gap) without touching this file.

``vjp-derivative/<op>`` (every elementwise op): the partial derivatives that the
op's vjp and jvp multiply by (its ``grads`` code, evaluated on sympy symbols)
equal sympy's derivative of its forward formula (``sympy_form``), on each side of
every kink.

``adjoint/<op>`` (every other op with jvp and vjp rules, and the elementwise ops
that are linear or bilinear: add, sub, neg, mul, div): at every case listed in
the theorem's domain, with a symbolic point x, tangent u and cotangent v (NumPy
object arrays of sympy symbols, run through the op's own ``real``, ``jvp`` and
``vjp`` code):

    jvp(u) = d/dt real(x + t u) at t = 0      (jvp is the derivative)
    <v, jvp(u)> = <vjp(v), u>                 (vjp is its adjoint)

so the vjp is the transposed Jacobian, which is what backprop and CROWN's
back-substitution use. Integer inputs (class indices) are fixed to the case's
values; cotangents are summed back over broadcast dims, as the walkers do.
Where a rule shifts by a maximum (stable softmax), the shift is a free symbol:
the proof checks that ``real`` does not depend on it and proves the laws for
every value of it (see :mod:`certnn.proofs.symbolic`).
"""

from __future__ import annotations

import numpy as np
import sympy

from ..ops import all_ops
from ..ops._common import unbroadcast
from ..ops.registry import Sample
from . import symbolic as S
from .theorems import ProofFailed, Theorem

# ---- elementwise: vjp = sympy derivative -----------------------------------------------


def _regions(syms):
    """The sides of the kinks: x > 0 and x < 0 (unary); a > b and a < b (binary)."""
    p = sympy.Symbol("p", positive=True)
    if len(syms) == 1:
        (x,) = syms
        return [{x: p}, {x: -p}]
    a, b = syms
    return [{a: b + p}, {a: b - p}]


def _exact_attrs(op):
    # a float attribute (leaky_relu's slope) becomes an exact rational: one value
    return {k: (sympy.Rational(1, 10) if isinstance(v, float) else v) for k, v in op.normalize({}).items()}


def prove_elementwise_derivative(op) -> str:
    from ..ops.xp import SYM
    n = op.arity[0]
    syms = sympy.symbols(f"x0:{n}", real=True)
    attrs = _exact_attrs(op)
    # the code writes constants as floats (0.5, 2.0): nsimplify turns them back
    # into exact numbers (1/2, sqrt(2)) so the comparison is exact
    f = sympy.nsimplify(op.sympy_form(*syms, **attrs))
    parts = [sympy.nsimplify(g) for g in op.grads(*syms, f, xp=SYM, **attrs)]
    regions = _regions(syms)
    for region in regions:
        for s, g in zip(syms, parts):
            d_auto = sympy.diff(f, s).subs(region)
            d_rule = sympy.sympify(g).subs(region)
            diff = sympy.simplify(d_auto - d_rule)
            if not (diff == 0 or diff.equals(0)):
                raise ProofFailed(f"d/d{s} on {region}: sympy gives {d_auto}, the rule {d_rule}")
    return f"{n * len(regions)} partial derivatives equal on {len(regions)} regions"


def _elementwise_theorem(op) -> Theorem:
    kinks = ("x > 0 and x < 0" if op.arity[0] == 1 else "a > b and a < b")
    slope = " (attributes at one exact value, e.g. negative_slope = 1/10)" if op.attrs else ""
    return Theorem(
        name=f"vjp-derivative/{op.name}",
        statement=(f"{op.name}: the partial derivatives its vjp and jvp rules multiply by equal sympy's "
                   f"derivative of its forward formula"),
        evidence="proved",
        covers=(f"op {op.name} (grads, vjp, jvp, sympy_form)",),
        domain=(f"every real input on each side of the kinks ({kinks}){slope}; elementwise, so "
                f"shape-free. Not covered: the value AT a kink (the registry's minimal-norm convention, "
                f"not a derivative); that sympy_form equals the real rule is tested numerically "
                f"(tests/conformance/test_symbolic.py)"),
        prove=lambda: prove_elementwise_derivative(op), quick=True)


# ---- adjoint identity and derivative law ---------------------------------------------------

def _z(*shape):
    return np.zeros(shape)


def _ints(*v):
    return np.array(v, dtype=np.int64)


# Small cases for ops whose conformance samples are too large to expand symbolically
# (every other op is proved at its own conformance samples, see ``cases``). Float
# arrays only give their shape; integer arrays (class indices) are used as they are.
SMALL = {
    "linear": [Sample((_z(3, 4), _z(2, 4), _z(2))), Sample((_z(2, 3), _z(2, 3))),
               Sample((_z(2, 2, 3), _z(2, 3), _z(2))), Sample((_z(3), _z(2, 3), _z(2)))],
    "matmul": [Sample((_z(2, 3), _z(3, 2))), Sample((_z(2, 2, 3), _z(3, 2))),
               Sample((_z(2, 3), _z(2, 3, 2))), Sample((_z(2, 1, 2, 3), _z(2, 3, 2)))],
    "conv2d": [Sample((_z(1, 2, 4, 4), _z(2, 2, 2, 2), _z(2))),
               Sample((_z(1, 2, 5, 5), _z(3, 2, 2, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)}),
               Sample((_z(1, 4, 3, 3), _z(4, 2, 2, 2), _z(4)), {"groups": 2, "padding": (1, 1)}),
               Sample((_z(2, 1, 3, 4), _z(2, 1, 2, 2)), {"stride": (2, 2)}),
               Sample((_z(1, 3, 4, 3), _z(3, 1, 2, 2), _z(3)), {"groups": 3, "dilation": (2, 1)})],
    "avg_pool2d": [Sample((_z(1, 2, 4, 4),), {"kernel_size": (2, 2)}),
                   Sample((_z(1, 1, 5, 5),), {"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1)}),
                   Sample((_z(1, 1, 5, 4),), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1),
                                              "count_include_pad": False}),
                   Sample((_z(2, 1, 3, 4),), {"kernel_size": (2, 3), "stride": (1, 1)})],
    "batch_norm": [Sample((_z(2, 3), _z(3), _z(3), _z(3), _z(3))),
                   Sample((_z(1, 2, 2, 2), _z(2), _z(2), _z(2), _z(2)), {"eps": 1e-3})],
    "batch_norm_train": [Sample((_z(3, 2), _z(2), _z(2))), Sample((_z(2, 1, 2), _z(1), _z(1)), {"eps": 1e-3})],
    "layer_norm": [Sample((_z(2, 3), _z(3), _z(3))), Sample((_z(1, 2, 2), _z(2, 2), _z(2, 2)))],
    "softmax": [Sample((_z(2, 3),)), Sample((_z(3, 2),), {"axis": 0}), Sample((_z(4),))],
    "log_softmax": [Sample((_z(2, 3),)), Sample((_z(3, 2),), {"axis": 0}), Sample((_z(4),))],
    "cross_entropy": [Sample((_z(2, 3), _ints(0, 2))),
                      Sample((_z(2, 3), _ints(1, 1)), {"reduction": "sum"}),
                      Sample((_z(2, 3), _ints(2, 0)), {"reduction": "none"}),
                      Sample((_z(3, 2), _ints(1, -100, 0))),
                      Sample((_z(2, 2), _ints(-100, -100)))],
    # the zoo's ops (DFT sizes whose cos/sin coefficients sympy recognises from their floats)
    "complex_mul": [Sample((_z(2, 2), _z(2, 2))), Sample((_z(2, 1, 2), _z(3, 2))), Sample((_z(2), _z(2, 2)))],
    "complex_matmul": [Sample((_z(1, 2, 2), _z(2, 1, 2))), Sample((_z(2, 1, 1, 2), _z(1, 2, 2))),
                       Sample((_z(1, 1, 2), _z(1, 1, 2)))],
    "rfft": [Sample((_z(2, 4),)), Sample((_z(1, 8),), {"modes": 3}), Sample((_z(1, 4, 2),), {"axis": 1}),
             Sample((_z(1, 6),)), Sample((_z(1),))],
    "irfft": [Sample((_z(2, 3, 2),), {"n": 4}), Sample((_z(1, 5, 2),), {"n": 8}), Sample((_z(1, 3, 2),), {"n": 5}),
              Sample((_z(1, 4, 2, 2),), {"n": 6, "axis": 1}), Sample((_z(1, 2, 2),), {"n": 8}),
              Sample((_z(1, 2),), {"n": 1})],
    "masked_softmax": [Sample((_z(3, 3), np.tril(np.ones((3, 3), bool)))),          # causal
                       Sample((_z(2, 3), np.array([True, False, True]))),            # padding
                       Sample((_z(2, 3), np.array([[True, False, True], [False, False, False]]))),  # a masked row
                       Sample((_z(3, 2), np.array([[True], [False], [True]])), {"axis": 0})],
    "rms_norm": [Sample((_z(2, 3), _z(3))), Sample((_z(1, 2, 2), _z(2, 2))), Sample((_z(2, 2), _z(2)), {"eps": 1e-3})],
    "selective_scan": [Sample((_z(1, 2, 1), _z(1, 2, 1), _z(1, 1), _z(1, 2, 1), _z(1, 2, 1))),
                       Sample((_z(2, 2, 2), _z(2, 2, 2), _z(2, 1), _z(2, 2, 1), _z(2, 2, 1))),
                       Sample((_z(1, 3, 1), _z(1, 3, 1), _z(1, 2), _z(1, 3, 2), _z(1, 3, 2)))],
}
_BILINEAR_ELEMENTWISE = ("mul", "div")
# proofs that take more than about a second (the test suite runs only a sample of them)
_SLOW = {"conv2d", "layer_norm", "batch_norm_train", "cross_entropy", "softmax", "log_softmax", "mse", "mean", "sum", "sub", "batch_norm",
         "irfft", "masked_softmax", "rms_norm", "selective_scan"}   # linear in each argument: their Jacobians are worth proving too

# Ops whose rules cannot run on symbols: the reason, listed by `certnn prove`. Any
# other op whose rules fail on symbols fails its adjoint proof (`certnn prove`
# names the call that failed): route that call through certnn.ops.xp, or list the
# op here with the reason.
_CANNOT = {
    "max": "piecewise: its rules compare elements (x == max), and sympy symbols have no order; "
           "the adjoint identity is tested numerically (tests/conformance/test_autograd_laws.py)",
    "max_pool2d": "piecewise: its rules compare window elements, and sympy symbols have no order; "
                  "the adjoint identity is tested numerically (tests/conformance/test_autograd_laws.py)",
}


def cases(op) -> list[Sample]:
    return SMALL.get(op.name) or op.samples(np.random.default_rng(0))


def _diff_inputs(op, xs):
    return [np.asarray(a).dtype.kind == "f" and op.is_differentiable(i) for i, a in enumerate(xs)]


def _cotangent(c, y_shape, x_shape):
    """A vjp result as the walkers use it: broadcast to the output, summed back to the input."""
    c = S.objects(c)
    if c.ndim == 0:
        c = np.broadcast_to(c, y_shape)
    return unbroadcast(c, x_shape)


def _laws_at(op, sample: Sample) -> None:
    attrs = op.normalize(sample.attrs)
    diff = _diff_inputs(op, sample.inputs)
    if not any(diff):
        raise ProofFailed(f"case {_describe(sample)}: no differentiable float input")
    xs = [S.symbols(f"x{i}_", np.shape(a)) if d else a for i, (a, d) in enumerate(zip(sample.inputs, diff))]
    us = [S.symbols(f"u{i}_", np.shape(a)) if d else np.zeros(np.shape(a), dtype=object)
          for i, (a, d) in enumerate(zip(sample.inputs, diff))]
    y = S.objects(op.real(*xs, **attrs))
    ju = S.objects(op.jvp(us, y, *xs, **attrs))
    v = S.symbols("v", y.shape)
    cts = op.vjp(v, y, *xs, **attrs)
    where = f"case {_describe(sample)}"
    # vjp is the adjoint of jvp
    lhs = S.inner(v, ju)
    rhs = sympy.Add(*[S.inner(_cotangent(c, y.shape, np.shape(xs[i])), us[i])
                      for i, c in enumerate(cts) if diff[i]])
    S.require_zero(lhs - rhs, f"{where}: <v, jvp(u)> - <vjp(v), u>")
    # jvp is the derivative of real along u: sum over the inputs of u_k d real / d x_k
    tangent_of = {x: u for xi, ui, d in zip(xs, us, diff) if d for x, u in zip(xi.ravel(), ui.ravel())}
    for idx in np.ndindex(*y.shape):
        e = S.shift_free(y[idx], f"{where}: real{idx}")
        d = sympy.Add(*[tangent_of[x] * sympy.diff(e, x) for x in e.free_symbols if x in tangent_of])
        S.require_zero(d - ju[idx], f"{where}: jvp{idx} - d/dt real(x + t u){idx} at t = 0")


def _describe(sample: Sample) -> str:
    shapes = ", ".join(str(tuple(np.shape(a))) if np.asarray(a).dtype.kind == "f"
                       else f"labels {np.asarray(a).tolist()}" for a in sample.inputs)
    attrs = "; " + ", ".join(f"{k}={v}" for k, v in sample.attrs.items()) if sample.attrs else ""
    return f"[{shapes}{attrs}]"


def prove_adjoint(op) -> str:
    cs = cases(op)
    for sample in cs:
        _laws_at(op, sample)
    return f"{len(cs)} cases"


def _adjoint_theorem(op) -> Theorem:
    cs = cases(op)
    kind = "linear" if op.linear else "its Jacobian (linear in the tangent)"
    return Theorem(
        name=f"adjoint/{op.name}",
        statement=(f"{op.name} ({kind}): jvp(u) = d/dt real(x + t u) at t = 0 and <v, jvp(u)> = <vjp(v), u>, "
                   f"for symbolic x, u, v (the op's own real/jvp/vjp code run on sympy symbols)"),
        evidence="proved",
        covers=(f"op {op.name} (real, jvp, vjp)",),
        domain=("every real point, tangent and cotangent" + (" (where defined)" if not op.linear else "")
                + " at exactly these input shapes and attributes: " + "; ".join(_describe(s) for s in cs)
                + ". Other shapes: shape-generic only by the structure of the code, not machine-checked"),
        prove=lambda: prove_adjoint(op),
        quick=op.name not in _SLOW)


def _adjoint_ops():
    ops, gaps = [], {}
    for op in all_ops():
        if op.elementwise and op.sympy_form is None:
            gaps[f"vjp-derivative/{op.name}"] = f"op {op.name} has no sympy_form to differentiate"
        if op.elementwise and not (op.linear or op.name in _BILINEAR_ELEMENTWISE):
            continue          # covered by vjp-derivative/<op>
        if op.jvp is None or op.vjp is None:
            missing = " and ".join(r for r in ("jvp", "vjp") if getattr(op, r) is None)
            gaps[f"adjoint/{op.name}"] = f"op {op.name} has no {missing} rule"
        elif op.name in _CANNOT:
            gaps[f"adjoint/{op.name}"] = _CANNOT[op.name]
        else:
            ops.append(op)
    return ops, gaps


_ADJOINT_OPS, GAPS = _adjoint_ops()
THEOREMS = ([_elementwise_theorem(op) for op in all_ops() if op.elementwise and op.sympy_form is not None]
            + [_adjoint_theorem(op) for op in _ADJOINT_OPS])
