"""The independent checker of branch-and-bound certificates (the format is
described in :mod:`certnn.verify.bab_certificate`, which writes them).

It rebuilds every leaf's box (input splits) or sign pattern (ReLU splits) from
the split tree, proves that the leaves cover the root, and re-derives each
leaf's bound with :mod:`certnn.verify.checker`. It imports nothing from the
producers (``certnn.bounds``, the BaB engines)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import confined, parse_json, read_text, validate_json
from ..ir.serialize import graph_hash
from ..spec import LinearSpec, Region
from .certificate import CertificateError, load_certificate

FORMAT = "certnn-bab-certificate"
VERSION = 1


@dataclass
class BabCheckResult:
    ok: bool
    reasons: list = field(default_factory=list)     # why not, one line each
    cases: int = 0
    leaves: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"ok": self.ok, "reasons": self.reasons, "cases": self.cases, "leaves": self.leaves,
                "seconds": round(self.seconds, 3), "format": FORMAT}


#: The tree document, validated once on loading (tree entries are checked by the rebuild).
SCHEMA = {
    "type": "object",
    "required": ["graph_hash", "cases", "semantics"],
    "properties": {
        "graph_hash": {"type": "string"},
        "model": {"type": ["string", "null"]},
        "semantics": {"const": "real"},
        "cases": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["root_lo", "root_hi", "tree", "leaves"],
            "properties": {"kind": {"enum": ["input", "relu"]},
                           "root_lo": {"type": "array", "items": {"type": "number"}},
                           "root_hi": {"type": "array", "items": {"type": "number"}},
                           "split_nodes": {"type": "array", "items": {"type": "string"}},
                           "tree": {"type": "array"},
                           "leaves": {"type": "string"}},
            "if": {"properties": {"kind": {"const": "relu"}}, "required": ["kind"]},
            "then": {"required": ["split_nodes"]}}},
    },
}


def is_bab_certificate(path) -> bool:
    try:
        doc = parse_json(read_text(path, "certificate", CertificateError), path, "certificate", CertificateError)
    except CertificateError:
        return False        # the certificate loader says what is wrong with the file
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _bad(path, msg):
    raise CertificateError(f"{path}: {msg}")


def load_bab_document(path) -> dict:
    path = Path(path)
    doc = parse_json(read_text(path, "certificate", CertificateError), path, "certificate", CertificateError)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        _bad(path, f"not a BaB certificate (format {doc.get('format') if isinstance(doc, dict) else None!r})")
    if doc.get("version") != VERSION:
        _bad(path, f"BaB certificate version {doc.get('version')!r} is not supported (this certnn reads {VERSION})")
    validate_json(doc, SCHEMA, path, "BaB certificate", CertificateError)
    return doc


def _rebuild(tree, root_lo, root_hi, n_rows):
    """Leaf boxes (lo, hi) by row, from the preorder tree; raises ValueError on any defect."""
    boxes = [None] * n_rows
    stack = [(root_lo, root_hi)]
    pos = 0
    while stack:
        if pos >= len(tree):
            raise ValueError("the tree ends before every box is covered")
        lo, hi = stack.pop()
        e = tree[pos]
        pos += 1
        if not (isinstance(e, list) and len(e) == 2):
            raise ValueError(f"tree entry {pos - 1} is not a pair")
        dim, val = e
        if dim == -1:
            row = int(val)
            if val != row or not 0 <= row < n_rows:
                raise ValueError(f"tree entry {pos - 1}: leaf row {val!r} is not a row of the leaf certificate")
            if boxes[row] is not None:
                raise ValueError(f"leaf row {row} is used twice")
            boxes[row] = (lo, hi)
            continue
        if not (isinstance(dim, int) and 0 <= dim < lo.size) or not isinstance(val, (int, float)):
            raise ValueError(f"tree entry {pos - 1}: bad split {e!r}")
        val = float(val)
        if not lo[dim] <= val <= hi[dim]:
            raise ValueError(f"tree entry {pos - 1}: split value {val!r} lies outside "
                             f"[{float(lo[dim])!r}, {float(hi[dim])!r}]")
        lo_b, hi_a = lo.copy(), hi.copy()
        hi_a[dim] = val
        lo_b[dim] = val
        stack += [(lo_b, hi), (lo, hi_a)]        # low child is next in preorder
    if pos != len(tree):
        raise ValueError(f"the tree has {len(tree) - pos} entries after the last box")
    missing = [i for i, b in enumerate(boxes) if b is None]
    if missing:
        raise ValueError(f"leaf rows {missing[:5]} are not reached by the tree")
    return boxes


def _rebuild_relu(tree, widths, n_rows):
    """Per leaf row, per split layer, the (n_j,) int8 signs the tree gives it; raises
    ValueError on any defect (a neuron split twice on one path included)."""
    rows = [None] * n_rows
    stack = [[np.zeros(w, np.int8) for w in widths]]
    pos = 0
    while stack:
        if pos >= len(tree):
            raise ValueError("the tree ends before every sub-problem is covered")
        signs = stack.pop()
        e = tree[pos]
        pos += 1
        if not (isinstance(e, list) and len(e) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                            for v in e)):
            raise ValueError(f"tree entry {pos - 1} is not a pair of integers")
        layer, val = e
        if layer == -1:
            if not 0 <= val < n_rows:
                raise ValueError(f"tree entry {pos - 1}: leaf row {val!r} is not a row of the leaf certificate")
            if rows[val] is not None:
                raise ValueError(f"leaf row {val} is used twice")
            rows[val] = signs
            continue
        if not (0 <= layer < len(widths) and 0 <= val < widths[layer]):
            raise ValueError(f"tree entry {pos - 1}: bad split {e!r}")
        if signs[layer][val] != 0:
            raise ValueError(f"tree entry {pos - 1}: neuron {val} of layer {layer} is split twice on one path")
        plus, minus = [a.copy() for a in signs], [a.copy() for a in signs]
        plus[layer][val], minus[layer][val] = 1, -1
        stack += [minus, plus]           # z >= 0 child is next in preorder
    if pos != len(tree):
        raise ValueError(f"the tree has {len(tree) - pos} entries after the last sub-problem")
    missing = [i for i, r in enumerate(rows) if r is None]
    if missing:
        raise ValueError(f"leaf rows {missing[:5]} are not reached by the tree")
    return rows


def _relu_expected(case, graph, n_rows):
    """{relu input id: (n_rows, *shape) signs} rebuilt from the case's tree."""
    from ..ir.passes import unfuse
    nodes = {n.id: n for n in unfuse(graph).nodes}
    names = case["split_nodes"]
    if not (isinstance(names, list) and len(set(map(str, names))) == len(names)
            and all(str(nm) in nodes for nm in names)):
        raise ValueError("split_nodes must name distinct nodes of the model")
    shapes = [tuple(nodes[str(nm)].shape[1:]) for nm in names]
    rows = _rebuild_relu(case["tree"], [int(np.prod(s)) for s in shapes], n_rows)
    return {str(nm): np.stack([r[j] for r in rows]).reshape((n_rows,) + sh)
            for j, (nm, sh) in enumerate(zip(names, shapes))}


