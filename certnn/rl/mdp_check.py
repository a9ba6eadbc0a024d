"""The exact checker of value functions: given an MDP and a value vector u (any
numbers, e.g. the last iterate of a float64 value iteration), re-derive in exact
rational arithmetic (python-flint ``fmpq``) what u implies, trusting nothing
the solver computed:

    w = T u (exactly),  delta = ||w - u||,  beta = gamma * rho (rho = exact largest row sum)
    returned values  fl(w) (w rounded to binary64)
    value bound      ||fl(w) - v*|| <= beta delta / (1 - beta) + ||fl(w) - w||
    policy           pi greedy for w (exact comparisons, lowest action on ties)
    policy bound     ||v_pi - v*|| <= 2 beta delta / (1 - beta)

(theorem ``mdp/value-iteration-stopping-rule``, :mod:`certnn.rl.theorems`). Both
bounds are computed exactly and rounded up to binary64 for reporting. The same
module checks a claimed fixed point (T v = v exactly, e.g. V* from rational
policy iteration). It imports the MDP and the theorem names only, never the
solvers.

A **certificate** (``certnn rl mdp solve --certificate``) records the MDP
file's SHA-256, the last iterate u and the claims (values, policy, bound,
policy bound). :func:`check_certificate` accepts it only when the file is the
one certified, ``values`` is exactly fl(T u), ``policy`` is exactly greedy for
T u, and each claimed bound is at least the bound re-derived here from u.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from flint import fmpq, fmpq_mat

from ..io import parse_json, read_text, sha256_file, validate_json
from .mdp import MDP, MDPError
from .theorems import CONTRACTION, CONTRACTION_THEOREM, FLINT, OPTIMALITY, PROVED_SIZE, STOPPING_THEOREM

_EXACT = weakref.WeakKeyDictionary()   # MDP -> its exact matrices (built once per MDP)


@dataclass
class ValueCheck:
    values: np.ndarray         # fl(T u), binary64
    value_bound: float         # ||values - v*||_inf <= value_bound
    policy: np.ndarray         # greedy for T u
    policy_bound: float        # ||v_policy - v*||_inf <= policy_bound
    residual: float            # ||T u - u||_inf, rounded up
    modulus: object            # fmpq beta = gamma * rho
    exact_values: list         # T u as fmpq
    evidence: str = "certified"
    assumptions: tuple = ()
    theorems: tuple = (CONTRACTION_THEOREM, STOPPING_THEOREM)

    def eps_optimal(self, eps: float) -> bool:
        return self.policy_bound < eps


def fmpq_of(x):
    """An exact fmpq from a Fraction, an int, an fmpq or a binary64 number."""
    if isinstance(x, fmpq):
        return x
    if isinstance(x, float | np.floating):
        return fmpq(*float(x).as_integer_ratio())
    if isinstance(x, int | np.integer):
        return fmpq(int(x))
    q = Fraction(x)
    return fmpq(q.numerator, q.denominator)


def round_up(q) -> float:
    """The smallest binary64 >= the rational q."""
    f = float(q)
    return f if fmpq_of(f) >= q else float(np.nextafter(f, np.inf))


def exact_numbers(mdp: MDP):
    """(P_a as fmpq_mat, R as fmpq rows, gamma, rho) for the MDP's exact numbers."""
    if mdp in _EXACT:
        return _EXACT[mdp]
    S = mdp.n_states
    P = [fmpq_mat(S, S, [fmpq_of(x) for row in Pa for x in row]) for Pa in mdp.exact.get("P", mdp.transitions)]
    R = [[fmpq_of(x) for x in row] for row in mdp.exact.get("R", mdp.rewards)]
    rho = max(sum((Pa[s, t] for t in range(S)), fmpq_of(0)) for Pa in P for s in range(S))
    out = (P, R, fmpq_of(mdp.exact_gamma()), rho)
    _EXACT[mdp] = out
    return out


def modulus(mdp: MDP):
    """beta = gamma * rho as fmpq; refuses beta >= 1 (no contraction to certify with)."""
    _, _, g, rho = exact_numbers(mdp)
    beta = g * rho
    if beta >= 1:
        raise MDPError(f"gamma * (largest row sum) = {float(beta)} >= 1: the Bellman operator is no contraction")
    return beta


def q_exact(mdp: MDP, v) -> list:
    """Q(s, a) = R[s][a] + gamma sum_s' P[a][s][s'] v(s') exactly, as rows of fmpq."""
    P, R, g, _ = exact_numbers(mdp)
    S, A = mdp.n_states, mdp.n_actions
    if len(v) != S:
        raise MDPError(f"a value vector for this MDP has {S} entries, got {len(v)}")
    vm = fmpq_mat(S, 1, [fmpq_of(x) for x in v]) * g
    ev = [(Pa * vm).entries() for Pa in P]
    return [[R[s][a] + ev[a][s] for a in range(A)] for s in range(S)]


def greedy_exact(q: list) -> tuple[list, np.ndarray]:
    """(max_a Q(s, a), argmax with the lowest index on ties) per state, exactly."""
    vals, acts = [], []
    for row in q:
        best = 0
        for a in range(1, len(row)):
            if row[a] > row[best]:
                best = a
        vals.append(row[best])
        acts.append(best)
    return vals, np.asarray(acts, dtype=np.int64)


