"""Solving finite MDPs: value iteration with a certified answer, and policy
iteration with exact rational policy evaluation (which gives V* exactly).

Value iteration runs in float64 (fast, uncertified) until the float residual
||v_{k+1} - v_k|| drops below eps (1 - beta) / (2 beta) (the sup-norm rule of
Puterman 1994, Thm. 6.3.1); then :func:`certnn.rl.mdp_check.check_values`
re-derives the claim exactly from the last iterate u: the returned values are
fl(T u), their distance to v* is at most the certified ``bound``, and the
greedy policy is within ``policy_bound`` of optimal. When float rounding keeps
the exact residual above the threshold, iteration goes on with a tighter float
threshold until the exact check passes or ``max_iter`` is spent (then
``eps_optimal`` is False and the bounds say what was reached).

Note the rule's factor 2: pymdptoolbox stops on the span of v_{k+1} - v_k
against eps (1 - gamma) / gamma, which bounds neither distance.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write, sha256_file
from .mdp import MDP, MDPError
from .mdp_check import (CERTIFICATE_KIND, assumptions_for, check_values, fmpq_of, greedy_exact, is_fixed_point,
                        modulus, q_exact)


@dataclass
class VIResult:
    values: np.ndarray
    policy: np.ndarray
    bound: float               # ||values - v*||_inf <= bound (certified)
    policy_bound: float        # ||v_policy - v*||_inf <= policy_bound (certified)
    eps: float
    eps_optimal: bool          # policy_bound < eps
    iterations: int
    seconds: float
    iterate: np.ndarray        # the last iterate u the exact check started from (values = fl(T u))
    evidence: str = "certified"
    assumptions: tuple = ()
    theorems: tuple = ()

    def to_dict(self) -> dict:
        return {"values": self.values.tolist(), "policy": self.policy.tolist(), "bound": self.bound,
                "policy_bound": self.policy_bound, "eps": self.eps, "eps_optimal": self.eps_optimal,
                "iterations": self.iterations, "seconds": self.seconds, "evidence": self.evidence,
                "assumptions": list(self.assumptions), "theorems": list(self.theorems)}


def value_iteration(mdp: MDP, eps: float = 1e-6, max_iter: int = 100_000, v0=None) -> VIResult:
    """Value iteration with the certified stopping rule; ``eps`` is the policy's target suboptimality."""
    if not (np.isfinite(eps) and eps > 0):
        raise MDPError(f"eps must be a positive number, got {eps}")
    t0 = time.perf_counter()
    beta = float(modulus(mdp))
    v = np.zeros(mdp.n_states) if v0 is None else np.asarray(v0, np.float64)
    threshold = eps * (1 - beta) / (2 * beta) if beta > 0 else np.inf
    k = 0
    while True:
        while k < max_iter:
            w = mdp.bellman_optimality(v)
            k += 1
            done = np.max(np.abs(w - v), initial=0.0) < threshold
            u, v = v, w
            if done:
                break
        check = check_values(mdp, u)        # exact: certifies fl(T u), not the float w
        if check.eps_optimal(eps) or k >= max_iter:
            break
        threshold /= 16                      # rounding kept the exact residual too large: iterate further
        v = check.values
    return VIResult(check.values, check.policy, check.value_bound, check.policy_bound, eps, check.eps_optimal(eps),
                    k, time.perf_counter() - t0, np.asarray(u, np.float64), check.evidence, check.assumptions,
                    check.theorems)