def check_bab_certificate(path, graph=None, expected_cases=None) -> BabCheckResult:
    """Check a BaB certificate against ``graph`` (default: the model it names, loaded
    as ``certnn vnncomp`` loads it) and, when given, the property cases
    [(Region, LinearSpec)] it must be about. Malformed files raise CertificateError."""
    from .checker import check_certificate
    t0 = time.perf_counter()
    path = Path(path)
    doc = load_bab_document(path)
    if graph is None:
        if not doc.get("model"):
            _bad(path, "the certificate names no model; pass the model (--model)")
        from ..interop.models import load_model
        graph = load_model((path.parent / doc["model"]).resolve())
    reasons = []
    if graph_hash(graph) != doc["graph_hash"]:
        return BabCheckResult(False, ["graph: the certificate is for another model"], len(doc["cases"]), 0,
                              time.perf_counter() - t0)
    if expected_cases is not None and len(expected_cases) != len(doc["cases"]):
        return BabCheckResult(False, [f"cases: the certificate has {len(doc['cases'])}, the property "
                                      f"{len(expected_cases)}"], len(doc["cases"]), 0, time.perf_counter() - t0)
    shape = tuple(graph.inputs[0].shape[1:])
    leaves = 0
    for k, case in enumerate(doc["cases"]):
        try:
            root_lo = np.asarray(case["root_lo"], np.float64).reshape(-1)
            root_hi = np.asarray(case["root_hi"], np.float64).reshape(-1)
            leaf = load_certificate(confined(path.parent, case["leaves"], f"cases[{k}].leaves", path,
                                             CertificateError))
            tree = case["tree"]
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CertificateError):
                raise
            _bad(path, f"case {k}: malformed ({type(e).__name__}: {e})")
        if root_lo.size != int(np.prod(shape)) or root_hi.shape != root_lo.shape:
            reasons.append(f"case {k}: the root box has {root_lo.size} elements, the model input {shape}")
            continue
        if expected_cases is not None:
            reg, sp = expected_cases[k]
            if not (np.array_equal(reg.lo.reshape(-1), root_lo) and np.array_equal(reg.hi.reshape(-1), root_hi)):
                reasons.append(f"case {k}: the root box is not the property's input box")
                continue
            exp_spec = sp
        else:
            exp_spec = leaf.spec.rows(slice(0, 1))
        m = leaf.n
        expected_splits = None
        try:
            if case.get("kind", "input") == "relu":
                expected_splits = _relu_expected(case, graph, m)
                boxes = [(root_lo, root_hi)] * m
            elif case.get("kind", "input") == "input":
                boxes = _rebuild(tree, root_lo, root_hi, m)
            else:
                raise ValueError(f"unknown case kind {case.get('kind')!r}")
        except (ValueError, TypeError, KeyError) as e:
            reasons.append(f"case {k}: coverage: {e}")
            continue
        if m == 0:
            reasons.append(f"case {k}: the leaf certificate has no rows")
            continue
        lo = np.stack([b[0] for b in boxes]).reshape((m,) + shape)
        hi = np.stack([b[1] for b in boxes]).reshape((m,) + shape)
        spec = LinearSpec(np.repeat(exp_spec.C[:1], m, 0), np.repeat(exp_spec.d[:1], m, 0), exp_spec.groups,
                          exp_spec.kind)
        if leaf.semantics != "real":
            reasons.append(f"case {k}: the leaf certificate is about {leaf.semantics} semantics, expected real")
            continue
        res = check_certificate(leaf, graph, Region(lo, hi, "box"), spec, expected_splits=expected_splits)
        if not (res.ok and bool(np.all(res.claimed)) and bool(np.all(res.accepted))):
            bad = [i for i in range(m) if not res.accepted[i]]
            reasons.append(f"case {k}: {len(bad)} of {m} leaves not re-derived (first: leaf {bad[0]}: "
                           f"{res.reasons[bad[0]]})" if bad else f"case {k}: leaves not re-derived")
            continue
        leaves += m
    return BabCheckResult(not reasons, reasons, len(doc["cases"]), leaves, time.perf_counter() - t0)