def sup_dist(a: list, b: list):
    return max(abs(fmpq_of(x) - fmpq_of(y)) for x, y in zip(a, b))


def assumptions_for(mdp: MDP) -> tuple:
    """The boundaries a certified answer about this MDP rests on (the contraction is proved up to
    PROVED_SIZE next states and actions)."""
    big = mdp.n_states > PROVED_SIZE or mdp.n_actions > PROVED_SIZE
    return (FLINT, OPTIMALITY) + ((CONTRACTION,) if big else ())


def check_values(mdp: MDP, u) -> ValueCheck:
    """What one exact Bellman step from ``u`` certifies (see the module docstring)."""
    beta = modulus(mdp)
    w, _ = greedy_exact(q_exact(mdp, u))
    delta = sup_dist(w, u)
    _, policy = greedy_exact(q_exact(mdp, w))
    values = np.array([float(x) for x in w])
    rounding = sup_dist(values.tolist(), w)
    one = fmpq_of(1)
    value_bound = beta * delta / (one - beta) + rounding
    policy_bound = 2 * beta * delta / (one - beta)
    return ValueCheck(values, round_up(value_bound), policy, round_up(policy_bound), round_up(delta), beta, w,
                      assumptions=assumptions_for(mdp))


def is_fixed_point(mdp: MDP, v) -> bool:
    """T v == v exactly (then v = v*, the unique fixed point, ``puterman-1994-optimality-equation``)."""
    w, _ = greedy_exact(q_exact(mdp, v))
    return all(fmpq_of(x) == fmpq_of(y) for x, y in zip(w, v))


# ---- certificates -----------------------------------------------------------------------------------

CERTIFICATE_KIND = "certnn-mdp-values"
_FLOATS = {"type": "array", "minItems": 1, "items": {"type": "number"}}
CERTIFICATE_SCHEMA = {
    "type": "object",
    "required": ["kind", "version", "mdp", "iterate", "values", "policy", "bound", "policy_bound"],
    "properties": {
        "kind": {"const": CERTIFICATE_KIND},
        "version": {"const": 1},
        "mdp": {"type": "object", "required": ["file", "sha256"],
                "properties": {"file": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
        "iterate": _FLOATS,
        "values": _FLOATS,
        "policy": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}},
        "bound": {"type": "number", "minimum": 0},
        "policy_bound": {"type": "number", "minimum": 0},
    },
}


@dataclass
class CertificateCheck:
    ok: bool
    problems: list = field(default_factory=list)    # one line per refused claim
    bound: float | None = None                       # the bounds re-derived from the iterate
    policy_bound: float | None = None
    evidence: str = "certified"
    assumptions: tuple = ()
    theorems: tuple = (CONTRACTION_THEOREM, STOPPING_THEOREM)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "problems": list(self.problems), "bound": self.bound,
                "policy_bound": self.policy_bound, "evidence": self.evidence if self.ok else "refuted",
                "assumptions": list(self.assumptions), "theorems": list(self.theorems)}


def check_certificate(mdp_path, certificate_path) -> CertificateCheck:
    """Re-derive a value certificate from the MDP file and the recorded iterate (see the module docstring)."""
    doc = parse_json(read_text(certificate_path, "certificate", MDPError), certificate_path, "certificate", MDPError)
    validate_json(doc, CERTIFICATE_SCHEMA, certificate_path, "certificate", MDPError)
    digest, _ = sha256_file(mdp_path, "MDP file", MDPError)
    if digest != doc["mdp"]["sha256"]:
        return CertificateCheck(False, [f"{mdp_path} is not the MDP the certificate is about (SHA-256 "
                                        f"{digest[:12]}..., the certificate says {doc['mdp']['sha256'][:12]}...)"])
    mdp = MDP.from_json(mdp_path)
    S = mdp.n_states
    sizes = {k: len(doc[k]) for k in ("iterate", "values", "policy")}
    if set(sizes.values()) != {S}:
        return CertificateCheck(False, [f"the MDP has {S} states; the certificate's lengths are {sizes}"])
    c = check_values(mdp, doc["iterate"])
    problems = []
    diff = np.flatnonzero(np.asarray(doc["values"], np.float64) != c.values)
    if diff.size:
        s = int(diff[0])
        problems.append(f"values[{s}] = {doc['values'][s]!r} is not T(iterate)[{s}] rounded to binary64 "
                        f"({c.values[s]!r})")
    diff = np.flatnonzero(np.asarray(doc["policy"]) != c.policy)
    if diff.size:
        s = int(diff[0])
        problems.append(f"policy[{s}] = {doc['policy'][s]} is not greedy for T(iterate) (action {c.policy[s]})")
    # a claimed binary64 b is >= the exact bound iff b >= the exact bound rounded up (c's bounds)
    if not doc["bound"] >= c.value_bound:
        problems.append(f"bound {doc['bound']!r} is below the certified distance bound {c.value_bound!r}")
    if not doc["policy_bound"] >= c.policy_bound:
        problems.append(f"policy_bound {doc['policy_bound']!r} is below the certified {c.policy_bound!r}")
    return CertificateCheck(not problems, problems, c.value_bound, c.policy_bound, assumptions=c.assumptions)
