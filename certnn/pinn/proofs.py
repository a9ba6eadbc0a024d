"""The theorems behind the PINN results, re-run by ``certnn prove 'pinn/*'``.

``pinn/jet-tanh-*``: the jet graph (:func:`certnn.pinn.derivatives.jet_graph`)
computes u and every partial derivative of order <= 2 of a tanh MLP exactly.
The proof runs the jet graph through the graph interpreter on NumPy object
arrays of sympy symbols (symbolic weights, biases and input) and proves each
output equal to sympy's derivative of the network's formula
(:func:`certnn.proofs.symbolic.require_zero`).

``pinn/heat-comparison`` and ``pinn/poisson-comparison``: the comparison step of
the error bounds of :mod:`certnn.pinn.error`, for symbolic domains and
diffusion constants: the comparison functions satisfy ``psi_t - k psi_xx = 1``
(``-Lap phi = 1``), lie in ``[0, min(T, (b - a)^2/(8k))]`` (``[0, (b - a)^2/8]``)
on the domain, ``w = e - B - R psi`` satisfies ``L w = L e - R`` for every
function ``e``, the residual of every built-in problem with that theorem is
affine in u with that operator (so ``L e = residual(u_theta)``), and the code's
``error_bound`` is at least ``B + R * factor`` computed in exact rationals.
The weak maximum principle itself (w <= 0 on the parabolic boundary and
``L w <= 0`` imply w <= 0) is not proved: it is the named boundary
``maximum-principle-heat``/``-poisson`` (``certnn audit``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy

from ..proofs import symbolic as S
from ..proofs.theorems import ProofFailed, Theorem
from . import error as E



# ---- jets of tanh MLPs -------------------------------------------------------------------

def _tanh_mlp(widths):
    """The graph of a tanh MLP 2 -> widths -> 1 (weights filled in by the proof)."""
    from ..ir.graph import Graph, Node
    nodes, prev, arrays = [Node("x", "input", shape=(None, 2), dtype="float64")], "x", {}
    dims = [2, *widths, 1]
    for i, (n_in, n_out) in enumerate(zip(dims, dims[1:])):
        w, b, z = f"W{i}", f"b{i}", f"z{i}"
        nodes += [Node(w, "param", shape=(n_out, n_in), dtype="float64"),
                  Node(b, "param", shape=(n_out,), dtype="float64"), Node(z, "linear", (prev, w, b))]
        arrays[w], arrays[b] = np.zeros((n_out, n_in)), np.zeros(n_out)
        prev = z
        if i < len(widths):
            nodes.append(Node(f"h{i}", "tanh", (z,)))
            prev = f"h{i}"
    return Graph(nodes, [prev], arrays).validate()


def prove_jet(widths) -> str:
    from ..ir import evaluate
    from .derivatives import jet_graph
    needs = [(0,), (1,), (0, 0), (0, 1), (1, 1)]
    g = _tanh_mlp(widths)
    jg, jet = jet_graph(g, needs)
    params = {k: S.symbols(f"{k}_", v.shape) for k, v in g.arrays.items()}
    x = S.symbols("x", (1, 2))
    outs = evaluate(jg, jet.feeds(x, np.dtype(object)), {**jg.arrays, **params})[0]
    got = jet.split(outs)
    # the network's formula, written independently of the graph
    h = sympy.Matrix(x[0])
    for i in range(len(widths) + 1):
        h = sympy.Matrix(params[f"W{i}"]) * h + sympy.Matrix(params[f"b{i}"])
        if i < len(widths):
            h = h.applyfunc(sympy.tanh)
    u = h[0]
    # a point where a wrong derivative shows (refuting is cheap; simplify on a non-zero is not)
    point = {s: sympy.Rational(k % 7 - 3, 4) for k, s in enumerate([*x.ravel(), *np.concatenate(
        [v.ravel() for v in params.values()])])}
    for m in [(), *needs]:
        want = sympy.diff(u, *[x[0][i] for i in m]) if m else u
        diff = np.asarray(got[m]).ravel()[0] - want
        value = sympy.N(diff.subs(point), 30)
        if abs(value) > 1e-20:
            raise ProofFailed(f"derivative {m or 'u'}: differs from sympy's by {float(value):.3g} at a rational point")
        S.require_zero(diff, f"derivative {m or 'u'}")
    return f"u and its 5 partials of order <= 2, {sum(p.size for p in params.values())} symbolic parameters"


def _jet_theorem(widths) -> Theorem:
    arch = "-".join(map(str, (2, *widths, 1)))
    return Theorem(
        name=f"pinn/jet-tanh-{arch}",
        statement=(f"for every weight, bias and input, the jet graph of the tanh MLP {arch.replace('-', ' -> ')} "
                   "outputs u, u_0, u_1, u_00, u_01, u_11 equal to sympy's derivatives of the network's formula"),
        evidence="proved",
        covers=("certnn.pinn.derivatives.jet_graph", "tangent rules of linear and tanh", "op derivative",
                "certnn.ir.evaluate"),
        domain=(f"the architecture {arch}, batch 1, all real parameters and inputs; other widths and depths by "
                "the structure of the code (jet_graph treats every layer alike); the residual bounds run the "
                "same graph in Taylor-model arithmetic"),
        prove=lambda: prove_jet(widths), quick=len(widths) == 1)


# ---- comparison functions of the maximum-principle error bounds ---------------------------

def _require(cond: bool, what: str) -> None:
    if not cond:
        raise ProofFailed(what)


def _check_code(problem, factor) -> None:
    """The problem passes the theorem's checks, its residual is affine in u with
    the theorem's operator, and ``error_bound`` rounds up ``B + R * factor``."""
    from .problems import get_problem
    p = get_problem(problem)
    E.check_theorem(p)
    c = p.coord_symbols
    fns = [sympy.Function(f"u{i}")(*c) for i in (1, 2)]

    def residual(f):
        subs = {s: sympy.diff(f, *[c[i] for i in m]) if m else f for s, m in p.derivative_symbols().items()}
        return p.equation.subs(subs)
    e = fns[0] - fns[1]
    S.require_zero(sympy.expand(residual(fns[0]) - residual(fns[1]) - _operator(problem, p)(e)),
                   f"{problem}: residual(u1) - residual(u2) = L(u1 - u2)")
    for R, B in ((0.0123, 4.5e-4), (1.0, 0.0), (3e-7, 2.5e-8), (0.5, 1e-300)):
        got, _ = E.error_bound(p, R, B)
        want = Fraction(B) + Fraction(R) * factor(p)
        _require(Fraction(got) >= want, f"{problem}: error_bound({R}, {B}) = {got!r} < B + R * factor = {float(want)!r}")