def save_certificate(result: VIResult, mdp_path, out) -> Path:
    """Write the certificate of a value-iteration result about the MDP in ``mdp_path`` (checked by
    :func:`certnn.rl.mdp_check.check_certificate`); JSON floats round-trip binary64 exactly."""
    digest, _ = sha256_file(mdp_path, "MDP file", MDPError)
    doc = {"kind": CERTIFICATE_KIND, "version": 1, "mdp": {"file": Path(mdp_path).name, "sha256": digest},
           "iterate": result.iterate.tolist(), "values": result.values.tolist(), "policy": result.policy.tolist(),
           "bound": result.bound, "policy_bound": result.policy_bound, "eps": result.eps,
           "evidence": result.evidence, "assumptions": list(result.assumptions), "theorems": list(result.theorems)}
    with atomic_write(out, "w") as f:
        json.dump(doc, f, indent=1)
    return Path(out)


@dataclass
class PIResult:
    values: list               # V* as exact fmpq
    policy: np.ndarray         # an optimal deterministic policy
    iterations: int
    evidence: str = "checked"  # exact arithmetic, T V* == V* verified
    assumptions: tuple = ()

    def floats(self) -> np.ndarray:
        return np.array([float(x) for x in self.values])


def evaluate_policy_exact(mdp: MDP, policy) -> list:
    """v_pi solving (I - gamma P_pi) v = R_pi exactly (fmpq_mat.solve), for a deterministic policy."""
    from flint import fmpq_mat
    from .mdp_check import exact_numbers
    P, R, g, _ = exact_numbers(mdp)
    S = mdp.n_states
    pi = [int(a) for a in policy]
    A = fmpq_mat(S, S, [(1 if s == t else 0) - g * P[pi[s]][s, t] for s in range(S) for t in range(S)])
    b = fmpq_mat(S, 1, [R[s][pi[s]] for s in range(S)])
    x = A.solve(b)
    return [x[s, 0] for s in range(S)]


def policy_iteration(mdp: MDP, max_iter: int = 10_000) -> PIResult:
    """Howard's policy iteration in exact arithmetic. Improvement switches an action only when
    another is strictly better, so it stops; the result is checked to be the fixed point T v = v."""
    modulus(mdp)
    policy = np.zeros(mdp.n_states, dtype=np.int64)
    for k in range(1, max_iter + 1):
        v = evaluate_policy_exact(mdp, policy)
        q = q_exact(mdp, v)
        _, best = greedy_exact(q)
        keep = np.array([q[s][policy[s]] >= q[s][best[s]] for s in range(mdp.n_states)])
        new = np.where(keep, policy, best)
        if np.array_equal(new, policy):
            if not is_fixed_point(mdp, v):
                raise MDPError("policy iteration stopped at a value that is not the fixed point of T")
            return PIResult(v, policy, k, assumptions=assumptions_for(mdp))
        policy = new
    raise MDPError(f"policy iteration did not stop in {max_iter} iterations")


def exact_distance(values, exact) -> float:
    """||values - exact||_inf rounded up (for tests and benchmarks comparing to V*)."""
    from .mdp_check import round_up, sup_dist
    return round_up(sup_dist(list(values), [fmpq_of(x) for x in exact]))


def forest(S: int = 3, r1: float = 4, r2: float = 2, p: float = 0.1, gamma: float = 0.96) -> MDP:
    """pymdptoolbox's ``forest`` example from its documented definition: action 0 waits (the forest
    grows one state, or burns to state 0 with probability p), action 1 cuts (back to state 0).
    Waiting in the oldest state earns r1, cutting earns 0 in state 0, 1 in between and r2 in the
    oldest state. Numbers are exact decimals."""
    from fractions import Fraction as Q
    if S < 2:
        raise MDPError(f"forest needs at least 2 states, got {S}")
    p = Q(str(p))
    wait = [[0] * S for _ in range(S)]
    for s in range(S):
        wait[s][0] += p
        wait[s][min(s + 1, S - 1)] += 1 - p
    cut = [[1] + [0] * (S - 1) for _ in range(S)]
    R = [[0, 1] for _ in range(S)]
    R[0][1] = 0
    R[S - 1] = [Q(str(r1)), Q(str(r2))]
    return MDP.from_exact([wait, cut], R, Q(str(gamma)))
