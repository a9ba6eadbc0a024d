"""Verified policies: over boxes of the state space, certify that the trained
network's greedy action is constant (or that a stated action is the greedy
one), and write certificates that the independent checker
(:mod:`certnn.verify.checker`) re-derives.

For a network with outputs y (Q-values or logits) and an action a, "a is the
greedy action on the box B" is the linear spec y_a - y_j > 0 for every j != a
and every state in B (rows e_a - e_j, offsets 0; ties count as not
certified). The box grid splits a state rectangle into ``n`` equal parts per
dimension. Each box's action is the greedy action at its centre (or the stated
one), CROWN bounds the rows (:mod:`certnn.bounds`), and the boxes whose rows
are all positive are claimed in one certificate. The report's certified
fraction counts boxes the checker accepted, and the action printed for a box
is read back from the certificate's spec rows, not from the producer.

For a one-dimensional Gaussian policy (Pendulum) the property is the sign of
the mean action: s y > 0 with s the sign at the box centre.

``CARTPOLE_STATES`` is the rectangle CartPole-v1 episodes live in: cart
position and pole angle up to the termination thresholds (2.4, 12 degrees),
velocities within +-3 (cart) and +-3.5 (pole) rad/s, which episodes rarely
leave.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bounds import compute_bounds
from ..errors import CertnnError
from ..io import atomic_write
from ..ir.graph import Graph
from ..ir.run import run
from ..spec import LinearSpec, Region
from ..verify.certificate import make_certificate, save_certificate
from ..verify.checker import check_certificate

CARTPOLE_STATES = (np.array([-2.4, -3.0, -0.2095, -3.5]), np.array([2.4, 3.0, 0.2095, 3.5]))
STATE_RECTANGLES = {"CartPole-v1": CARTPOLE_STATES}


def grid(low, high, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n^d boxes splitting [low, high] into n equal parts per dimension, as (lo, hi) of shape (n^d, d)."""
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    if n < 1 or low.shape != high.shape or np.any(low >= high):
        raise CertnnError(f"a box grid needs n >= 1 and low < high, got n={n}, low={low}, high={high}")
    edges = [np.linspace(a, b, n + 1) for a, b in zip(low, high)]
    idx = np.stack(np.meshgrid(*[np.arange(n)] * len(low), indexing="ij"), -1).reshape(-1, len(low))
    lo = np.stack([edges[d][idx[:, d]] for d in range(len(low))], 1)
    hi = np.stack([edges[d][idx[:, d] + 1] for d in range(len(low))], 1)
    return lo, hi


def action_spec(actions, n_outputs: int) -> LinearSpec:
    """Rows y_a - y_j (j != a) per box; for one output, the row s y with s = +1 (action 1) or -1 (action 0)."""
    actions = np.asarray(actions, np.int64)
    if n_outputs == 1:
        C = np.where(actions == 1, 1.0, -1.0).reshape(-1, 1, 1)
        return LinearSpec(C, np.zeros((len(actions), 1)), np.zeros(1, np.int64), "action-sign")
    s = LinearSpec.robustness(actions, n_outputs)
    return LinearSpec(s.C, s.d, s.groups, "greedy-action")


def actions_of(spec: LinearSpec) -> np.ndarray:
    """Read each box's action back from its rows (-1 where the rows are not an action spec)."""
    C, d = spec.C, spec.d
    out = np.full(C.shape[0], -1)
    if C.shape[2] == 1:
        ok = (np.abs(C[:, 0, 0]) == 1) & (d[:, 0] == 0)
        out[ok] = (C[ok, 0, 0] > 0).astype(int)
        return out
    for i in range(C.shape[0]):
        a = np.flatnonzero(np.all(C[i] == 1, axis=0))
        if len(a) == 1 and np.array_equal(spec.rows([i]).C[0], LinearSpec.robustness(a, C.shape[2]).C[0]) \
                and not d[i].any():
            out[i] = a[0]
    return out


@dataclass
class PolicyVerification:
    boxes: int
    certified: int                 # boxes whose certificate rows the checker accepted
    claimed: int                   # boxes the producer claimed
    fraction: float
    actions: dict                  # certified boxes per action (read from the certificate)
    certificate: str | None
    checker_ok: bool
    seconds: dict
    evidence: str = "certified"
    assumptions: tuple = ()

    def to_dict(self) -> dict:
        return dict(self.__dict__, assumptions=list(self.assumptions))


def verify_policy(graph: Graph, lo, hi, out_dir, actions=None, method: str = "crown", model_path=None,
                  name: str = "policy-boxes") -> PolicyVerification:
    """Certify the greedy action on each box [lo_i, hi_i] (``actions``: the claimed action per box;
    default the greedy action at the centre); certificate and report go to ``out_dir``."""
    times = {}
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    region = Region.box(lo, hi)
    n_out = int(graph.node(graph.outputs[0]).shape[-1])
    t0 = time.perf_counter()
    if actions is None:
        y = run(graph, ((lo + hi) / 2).astype(np.float32), "real")
        actions = (y[:, 0] > 0).astype(int) if n_out == 1 else np.argmax(y, axis=1)
    spec = action_spec(actions, n_out)
    b = compute_bounds(graph, region, spec, method=method)
    times["bounds"] = time.perf_counter() - t0
    claimed = spec.holds(b.lb)
    out_dir = Path(out_dir)
    path, ok, accepted = None, False, np.zeros(len(lo), bool)
    if claimed.any():
        t0 = time.perf_counter()
        cert = make_certificate(graph, region, spec, b, model_path=model_path)
        path = save_certificate(cert, out_dir / f"{name}.json")
        times["certificate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        check = check_certificate(path, graph=graph if model_path is None else None)
        times["check"] = time.perf_counter() - t0
        accepted, ok = check.accepted & check.claimed, check.ok
        assumptions = tuple(check.assumptions)
    else:
        assumptions = ()
    acts = actions_of(spec)
    per_action = {int(a): int(np.sum(accepted & (acts == a))) for a in np.unique(acts[accepted])}
    res = PolicyVerification(len(lo), int(accepted.sum()), int(claimed.sum()), float(accepted.mean()), per_action,
                             None if path is None else str(path), bool(ok), times, assumptions=assumptions)
    with atomic_write(out_dir / f"{name}-report.json", "w") as f:
        json.dump(res.to_dict(), f, indent=1)
    return res