def _operator(kind, p):
    if kind == "heat":
        t, xx = p.coord_symbols
        k = -E._u_terms(p)[(1, 1)]
        return lambda f: sympy.diff(f, t) - k * sympy.diff(f, xx, 2)
    a, b = p.coord_symbols
    return lambda f: -(sympy.diff(f, a, 2) + sympy.diff(f, b, 2))


def prove_heat() -> str:
    t, t0, xx, a, s = sympy.symbols("t t0 x a s", real=True)
    k, T, L = sympy.symbols("k T L", positive=True)
    b = a + L
    op = lambda f: sympy.diff(f, t) - k * sympy.diff(f, xx, 2)   # noqa: E731
    psis = {"t - t0": t - t0, "(x - a)(b - x)/(2k)": (xx - a) * (b - xx) / (2 * k)}
    for name, psi in psis.items():
        S.require_zero(op(psi) - 1, f"psi = {name}: psi_t - k psi_xx = 1")
    # on the domain x = a + s L, s in [0, 1]: psi = s (1 - s) L^2 / (2k) = L^2/(8k) - L^2 (2s - 1)^2 / (8k)
    psi2 = psis["(x - a)(b - x)/(2k)"].subs(xx, a + s * L)
    S.require_zero(psi2 - s * (1 - s) * L ** 2 / (2 * k), "psi = s (1 - s) L^2 / (2k) >= 0 for s in [0, 1]")
    S.require_zero(L ** 2 / (8 * k) - psi2 - L ** 2 * (2 * s - 1) ** 2 / (8 * k), "psi <= L^2 / (8k)")
    e = sympy.Function("e")(t, xx)
    R, B = sympy.symbols("R B", real=True)
    for name, psi in psis.items():
        S.require_zero(op(e - B - R * psi) - (op(e) - R), f"psi = {name}: L(e - B - R psi) = L e - R")
    _check_code("heat", lambda p: min(Fraction(p.hi[0] - p.lo[0]),
                                      Fraction(p.hi[1] - p.lo[1]) ** 2 / 8 / Fraction(-E._u_terms(p)[(1, 1)])))
    return "psi_t - k psi_xx = 1, 0 <= psi <= min(T, (b - a)^2/(8k)), L(e - B - R psi) = L e - R; built-in heat"


