"""Reach tubes: the in-memory object and the file format (shared by producer and checker).

A tube is ``NAME.json`` (format ``certnn-reach-tube``, version 1) plus
``NAME.npz``, written atomically (arrays first); every array is listed in the
JSON with its SHA-256, the JSON is validated against :data:`SCHEMA` on loading,
nothing is unpickled. It names the problem (name, folder relative to the tube,
SHA-256 of spec.json and the controller files), the scenario and the settings,
and holds, for P pieces of the initial box and N control periods:

* ``piece.lo/hi`` (P, n): the pieces (they must cover the initial box);
* ``state.c`` (N+1, P, n, m), ``state.e`` (N+1, P, n, q), ``state.lo/hi``
  (N+1, P, n), ``state.q`` (N+1,): the Taylor model of every state at every
  sampling time t_k (m monomials of the basis ``tm_order`` in the free
  dimensions; the first ``state.q[k]`` noise symbols are in use at step k);
* ``claim.lo/hi`` (N, P, n_in), ``claim.a`` (N, P, n_out, n_in),
  ``claim.r_lo/r_hi`` (N, P, n_out): the controller claims
  ``y_j(v) - a_j . v in [r_lo_j, r_hi_j]`` for v in the box, with the CROWN
  anchors (``anchor.*``) and relaxation parameters (``alpha.*``) the checker
  re-derives them from;
* ``apriori.lo/hi`` (N, substeps, P, n): the a priori boxes of the validated
  integration (continuous time);
* ``margin`` (P,): the producer's tightest margin per piece (informational).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import confined, load_json, read_npz, write_json, write_npz
from ..ir.serialize import array_digest
from ..spec.linear import LinearSpec
from .problem import Problem, Scenario
from .taylor import TM, basis

FORMAT, VERSION = "certnn-reach-tube", 1


class TubeError(CertnnError, ValueError):
    """A tube file is missing, unreadable, of another format or malformed."""


@dataclass
class Claims:
    """Controller claims of one step for every piece (see the module docstring)."""
    lo: np.ndarray
    hi: np.ndarray
    a: np.ndarray
    r_lo: np.ndarray
    r_hi: np.ndarray
    anchors: dict          # node id -> (lo, hi), each (P, *shape)
    alphas: dict           # (target, node, side) -> array (P, ...)


def claim_spec(a, r_lo, r_hi) -> LinearSpec:
    """The claims as linear spec rows over the augmented outputs [y; v]:
    y_j - a_j.v - r_lo_j > 0 and r_hi_j - y_j + a_j.v > 0, one group each (both must hold)."""
    P, K, n_in = a.shape
    C = np.zeros((P, 2 * K, K + n_in))
    d = np.zeros((P, 2 * K))
    for j in range(K):
        C[:, 2 * j, j], C[:, 2 * j, K:] = 1.0, -a[:, j]
        C[:, 2 * j + 1, j], C[:, 2 * j + 1, K:] = -1.0, a[:, j]
        d[:, 2 * j], d[:, 2 * j + 1] = -r_lo[:, j], r_hi[:, j]
    return LinearSpec(C, d, np.arange(2 * K), "control-claim")


@dataclass
class Tube:
    problem: Problem | None
    scenario: Scenario | None
    settings: dict         # tm_order, time_order, sub, substeps, method, semantics
    free: tuple
    piece_lo: np.ndarray
    piece_hi: np.ndarray
    states: list           # N + 1 TMs (P, n)
    claims: list           # N Claims
    apriori: list          # N lists (one per substep) of (lo, hi), each (P, n)
    margin: np.ndarray
    meta: dict | None = None   # the JSON document when loaded from a file

    @property
    def pieces(self) -> int:
        return int(self.piece_lo.shape[0])

    @property
    def steps(self) -> int:
        return len(self.claims)


_ARR = {"type": "string"}
SCHEMA = {
    "type": "object",
    "required": ["format", "version", "problem", "scenario", "settings", "free", "pieces", "steps", "basis",
                 "anchors", "alphas", "array_file", "arrays"],
    "properties": {
        "format": {"const": FORMAT}, "version": {"const": VERSION},
        "problem": {"type": "object", "required": ["name", "digest"],
                    "properties": {"name": {"type": "string"}, "digest": {"type": "string"},
                                   "folder": {"type": ["string", "null"]}}},
        "scenario": {"type": "string"},
        "settings": {"type": "object", "required": ["tm_order", "time_order", "sub", "substeps"],
                     "properties": {"tm_order": {"type": "integer", "minimum": 0, "maximum": 12},
                                    "time_order": {"type": "integer", "minimum": 1, "maximum": 30},
                                    "sub": {"type": "integer", "minimum": 1, "maximum": 1000},
                                    "substeps": {"type": "integer", "minimum": 1, "maximum": 1000},
                                    "semantics": {"enum": ["real", "binary32"]}}},
        "free": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "pieces": {"type": "integer", "minimum": 1}, "steps": {"type": "integer", "minimum": 1},
        "basis": {"type": "object", "required": ["nvars", "order"]},
        "anchors": {"type": "array", "items": {"type": "object", "required": ["node", "lo", "hi"]}},
        "alphas": {"type": "array", "items": {"type": "object", "required": ["target", "node", "side", "array"]}},
        "array_file": {"type": "string"},
        "arrays": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["sha256"], "properties": {"sha256": {"type": "string"}}}},
    },
}


# ------------------------------------------------------------------ writing

def save_tube(tube: Tube, path, extra: dict | None = None) -> Path:
    """Write ``path`` (.json added if absent) and the sibling .npz."""
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    npz = path.with_name(path.stem + ".npz")
    N, P = tube.steps, tube.pieces
    qmax = max(X.q for X in tube.states)
    pad = lambda e: np.concatenate([e, np.zeros(e.shape[:-1] + (qmax - e.shape[-1],))], -1)  # noqa: E731
    arrays = {
        "piece.lo": tube.piece_lo, "piece.hi": tube.piece_hi, "margin": np.asarray(tube.margin, np.float64),
        "state.c": np.stack([X.c for X in tube.states]), "state.e": np.stack([pad(X.e) for X in tube.states]),
        "state.lo": np.stack([X.lo for X in tube.states]), "state.hi": np.stack([X.hi for X in tube.states]),
        "state.q": np.array([X.q for X in tube.states], np.int64),
        "claim.lo": np.stack([c.lo for c in tube.claims]), "claim.hi": np.stack([c.hi for c in tube.claims]),
        "claim.a": np.stack([c.a for c in tube.claims]), "claim.r_lo": np.stack([c.r_lo for c in tube.claims]),
        "claim.r_hi": np.stack([c.r_hi for c in tube.claims]),
    }
    S = len(tube.apriori[0]) if tube.apriori else 0
    n = tube.piece_lo.shape[1]
    arrays["apriori.lo"] = np.stack([[b[0] for b in ap] for ap in tube.apriori]) if S else np.zeros((N, 0, P, n))
    arrays["apriori.hi"] = np.stack([[b[1] for b in ap] for ap in tube.apriori]) if S else np.zeros((N, 0, P, n))
    anchors, alphas = [], []
    for i, node in enumerate(tube.claims[0].anchors):
        arrays[f"anchor.{i}.lo"] = np.stack([c.anchors[node][0] for c in tube.claims])
        arrays[f"anchor.{i}.hi"] = np.stack([c.anchors[node][1] for c in tube.claims])
        anchors.append({"node": node, "lo": f"anchor.{i}.lo", "hi": f"anchor.{i}.hi"})
    for i, key in enumerate(tube.claims[0].alphas):
        arrays[f"alpha.{i}"] = np.stack([np.broadcast_to(c.alphas[key], (P,) + c.alphas[key].shape[1:])
                                         for c in tube.claims])
        alphas.append({"target": key[0], "node": key[1], "side": key[2], "array": f"alpha.{i}"})
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    b = tube.states[0].b
    folder = None
    if tube.problem is not None:
        folder = os.path.relpath(Path(tube.problem.folder).resolve(), path.resolve().parent)
    doc = {"format": FORMAT, "version": VERSION,
           "problem": {"name": tube.problem.name if tube.problem else "", "folder": folder,
                       "digest": tube.problem.digest if tube.problem else ""},
           "scenario": tube.scenario.name if tube.scenario else "", "settings": tube.settings,
           "free": list(tube.free), "pieces": P, "steps": N, "basis": {"nvars": b.nvars, "order": b.order},
           "anchors": anchors, "alphas": alphas, **(extra or {}), "array_file": npz.name,
           "arrays": {k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)}
                      for k, a in sorted(arrays.items())}}
    write_npz(npz, arrays)
    write_json(path, doc)
    return path


# ------------------------------------------------------------------ reading

def load_tube(path) -> Tube:
    """Read and validate a tube (without its problem: ``problem``/``scenario`` None;
    the checker loads the problem itself). Every problem raises :class:`TubeError`."""
    path = Path(path)
    doc = load_json(path, "tube", SCHEMA, TubeError)
    npz = confined(path.parent, doc["array_file"], "array_file", path, TubeError)
    arrays = read_npz(npz, "tube's array file", TubeError)
    if set(arrays) != set(doc["arrays"]):
        raise TubeError(f"{path}: {npz.name} holds other arrays than the manifest lists")
    for k, meta in doc["arrays"].items():
        if array_digest(arrays[k]) != meta["sha256"]:
            raise TubeError(f"{path}: array '{k}' does not match its SHA-256 (corrupt or modified)")
        if arrays[k].dtype.kind == "f" and np.isnan(arrays[k]).any():
            raise TubeError(f"{path}: array '{k}' contains NaN")
    try:
        return _assemble(doc, arrays)
    except (KeyError, ValueError, IndexError) as e:
        raise TubeError(f"{path}: malformed arrays ({type(e).__name__}: {e})") from None


def _assemble(doc, A) -> Tube:
    N, P = doc["steps"], doc["pieces"]
    b = basis(int(doc["basis"]["nvars"]), int(doc["basis"]["order"]))
    n = A["piece.lo"].shape[1]
    want = {"piece.lo": (P, n), "piece.hi": (P, n), "state.c": (N + 1, P, n, b.m), "state.lo": (N + 1, P, n),
            "state.hi": (N + 1, P, n), "state.q": (N + 1,), "margin": (P,)}
    for k, shp in want.items():
        if A[k].shape != shp:
            raise ValueError(f"array '{k}' has shape {A[k].shape}, expected {shp}")
    q = A["state.q"]
    if A["state.e"].shape[:3] != (N + 1, P, n) or np.any(q < 0) or np.any(q > A["state.e"].shape[3]):
        raise ValueError("array 'state.e' or 'state.q' has the wrong shape or counts")
    states = [TM(A["state.c"][k], A["state.lo"][k], A["state.hi"][k], b, A["state.e"][k][..., :q[k]])
              for k in range(N + 1)]
    n_out, n_in = A["claim.a"].shape[2:]
    for k in ("claim.lo", "claim.hi"):
        if A[k].shape != (N, P, n_in):
            raise ValueError(f"array '{k}' has shape {A[k].shape}, expected {(N, P, n_in)}")
    for k in ("claim.r_lo", "claim.r_hi"):
        if A[k].shape != (N, P, n_out):
            raise ValueError(f"array '{k}' has shape {A[k].shape}, expected {(N, P, n_out)}")
    anchors = {e["node"]: (A[e["lo"]], A[e["hi"]]) for e in doc["anchors"]}
    alphas = {(e["target"], e["node"], e["side"]): A[e["array"]] for e in doc["alphas"]}
    for nid, (lo, hi) in anchors.items():
        if lo.shape != hi.shape or lo.shape[:2] != (N, P):
            raise ValueError(f"anchor of node '{nid}' has shapes {lo.shape}, {hi.shape}")
    for key, a in alphas.items():
        if a.shape[:2] != (N, P):
            raise ValueError(f"alpha {key} has shape {a.shape}")
    claims = [Claims(A["claim.lo"][k], A["claim.hi"][k], A["claim.a"][k], A["claim.r_lo"][k], A["claim.r_hi"][k],
                     {nid: (lo[k], hi[k]) for nid, (lo, hi) in anchors.items()},
                     {key: a[k] for key, a in alphas.items()}) for k in range(N)]
    alo, ahi = A["apriori.lo"], A["apriori.hi"]
    if alo.shape != ahi.shape or alo.shape[0] != N or alo.shape[2:] != (P, n):
        raise ValueError(f"a priori boxes have shape {alo.shape}, expected ({N}, substeps, {P}, {n})")
    apriori = [[(alo[k, j], ahi[k, j]) for j in range(alo.shape[1])] for k in range(N)]
    return Tube(None, None, dict(doc["settings"]), tuple(doc["free"]), A["piece.lo"], A["piece.hi"], states,
                claims, apriori, A["margin"], doc)
