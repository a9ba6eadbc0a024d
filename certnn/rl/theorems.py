"""The facts behind certnn's certified MDP answers, with their proofs.

``THEOREMS`` registers each fact in certnn's theorem registry
(:mod:`certnn.proofs.theorems`; ``certnn prove 'mdp/*' 'rl/*'`` re-runs them)
with its statement, its evidence and a function that re-runs its proof (z3 or
sympy). Facts certnn does not prove for every size are registered in
``ASSUMPTIONS`` with their textbook reference; each theorem's ``domain`` names
the assumptions its statement rests on beyond its proof (``PREMISES``).

Notation: ||.|| is the sup norm; an MDP has P >= 0 with every row sum <= rho
(rho = 1 for a stochastic P), rewards R, discount 0 <= gamma < 1, and
beta = gamma * rho < 1.

1. ``mdp/bellman-contraction``: ||T u - T v|| <= beta ||u - v|| (and the same for
   every T_pi). Per state, T is a max over actions of r_a + gamma E_a u, so it
   follows from two lemmas: an expectation under p >= 0 with sum p <= rho
   moves by at most rho m when every entry moves by at most m
   (``expectation-nonexpansive``, z3 nlsat, S <= 6 next states) and a max of A
   numbers moves by at most the largest move (``max-nonexpansive``, z3 linear
   arithmetic, A <= 6). Larger S or A rest on ``puterman-1994-contraction``.
2. ``mdp/value-iteration-stopping-rule``: for a beta-contraction T with fixed point
   v* and any u, with delta = ||T u - u||: ||T u - v*|| <= beta delta / (1 - beta);
   the policy pi greedy for w = T u satisfies ||v_pi - v*|| <= 2 beta delta / (1 - beta),
   so delta < eps (1 - beta) / (2 beta) makes pi eps-optimal (Puterman 1994,
   Thm. 6.3.1). The proof is a z3 proof of the scalar argument, valid in any
   dimension: e = ||Tu - v*||, d = ||u - v*||, f = ||v_pi - w|| satisfy
   e <= beta d (contraction at the fixed point), d <= delta + e (triangle),
   f <= beta f + beta delta (T_pi w = T w, contraction twice), and the claims
   follow for 0 <= beta < 1. Existence and uniqueness of v* = T v* (the optimal
   value) and v_pi = T_pi v_pi is ``puterman-1994-optimality-equation``.
3. ``rl/gae-lambda-one``: with lambda = 1 the GAE advantage equals the discounted
   return minus the value, A_t = G_t - V(s_t), G_t = sum_k gamma^k r_{t+k} +
   gamma^(T-t) V(s_T) (bootstrapped) for every trajectory of length T <= 6
   (sympy, exact symbolic identity).
"""

from __future__ import annotations

import time
from typing import Callable

from ..floats.proofs import ProofResult
from ..proofs.theorems import ProofFailed, Theorem

PROVED_SIZE = 6          # contraction proved for at most this many next states and actions
CONTRACTION = "puterman-1994-contraction"
OPTIMALITY = "puterman-1994-optimality-equation"
FLINT = "flint-fmpq-exact"
ASSUMPTIONS = {
    CONTRACTION:
        "for every finite MDP with P >= 0 and row sums <= rho, the Bellman operators T and T_pi are "
        "gamma*rho-contractions in the sup norm (Puterman 1994, Markov Decision Processes, Prop. 6.2.4; "
        "certnn proves it with z3 for at most 6 states and 6 actions, theorem mdp/bellman-contraction)",
    OPTIMALITY:
        "for a finite MDP with gamma*rho < 1, v = T v has a unique solution v*, the optimal value, and "
        "v = T_pi v a unique solution v_pi, the value of policy pi (Banach's fixed-point theorem; "
        "Puterman 1994, Thm. 6.2.2 and 6.2.5, §6.2-6.3)",
    FLINT:
        "python-flint's fmpq and fmpq_mat arithmetic (+, -, *, solve, comparisons) is exact rational "
        "arithmetic",
}


def _detail(fn: Callable[[], ProofResult]) -> Callable[[], str]:
    def prove() -> str:
        res = fn()
        if not res:
            raise ProofFailed(f"{res.claim}: {res.evidence} ({res.detail})")
        return f"{res.claim}: proved in {res.seconds:.2f} s"
    return prove