def prove_poisson() -> str:
    xx, yy, a, s = sympy.symbols("x y a s", real=True)
    L = sympy.symbols("L", positive=True)
    lap = lambda f: -(sympy.diff(f, xx, 2) + sympy.diff(f, yy, 2))   # noqa: E731
    phi = (xx - a) * (a + L - xx) / 2
    S.require_zero(lap(phi) - 1, "-Lap phi = 1")
    on = phi.subs(xx, a + s * L)
    S.require_zero(on - s * (1 - s) * L ** 2 / 2, "phi = s (1 - s) L^2 / 2 >= 0 for s in [0, 1]")
    S.require_zero(L ** 2 / 8 - on - L ** 2 * (2 * s - 1) ** 2 / 8, "phi <= L^2 / 8")
    e = sympy.Function("e")(xx, yy)
    R, B = sympy.symbols("R B", real=True)
    S.require_zero(lap(e - B - R * phi) - (lap(e) - R), "-Lap(e - B - R phi) = -Lap e - R")
    _check_code("poisson", lambda p: Fraction(p.hi[0] - p.lo[0]) ** 2 / 8)
    return "-Lap phi = 1, 0 <= phi <= (b - a)^2/8, -Lap(e - B - R phi) = -Lap e - R; built-in poisson"


_CODE = ("certnn.pinn.error.error_bound", "certnn.pinn.error.check_theorem")
THEOREMS = [
    _jet_theorem((3,)),
    _jet_theorem((2, 2)),
    Theorem(E.HEAT_COMPARISON,
            "if the weak maximum principle holds (boundary maximum-principle-heat), then for u_t = k u_xx + f on "
            "[t0, t0 + T] x [a, b], k > 0, with |residual(u_theta)| <= R and |u_theta - u*| <= B where u is "
            "prescribed: |u_theta - u*| <= B + R min(T, (b - a)^2/(8k)); proved: the comparison functions "
            "t - t0 and (x - a)(b - x)/(2k), their range, the comparison identity, and that error_bound rounds "
            "this up", "proved", _CODE,
            "all real t0, a, positive k, T, b - a (sympy); the code on the built-in heat problem at four (R, B); "
            "the maximum principle itself is assumed (Evans, PDE, 2.3.3)", prove_heat, quick=True),
    Theorem(E.POISSON_COMPARISON,
            "if the weak maximum principle holds (boundary maximum-principle-poisson), then for -Lap u = f on "
            "[a, b] x [c, d] with |residual(u_theta)| <= R and |u_theta - u*| <= B on the boundary: "
            "|u_theta - u*| <= B + R (b - a)^2/8; proved: the comparison function (x - a)(b - x)/2, its range, "
            "the comparison identity, and that error_bound rounds this up", "proved", _CODE,
            "all real a, positive b - a (sympy); the code on the built-in Poisson problem at four (R, B); the "
            "maximum principle itself is assumed (Evans, PDE, 2.2.3)", prove_poisson, quick=True),
]
