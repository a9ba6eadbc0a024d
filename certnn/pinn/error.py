"""From residual bounds to error bounds: the maximum principle.

Let u_theta be the network (smooth: a tanh MLP is C-infinity), u* the true
solution, e = u_theta - u*, R >= sup |residual of u_theta| over the closed
domain and B >= sup |e| over the part of the boundary where the problem
prescribes u (certified box bounds of |u_theta - g| there, since u* = g).

Heat (u_t = k u_xx + f on [t0, t0 + T] x [a, b], k > 0, u given at t = t0 and
x = a, b): e_t - k e_xx = r with |r| <= R. For psi = t - t0 and for
psi = (x - a)(b - x)/(2k) alike, psi_t - k psi_xx = 1 and psi >= 0, so
w = e - B - R psi has w_t - k w_xx = r - R <= 0 and w <= 0 on the parabolic
boundary; by the weak maximum principle w <= 0 everywhere, and the same for -e.
Hence

    |u_theta - u*| <= B + R min(T, (b - a)^2 / (8k)).

Poisson (-(u_xx + u_yy) = f on [a, b] x [c, d], u given on the whole
boundary): -Lap e = r. With phi = (x - a)(b - x)/2 (-Lap phi = 1, phi >= 0,
max phi = (b - a)^2 / 8), w = e - B - R phi has -Lap w = r - R <= 0 and
w <= 0 on the boundary, so w <= 0 (weak maximum principle for subharmonic
functions); the same for -e. Hence

    |u_theta - u*| <= B + R (b - a)^2 / 8    (R/8 on the unit square).

Conditions checked here on the problem description: the equation has exactly
that form (coefficients read off the sympy expression, k a positive constant,
f free of u), and the conditions prescribe u on every face the theorem needs.
The maximum principles themselves are textbook results (Evans, Partial
Differential Equations, 2nd ed., sections 2.2.3 and 2.3.3; Protter &
Weinberger, Maximum Principles in Differential Equations, ch. 2-3) registered
as named boundaries, not proved in certnn; the comparison step from them to
the bounds above is the theorem pinn/heat-comparison (pinn/poisson-comparison)
of :mod:`certnn.pinn.proofs`.
"""

from __future__ import annotations

import sympy

from ..errors import CertnnError
from ..floats import interval as iv
from .problems import Problem

HEAT, POISSON = "maximum-principle-heat", "maximum-principle-poisson"
# the comparison step, proved in certnn.pinn.proofs (certnn prove 'pinn/*')
HEAT_COMPARISON, POISSON_COMPARISON = "pinn/heat-comparison", "pinn/poisson-comparison"
ASSUMPTIONS = {
    HEAT: "weak maximum principle for the heat equation: if w is C^{1,2} on (t0, t0+T] x (a, b), continuous "
          "on the closure, and w_t - k w_xx <= 0 with k > 0, then max w is attained on the parabolic boundary "
          "(t = t0 or x = a, b); applied to e - B - R psi with psi = t - t0 or psi = (x - a)(b - x)/(2k) it "
          "gives |u_theta - u*| <= B + R min(T, (b - a)^2/(8k)) (Evans, PDE, 2nd ed., section 2.3.3)",
    POISSON: "weak maximum principle for the Laplacian: if w is C^2 on an open rectangle, continuous on the "
             "closure and -Lap w <= 0, then max w is attained on the boundary; applied to e - B - R phi with "
             "phi = (x - a)(b - x)/2 it gives |u_theta - u*| <= B + R (b - a)^2 / 8 "
             "(Evans, PDE, 2nd ed., section 2.2.3)",
}


def _u_terms(problem: Problem) -> dict:
    """Coefficients of u and its derivatives in the (expanded) equation; raises
    unless the equation is linear in them with constant coefficients."""
    syms = problem.derivative_symbols()
    eq = sympy.expand(problem.equation)
    coeffs = {}
    for s in syms:
        c = eq.coeff(s)
        if c.free_symbols & set(syms) or not c.is_number:
            raise CertnnError(f"problem {problem.name}: the equation is not linear with constant coefficients in {s}")
        coeffs[syms[s]] = c
    rest = sympy.expand(eq - sum(c * s for s, c in zip(syms, coeffs.values())))
    if rest.free_symbols & set(syms):
        raise CertnnError(f"problem {problem.name}: the equation is not linear in u and its derivatives")
    return coeffs


def _faces(problem: Problem) -> set:
    return {(c.coord, float(c.at)) for c in problem.conditions}


def check_theorem(problem: Problem) -> str:
    """The assumption name of the problem's comparison theorem, after checking
    that the problem satisfies its conditions."""
    kind = problem.error_theorem
    if kind is None:
        raise CertnnError(f"problem {problem.name} has no error theorem (only a residual bound is certified)")
    coeffs = _u_terms(problem)
    names = problem.coords
    lo, hi = dict(zip(names, problem.lo)), dict(zip(names, problem.hi))
    if kind == "heat":
        t, x = names
        it, ix = 0, 1
        k = -coeffs.get((ix, ix), 0)
        if set(coeffs) != {(it,), (ix, ix)} or coeffs[(it,)] != 1 or not k > 0:
            raise CertnnError(f"problem {problem.name}: the heat theorem needs u_{t} - k u_{x}{x} - f(t, x) = 0 with k > 0")
        need = {(t, lo[t]), (x, lo[x]), (x, hi[x])}
        theorem = HEAT
    elif kind == "poisson":
        if set(coeffs) != {(0, 0), (1, 1)} or coeffs[(0, 0)] != -1 or coeffs[(1, 1)] != -1:
            raise CertnnError(f"problem {problem.name}: the Poisson theorem needs -(u_xx + u_yy) - f = 0")
        need = {(c, v) for c in names for v in (lo[c], hi[c])}
        theorem = POISSON
    else:
        raise CertnnError(f"problem {problem.name}: unknown error theorem {kind!r}")
    missing = need - _faces(problem)
    if missing:
        raise CertnnError(f"problem {problem.name}: the {kind} theorem needs u prescribed on "
                          f"{', '.join(f'{c} = {v}' for c, v in sorted(missing))}")
    return theorem


def error_bound(problem: Problem, residual_bound: float, boundary_bound: float) -> tuple[float, str]:
    """(bound on sup |u_theta - u*|, theorem name), rounded up."""
    theorem = check_theorem(problem)
    width = (problem.hi[1] - problem.lo[1]) if theorem == HEAT else (problem.hi[0] - problem.lo[0])
    factor = width ** 2 / 8.0                           # max of (x - a)(b - x)/2
    if theorem == HEAT:
        k = float(-_u_terms(problem)[(1, 1)])
        factor = min(problem.hi[0] - problem.lo[0], factor / k * (1 + 1e-15))   # T, or the stationary comparison
    f = float(iv.up(iv.up(factor)))
    prod = iv.mul(residual_bound, residual_bound, f, f)[1]
    return float(iv.add(boundary_bound, boundary_bound, prod, prod)[1]), theorem
