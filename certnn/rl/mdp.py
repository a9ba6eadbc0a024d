"""Finite Markov decision processes: the semantic object of certnn's MDP facts.

An MDP has S states, A actions, transition probabilities ``P[a][s][s']``
(pymdptoolbox's layout), rewards ``R[s][a]`` (expected reward of taking a in s)
and a discount 0 <= gamma < 1. Its Bellman operators on value vectors v:

    (T_pi v)(s) = sum_a pi(a|s) (R[s][a] + gamma sum_s' P[a][s][s'] v(s'))
    (T v)(s)    = max_a        (R[s][a] + gamma sum_s' P[a][s][s'] v(s'))

The numbers are kept twice: as float64 arrays for fast iteration, and exactly,
as rationals, for the certified facts (:mod:`certnn.rl.mdp_check`). Numbers read
from JSON are taken as the decimals written (``0.1`` is 1/10, not the binary64
nearest to it; a string ``"1/3"`` is 1/3); arrays given in code are taken as
the binary64 values they hold.

Construction validates once: shapes, finite values, P >= 0, every row a
distribution (sums to 1 within ``ROW_TOL`` in binary64) and 0 <= gamma < 1.
The certified bounds do not lean on the rows summing to exactly 1: they use the
exact largest row sum rho and the modulus beta = gamma * rho (see
:mod:`certnn.rl.theorems`), so a row summing to 1 - 1e-16 stays sound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import CertnnError

ROW_TOL = 1e-9
_RATIONAL = r"^-?[0-9]+(/[0-9]+)?$"
_NUM = {"oneOf": [{"type": "number"}, {"type": "string", "pattern": _RATIONAL}]}
SCHEMA = {
    "type": "object",
    "required": ["gamma", "transitions", "rewards"],
    "properties": {
        "gamma": _NUM,
        "transitions": {"type": "array", "minItems": 1,
                        "items": {"type": "array", "minItems": 1,
                                  "items": {"type": "array", "minItems": 1, "items": _NUM}}},
        "rewards": {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": _NUM}},
    },
}


class MDPError(CertnnError, ValueError):
    """An MDP is malformed: shapes, negative or non-finite numbers, a row that is no distribution, gamma."""


@dataclass(frozen=True, eq=False)
class MDP:
    """A finite MDP; build with ``MDP(P, R, gamma)`` (arrays or nested lists) or :meth:`from_json`."""

    transitions: np.ndarray       # (A, S, S) float64
    rewards: np.ndarray           # (S, A) float64
    gamma: float
    exact: dict = field(default_factory=dict, repr=False)  # "P", "R", "gamma" as Fractions when given

    def __post_init__(self):
        exact = dict(self.exact)
        P = _array(self.transitions, "transitions", exact, "P")
        R = _array(self.rewards, "rewards", exact, "R")
        g = _scalar(self.gamma, exact)
        if P.ndim != 3 or P.shape[1] != P.shape[2]:
            raise MDPError(f"transitions must have shape (A, S, S) as P[a][s][s'], got {P.shape}")
        A, S = P.shape[:2]
        if R.shape != (S, A):
            raise MDPError(f"rewards must have shape (S, A) = ({S}, {A}) as R[s][a], got {R.shape}")
        for name, arr in (("transitions", P), ("rewards", R)):
            bad = np.argwhere(~np.isfinite(arr))
            if bad.size:
                raise MDPError(f"{name}{_where(bad[0])} is {arr[tuple(bad[0])]}, not a finite number")
        bad = np.argwhere(P < 0)
        if bad.size:
            raise MDPError(f"transitions{_where(bad[0])} = {P[tuple(bad[0])]} is negative")
        sums = P.sum(axis=2)
        bad = np.argwhere(np.abs(sums - 1) > ROW_TOL)
        if bad.size:
            a, s = bad[0]
            raise MDPError(f"transitions[a={a}][s={s}] sums to {float(sums[a, s])!r}, not 1: each row P[a][s] "
                           f"must be a probability distribution over next states")
        if not (np.isfinite(g) and 0 <= g < 1):
            raise MDPError(f"gamma must satisfy 0 <= gamma < 1, got {g}")
        object.__setattr__(self, "transitions", P)
        object.__setattr__(self, "rewards", R)
        object.__setattr__(self, "gamma", float(g))
        object.__setattr__(self, "exact", exact)

    # ---- sizes ------------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return self.transitions.shape[1]

    @property
    def n_actions(self) -> int:
        return self.transitions.shape[0]

    # ---- Bellman operators in float64 (iteration; the certified versions are exact) ------------
    def q_values(self, v: np.ndarray) -> np.ndarray:
        """Q(s, a) = R[s][a] + gamma sum_s' P[a][s][s'] v(s'), shape (S, A)."""
        return self.rewards + self.gamma * (self.transitions @ v).T

    def bellman_optimality(self, v: np.ndarray) -> np.ndarray:
        """(T v)(s) = max_a Q(s, a)."""
        return np.max(self.q_values(v), axis=1)

    def bellman_policy(self, v: np.ndarray, policy) -> np.ndarray:
        """(T_pi v)(s) for a deterministic policy (S,) of action indices or a stochastic one (S, A)."""
        return np.sum(self.q_values(v) * self.policy_matrix(policy), axis=1)

    def greedy(self, v: np.ndarray) -> np.ndarray:
        """argmax_a Q(s, a), lowest action index on ties."""
        return np.argmax(self.q_values(v), axis=1)

    def policy_matrix(self, policy) -> np.ndarray:
        """pi(a|s) as an (S, A) array; a deterministic policy (S,) becomes one-hot rows."""
        pi = np.asarray(policy)
        S, A = self.n_states, self.n_actions
        if pi.shape == (S,) and pi.dtype.kind in "iu":
            if np.any((pi < 0) | (pi >= A)):
                raise MDPError(f"policy actions must lie in 0..{A - 1}, got {pi.tolist()}")
            return np.eye(A)[pi]
        if pi.shape == (S, A) and np.all(pi >= 0) and np.allclose(pi.sum(axis=1), 1, atol=ROW_TOL, rtol=0):
            return pi.astype(np.float64)
        raise MDPError(f"a policy is (S,) = ({S},) action indices or (S, A) = ({S}, {A}) distributions, "
                       f"got shape {pi.shape}")

    # ---- exact numbers --------------------------------------------------------------------------
    def exact_transitions(self) -> list:
        """P[a][s][s'] as Fractions (the numbers as written, or the binary64 values)."""
        return self.exact.get("P") or _fractions(self.transitions)

    def exact_rewards(self) -> list:
        return self.exact.get("R") or _fractions(self.rewards)

    def exact_gamma(self) -> Fraction:
        return self.exact.get("gamma", Fraction(self.gamma))

    # ---- files ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        """The file format of :meth:`from_json`; exact numbers are written as "p/q" strings."""
        q = lambda x: str(x) if x.denominator != 1 else int(x)  # noqa: E731
        return {"gamma": q(self.exact_gamma()),
                "transitions": [[[q(p) for p in row] for row in Pa] for Pa in self.exact_transitions()],
                "rewards": [[q(r) for r in row] for row in self.exact_rewards()]}

    @classmethod
    def from_json(cls, path) -> "MDP":
        """Read ``{"gamma": g, "transitions": P[a][s][s'], "rewards": R[s][a]}``; numbers are exact decimals
        or "p/q" strings."""
        import jsonschema
        p = Path(path)
        try:
            text = p.read_text()
            doc = json.loads(text)
        except OSError as e:
            raise MDPError(f"{p}: cannot read ({e.strerror or e})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MDPError(f"{p}: not valid JSON ({e})") from None
        try:
            jsonschema.validate(doc, SCHEMA)
        except jsonschema.ValidationError as e:
            where = "".join(f"[{k}]" for k in e.absolute_path) or "the document"
            raise MDPError(f"{p}: {where}: {e.message}") from None
        exact = json.loads(text, parse_float=Fraction, parse_int=Fraction)
        try:
            return cls.from_exact(exact["transitions"], exact["rewards"], exact["gamma"])
        except MDPError as e:
            raise MDPError(f"{p}: {e}") from None

    @classmethod
    def from_exact(cls, transitions, rewards, gamma) -> "MDP":
        """From nested lists of rationals (Fraction, int or "p/q" strings), kept exactly."""
        try:
            P = [[[Fraction(x) for x in row] for row in Pa] for Pa in transitions]
            R = [[Fraction(x) for x in row] for row in rewards]
            g = Fraction(gamma)
        except (TypeError, ValueError, ZeroDivisionError) as e:
            raise MDPError(f"not a rational number: {e}") from None
        lengths = {len(row) for Pa in P for row in Pa} | {len(Pa) for Pa in P}
        if len(lengths) != 1 or len({len(row) for row in R}) != 1:
            raise MDPError("transitions must be A lists of S rows of S numbers and rewards S rows of A numbers")
        negative = [(a, s, t) for a, Pa in enumerate(P) for s, row in enumerate(Pa) for t, x in enumerate(row) if x < 0]
        if negative:  # caught here too: a tiny negative rational may round to -0.0
            a, s, t = negative[0]
            raise MDPError(f"transitions[{a}][{s}][{t}] = {P[a][s][t]} is negative")
        return cls(np.array([[[float(x) for x in row] for row in Pa] for Pa in P]),
                   np.array([[float(x) for x in row] for row in R]), float(g), {"P": P, "R": R, "gamma": g})


def _array(x, name: str, exact: dict, key: str) -> np.ndarray:
    try:
        arr = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MDPError(f"{name}: not an array of numbers ({e})") from None
    if key in exact and arr.shape != np.shape(np.array(exact[key], dtype=object)):
        raise MDPError(f"{name}: exact numbers of another shape than the array")
    return arr


def _scalar(x, exact: dict) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise MDPError(f"gamma must be a number, got {x!r}") from None


def _where(idx) -> str:
    return "".join(f"[{int(i)}]" for i in idx)


def _fractions(arr: np.ndarray) -> list:
    """The binary64 values of an array as nested lists of exact Fractions."""
    return np.vectorize(Fraction, otypes=[object])(arr).tolist()