def _z3_unsat(claim: str, hyps, goal, nonlinear: bool, timeout_ms: int = 60_000) -> ProofResult:
    import z3
    t0 = time.perf_counter()
    s = z3.Tactic("qfnra-nlsat").solver() if nonlinear else z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*hyps)
    s.add(z3.Not(goal))
    r = s.check()
    if r == z3.unsat:
        return ProofResult(claim, "proved", time.perf_counter() - t0)
    detail = str(s.model()) if r == z3.sat else s.reason_unknown()
    return ProofResult(claim, "refuted" if r == z3.sat else "unknown", time.perf_counter() - t0, detail)


def _all(claim: str, parts) -> ProofResult:
    t0, seconds = time.perf_counter(), 0.0
    for p in parts:
        seconds += p.seconds
        if not p:
            return ProofResult(claim, p.evidence, time.perf_counter() - t0, f"{p.claim}: {p.detail}")
    return ProofResult(claim, "proved", seconds)


def expectation_nonexpansive(n: int) -> ProofResult:
    """p in R^n, p >= 0, sum p <= rho, |d_t| <= m  =>  |sum_t p_t d_t| <= rho m."""
    import z3
    rho, m = z3.Reals("rho m")
    p, d = z3.RealVector("p", n), z3.RealVector("d", n)
    e = z3.Sum([a * b for a, b in zip(p, d)])
    hyps = [x >= 0 for x in p] + [z3.Sum(p) <= rho] + [z3.And(x <= m, -x <= m) for x in d]
    return _z3_unsat(f"expectation-nonexpansive (n={n})", hyps, z3.And(e <= rho * m, -e <= rho * m), True)


def max_nonexpansive(n: int) -> ProofResult:
    """|max_a x_a - max_a y_a| <= max_a |x_a - y_a| (the maxima given by their defining property)."""
    import z3
    x, y = z3.RealVector("x", n), z3.RealVector("y", n)
    mx, my, m = z3.Reals("mx my m")
    hyps = ([mx >= v for v in x] + [z3.Or([mx == v for v in x])] + [my >= v for v in y]
            + [z3.Or([my == v for v in y])] + [z3.And(a - b <= m, b - a <= m) for a, b in zip(x, y)])
    return _z3_unsat(f"max-nonexpansive (n={n})", hyps, z3.And(mx - my <= m, my - mx <= m), False)


def bellman_step(n_actions: int) -> ProofResult:
    """Per state: if each action's expectation moves by at most rho m, then
    max_a (r_a + gamma E_a u) moves by at most gamma rho m (gamma >= 0)."""
    import z3
    g, rho, m, mu, mv = z3.Reals("gamma rho m mu mv")
    r, eu, ev = (z3.RealVector(k, n_actions) for k in ("r", "eu", "ev"))
    qu = [a + g * b for a, b in zip(r, eu)]
    qv = [a + g * b for a, b in zip(r, ev)]
    hyps = ([g >= 0, rho >= 0, m >= 0] + [z3.And(a - b <= rho * m, b - a <= rho * m) for a, b in zip(eu, ev)]
            + [mu >= q for q in qu] + [z3.Or([mu == q for q in qu])]
            + [mv >= q for q in qv] + [z3.Or([mv == q for q in qv])])
    bound = g * rho * m
    return _z3_unsat(f"bellman-step (A={n_actions})", hyps, z3.And(mu - mv <= bound, mv - mu <= bound), True)


def prove_contraction(size: int = PROVED_SIZE) -> ProofResult:
    parts = ([expectation_nonexpansive(n) for n in range(1, size + 1)]
             + [max_nonexpansive(n) for n in range(1, size + 1)]
             + [bellman_step(n) for n in range(1, size + 1)])
    return _all(f"bellman-contraction (S, A <= {size})", parts)


