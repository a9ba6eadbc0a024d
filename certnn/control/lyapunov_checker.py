"""The independent checker of Lyapunov certificates (:mod:`.lyapunov` writes them).

Claim: for every x in the box [root_lo, root_hi] with ||x||_2 >= radius,
V(x) > 0 and V'(x) = grad V(x) . f(x, u(x)) < 0, for the two networks the
certificate names (their graph hashes) and the dynamics it states (parsed by
:mod:`.expr`, never evaluated as Python), in real semantics.

1. The networks are loaded and their hashes compared; the dynamics are parsed.
2. The boxes are rebuilt from the split tree, root first: a node is split along
   ``split_dim`` at ``split_at`` (which must lie in its extent) into two children,
   each node reached exactly once, so the leaves cover the root box by
   construction.
3. Every leaf marked "inside the ball" must lie inside the open ball (sound
   norm bound); every leaf marked "certified" must have V > 0 and V' < 0 by the
   sound interval evaluation of :mod:`.derivatives` (the op table's interval and
   derivative rules); leaves marked "not certified" make the certificate claim
   only the rest (``ok`` is then False for the full region).

This module does not import the producer (:mod:`.lyapunov`, :mod:`certnn.bounds`).
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..floats import interval as iv
from ..ir import load as load_graph
from ..ir.serialize import array_digest, graph_hash
from . import expr as ex
from .derivatives import inside_open_ball, lie_bounds
from .taylor import qiv

ASSUMES = ("problem-expressions-parsed", "arb-ball-arithmetic") + iv.LIBM + iv.BLAS


class LyapunovCertificateError(CertnnError, ValueError):
    """A Lyapunov certificate is missing, unreadable or malformed."""


@dataclass
class LyapunovCheck:
    ok: bool                     # the whole region minus the ball is certified and re-derived
    accepted_leaves: int
    leaves: int
    reasons: list
    seconds: float
    assumptions: tuple = ASSUMES
    stats: dict = field(default_factory=dict)

    @property
    def evidence(self):
        return "certified" if self.ok else None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "accepted_leaves": self.accepted_leaves, "leaves": self.leaves, "reasons": self.reasons,
                "seconds": round(self.seconds, 3), "evidence": self.evidence, "assumptions": list(self.assumptions),
                **self.stats}


def check_lyapunov(path, batch: int = 8192) -> LyapunovCheck:
    t0 = time.perf_counter()
    path = Path(path)
    doc, arrays = _load(path)
    bad = lambda why: LyapunovCertificateError(f"{path}: {why}")  # noqa: E731
    graphs = {}
    for role in ("V", "controller"):
        m = doc["models"][role]
        g = load_graph(path.parent / m["path"])
        if graph_hash(g) != m["graph_hash"]:
            raise bad(f"the {role} network's graph hash differs from the certificate's")
        graphs[role] = g
    sysd = doc["system"]
    states, control = list(sysd["states"]), str(sysd["control"])
    try:
        tape = ex.compile_tape([ex.parse(e, states + [control], f"system.dynamics[{i}]")
                                for i, e in enumerate(sysd["dynamics"])])
    except ex.ExpressionError as e:
        raise bad(f"field '{e.where}': {e.why}") from None
    r = Fraction(str(doc["radius"]))
    r_lo = qiv(r)[0]
    lo, hi, kinds = _rebuild(arrays, bad)
    reasons = []
    ball = kinds == 2
    if ball.any() and not inside_open_ball(lo[ball], hi[ball], r_lo).all():
        reasons.append("a leaf marked inside the ball is not inside it")
    cert = np.flatnonzero(kinds == 1)
    good = np.zeros(cert.size, bool)
    for s in range(0, cert.size, batch):
        rows = cert[s:s + batch]
        (vl, _), (_, dh) = lie_bounds(graphs["V"], graphs["controller"], tape, states, control, lo[rows], hi[rows])
        good[s:s + batch] = (vl > 0) & (dh < 0)
    if not good.all():
        reasons.append(f"{int((~good).sum())} leaf/leaves marked certified do not re-derive "
                       f"(first: box {lo[cert[~good][0]].tolist()} .. {hi[cert[~good][0]].tolist()})")
    failed = int(np.sum(kinds == 3))
    if failed:
        reasons.append(f"{failed} leaf/leaves are not certified (the claim covers the others only)")
    return LyapunovCheck(not reasons, int(good.sum()) + int(ball.sum()), int(kinds.size), reasons,
                         time.perf_counter() - t0, stats={"certified_leaves": int(cert.size), "ball_leaves":
                                                          int(ball.sum()), "failed_leaves": failed})


def _load(path: Path):
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise LyapunovCertificateError(f"{path}: no such certificate") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LyapunovCertificateError(f"{path}: not readable JSON ({e})") from None
    import jsonschema
    schema = {"type": "object", "required": ["format", "version", "system", "radius", "models", "array_file", "arrays"],
              "properties": {"format": {"const": "certnn-lyapunov"}, "version": {"const": 1},
                             "radius": {"type": "string"},
                             "system": {"type": "object", "required": ["states", "control", "dynamics"]},
                             "models": {"type": "object", "required": ["V", "controller"]}}}
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise LyapunovCertificateError(f"{path}: field '{where}': {e.message}") from None
    try:
        with np.load(path.parent / doc["array_file"], allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (FileNotFoundError, zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise LyapunovCertificateError(f"{path}: cannot read {doc['array_file']} ({e})") from None
    for k, meta in doc["arrays"].items():
        if k not in arrays or array_digest(arrays[k]) != meta.get("sha256"):
            raise LyapunovCertificateError(f"{path}: array '{k}' is missing or does not match its SHA-256")
    return doc, arrays


def _rebuild(a, bad):
    """Leaf boxes and kinds from the split tree (root = node 0)."""
    dim, at, kids, kind = a["split_dim"], a["split_at"], a["kids"], a["kind"]
    n = dim.size
    if not (at.shape == (n,) and kids.shape == (n, 2) and kind.shape == (n,)):
        raise bad("split tree arrays have inconsistent shapes")
    lo0, hi0 = a["root_lo"].astype(np.float64), a["root_hi"].astype(np.float64)
    seen = np.zeros(n, bool)
    leaves_lo, leaves_hi, leaves_kind = [], [], []
    stack = [(0, lo0, hi0)]
    while stack:
        i, lo, hi = stack.pop()
        if not 0 <= i < n or seen[i]:
            raise bad(f"split tree: node {i} is missing or reached twice")
        seen[i] = True
        if dim[i] < 0:
            if kind[i] not in (1, 2, 3):
                raise bad(f"split tree: leaf {i} has kind {kind[i]}")
            leaves_lo.append(lo)
            leaves_hi.append(hi)
            leaves_kind.append(int(kind[i]))
            continue
        d, m = int(dim[i]), float(at[i])
        if d >= lo.size or not lo[d] <= m <= hi[d]:
            raise bad(f"split tree: node {i} splits outside its box")
        a_hi, b_lo = hi.copy(), lo.copy()
        a_hi[d], b_lo[d] = m, m
        stack += [(int(kids[i, 1]), b_lo, hi), (int(kids[i, 0]), lo, a_hi)]
    if not seen.all():
        raise bad("split tree: unreachable nodes")
    return np.array(leaves_lo), np.array(leaves_hi), np.array(leaves_kind)