def prove_stopping_rule() -> ProofResult:
    """The scalar argument of Puterman's Thm. 6.3.1 (any dimension; see the module docstring)."""
    import z3
    beta, delta, d, e, f, w_res, eps = z3.Reals("beta delta d e f w_res eps")
    base = [beta >= 0, beta < 1, delta >= 0, d >= 0, e >= 0, f >= 0, w_res >= 0]
    premises = base + [e <= beta * d, d <= delta + e, w_res <= beta * delta, f <= beta * f + w_res]
    value = e * (1 - beta) <= beta * delta              # ||Tu - v*|| <= beta delta / (1 - beta)
    policy = (f + e) * (1 - beta) <= 2 * beta * delta   # ||v_pi - v*|| <= f + e <= 2 beta delta / (1 - beta)
    rule = z3.Implies(2 * beta * delta < eps * (1 - beta), f + e < eps)
    return _all("value-iteration-stopping-rule", [
        _z3_unsat("value bound", premises, value, True),
        _z3_unsat("policy bound", premises, policy, True),
        _z3_unsat("eps rule", premises + [eps > 0], rule, True)])


def prove_gae_lambda_one(max_len: int = 6) -> ProofResult:
    """GAE with lambda = 1 telescopes to the discounted return minus the value (sympy)."""
    import sympy as sp
    t0 = time.perf_counter()
    g = sp.Symbol("gamma")
    for n in range(1, max_len + 1):
        r, v = sp.symbols(f"r0:{n}"), sp.symbols(f"v0:{n + 1}")
        adv, gae = [None] * n, 0
        for t in reversed(range(n)):
            gae = r[t] + g * v[t + 1] - v[t] + g * gae
            adv[t] = gae
        for t in range(n):
            ret = sum(g ** k * r[t + k] for k in range(n - t)) + g ** (n - t) * v[n]
            if sp.expand(adv[t] - (ret - v[t])) != 0:
                return ProofResult("gae-lambda-one", "refuted", time.perf_counter() - t0, f"T={n}, t={t}")
    return ProofResult("gae-lambda-one", "proved", time.perf_counter() - t0)


CONTRACTION_THEOREM = "mdp/bellman-contraction"
STOPPING_THEOREM = "mdp/value-iteration-stopping-rule"
GAE_THEOREM = "rl/gae-lambda-one"

THEOREMS = [
    Theorem(CONTRACTION_THEOREM,
            "for a finite MDP with P >= 0, row sums <= rho and gamma >= 0: ||T u - T v||_inf <= gamma rho "
            "||u - v||_inf for all u, v (and the same for T_pi)",
            "proved", ("certnn.rl.mdp_check.check_values", "certnn.rl.mdp_check.check_certificate",
                       "certnn.rl.solve.value_iteration"),
            f"z3 (nlsat) for at most {PROVED_SIZE} next states and {PROVED_SIZE} actions, every real P, R, u, v, "
            f"gamma, rho; larger MDPs rest on the assumption {CONTRACTION} (Puterman 1994, Prop. 6.2.4)",
            _detail(prove_contraction)),
    Theorem(STOPPING_THEOREM,
            "if T is a beta-contraction (beta < 1) with fixed point v*, then for every u with "
            "delta = ||T u - u||_inf: ||T u - v*||_inf <= beta delta / (1 - beta), the policy pi greedy for "
            "T u has ||v_pi - v*||_inf <= 2 beta delta / (1 - beta), and delta < eps (1 - beta) / (2 beta) "
            "makes pi eps-optimal (Puterman 1994, Thm. 6.3.1)",
            "proved", ("certnn.rl.mdp_check.check_values", "certnn.rl.mdp_check.check_certificate",
                       "certnn.rl.solve.value_iteration"),
            "the scalar argument, z3, any dimension; premises: the contraction (mdp/bellman-contraction), the "
            f"triangle inequality, and the fixed points v* and v_pi ({OPTIMALITY})",
            _detail(prove_stopping_rule), quick=True),
    Theorem(GAE_THEOREM,
            "GAE(gamma, lambda=1) advantages equal bootstrapped discounted returns minus values, "
            "A_t = sum_k gamma^k r_{t+k} + gamma^(T-t) V(s_T) - V(s_t) (Schulman et al. 2016, eq. 18)",
            "proved", ("certnn.rl.returns.gae",),
            "sympy, exact symbolic identity for trajectories of length T <= 6 without episode ends "
            "(tests check it in exact rationals for other lengths)",
            _detail(prove_gae_lambda_one), quick=True),
]

# what each statement rests on beyond its own proof (assumptions or other theorems)
PREMISES = {CONTRACTION_THEOREM: (CONTRACTION,), STOPPING_THEOREM: (CONTRACTION_THEOREM, OPTIMALITY), GAE_THEOREM: ()}
