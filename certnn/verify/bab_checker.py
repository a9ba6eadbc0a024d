"""The independent checker of branch-and-bound certificates (the format is
described in :mod:`certnn.verify.bab_certificate`, which writes them).

The certificate carries the property it proves: per case an input box and an
unsafe output set (``G y + h <= 0`` rows in disjunct groups), and the SHA-256 of
the VNNLIB file it was read from. The checker requires every split tree's root
to be the property's box; rebuilds every leaf's box (input splits) or sign
pattern (ReLU splits) from the tree; proves that the leaves cover the root;
requires every leaf's spec to be the property's unsafe set; and re-derives each leaf's bound with
:mod:`certnn.verify.checker`. Given the VNNLIB file (``vnnlib=``), it also
requires the recorded property to be that file's. Its result states which
property was proved (:meth:`BabCheckResult.claim`). It imports nothing from
the producers (``certnn.bounds``, the BaB engines)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import confined, parse_json, read_text, validate_json
from ..ir.serialize import graph_hash
from ..spec import LinearSpec, Region
from .certificate import Certificate, CertificateError, load_certificate, read_arrays
from .claim import vacuous

FORMAT = "certnn-bab-certificate"
VERSION = 2          # 2: the certificate carries the property (boxes, unsafe sets, VNNLIB SHA-256)
BOX_PRINT = 8        # boxes with at most this many inputs are printed element by element


@dataclass
class BabCheckResult:
    ok: bool
    reasons: list = field(default_factory=list)     # why not, one line each
    cases: int = 0
    leaves: int = 0
    seconds: float = 0.0
    property: list = field(default_factory=list)    # per case (lo, hi, LinearSpec): what the certificate proves
    vnnlib: dict = field(default_factory=dict)      # the VNNLIB file: name and SHA-256 as recorded, and as checked
    assumptions: list = field(default_factory=list)

    def claim(self) -> str | None:
        """The proved property in words (None unless accepted)."""
        if not self.ok:
            return None
        cases = "; and ".join(case_words(lo, hi, sp) for lo, hi, sp in self.property)
        src = self.vnnlib
        if src.get("checked"):
            origin = f"the property of {src['checked']} (SHA-256 {src['checked_sha256'][:12]}…" + \
                ("" if src["checked_sha256"] == src.get("sha256") else ", not the recorded file hash") + ")"
        elif src.get("sha256"):
            origin = (f"the property recorded in the certificate (from {src.get('file')}, SHA-256 "
                      f"{src['sha256'][:12]}… as recorded, not checked: pass --property FILE to check it)")
        else:
            origin = "the property recorded in the certificate (no VNNLIB file named)"
        return (f"{origin}: {cases}; so the property is unsat; semantics real; rests on: "
                f"{', '.join(self.assumptions) or 'nothing beyond exact arithmetic'}")

    def to_dict(self) -> dict:
        from .checker import THEOREMS
        prop = [{"lo": lo.tolist(), "hi": hi.tolist(),
                 "unsafe": {"G": sp.C[0].tolist(), "h": sp.d[0].tolist(), "groups": sp.groups.tolist()},
                 "vacuous": bool(vacuous(sp)[0])} for lo, hi, sp in self.property]
        return {"ok": self.ok, "reasons": self.reasons, "cases": self.cases, "leaves": self.leaves,
                "seconds": round(self.seconds, 3), "format": FORMAT, "semantics": "real",
                "property": {"cases": prop, "vnnlib": self.vnnlib} if self.property else None,
                "claim": self.claim(), "assumptions": list(self.assumptions), "theorems": list(THEOREMS)}


def case_words(lo, hi, spec) -> str:
    """'for every real input with X_0 in [a, b], ... the output avoids (rows) or (rows)'."""
    if lo.size <= BOX_PRINT:
        box = ", ".join(f"X_{i} in [{a!r}, {b!r}]" for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist())))
    else:
        box = f"X_i in [lo_i, hi_i] for all {lo.size} inputs (listed in the --json report)"
    groups = []
    for g in range(spec.n_groups):
        rows = [_row(spec.C[0, k], spec.d[0, k]) for k in np.flatnonzero(spec.groups == g)]
        groups.append("(" + " and ".join(rows) + ")")
    note = " [vacuous: the unsafe set is empty on its face]" if vacuous(spec)[0] else ""
    return f"for every real input with {box}, the output y avoids the unsafe set {' or '.join(groups)}{note}"


def _row(c, h) -> str:
    """'Y_0 - Y_1 + 0.5 <= 0' for the row c . y + h <= 0 (numbers as exact decimals)."""
    terms = [(v < 0, ("" if abs(v) == 1 else f"{abs(v)!r}*") + f"Y_{j}") for j, v in enumerate(c.tolist()) if v]
    if h != 0 or not terms:
        terms.append((h < 0, repr(abs(float(h)))))
    text = "".join(f"{' - ' if neg else ' + '}{t}" for neg, t in terms)
    return ("-" + text[3:] if text.startswith(" - ") else text[3:]) + " <= 0"


CHUNK = 64           # leaves re-derived together (root-bounds parts)


def _sparse_entry(key):
    """A part's per-leaf array at some neurons of one node."""
    return {"type": "object", "required": [key, "values", "index"],
            "properties": {key: {"type": "string"}, "values": {"type": "string"}, "index": {"type": "string"}}}


#: The tree document, validated once on loading (tree entries are checked by the rebuild).
SCHEMA = {
    "type": "object",
    "required": ["graph_hash", "cases", "semantics"],
    "properties": {
        "graph_hash": {"type": "string"},
        "model": {"type": ["string", "null"]},
        "semantics": {"const": "real"},
        "cases": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["root_lo", "root_hi"],
            "properties": {"kind": {"enum": ["input", "relu"]},
                           "intermediate": {"enum": ["leaf", "root"]},
                           "root_lo": {"type": "array", "items": {"type": "number"}},
                           "root_hi": {"type": "array", "items": {"type": "number"}},
                           "split_nodes": {"type": "array", "items": {"type": "string"}},
                           "tree": {"type": "array"},
                           "leaves": {"type": "string"},
                           "arrays": {"type": "string"},
                           "manifest": {"type": "object", "additionalProperties": {
                               "type": "object", "required": ["dtype", "shape", "sha256"],
                               "properties": {"dtype": {"type": "string"}, "sha256": {"type": "string"},
                                              "shape": {"type": "array",
                                                        "items": {"type": "integer", "minimum": 0}}}}},
                           "root_alphas": {"type": "array", "items": {
                               "type": "object", "required": ["target", "relu", "side", "rows", "index", "values"],
                               "properties": {"target": {"type": "string"}, "relu": {"type": "string"},
                                              "side": {"enum": ["lower", "upper"]}, "rows": {"type": "string"},
                                              "index": {"type": "string"}, "values": {"type": "string"}}}},
                           "parts": {"type": "array", "minItems": 1, "items": {
                               "type": "object", "required": ["group", "rows", "G", "h", "tree", "alphas",
                                                              "betas"],
                               "properties": {"group": {"type": "integer", "minimum": 0},
                                              "rows": {"type": "integer", "minimum": 1},
                                              "G": {"type": "string"}, "h": {"type": "string"},
                                              "tree": {"type": "array"},
                                              "alphas": {"type": "array", "items": _sparse_entry("relu")},
                                              "betas": {"type": "array", "items": _sparse_entry("node")}}}}},
            "allOf": [
                {"if": {"properties": {"kind": {"const": "relu"}}, "required": ["kind"]},
                 "then": {"required": ["split_nodes"]}},
                {"if": {"properties": {"intermediate": {"const": "root"}}, "required": ["intermediate"]},
                 "then": {"required": ["kind", "parts", "arrays", "manifest"],
                          "properties": {"kind": {"const": "relu"}}},
                 "else": {"required": ["tree", "leaves"]}}]}},
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
        old = " (version 1 did not record the property it proves; re-run `certnn vnncomp run ... --cert`)" \
            if doc.get("version") == 1 else ""
        _bad(path, f"BaB certificate version {doc.get('version')!r} is not supported (this certnn reads "
                   f"{VERSION}){old}")
    validate_json(doc, SCHEMA, path, "BaB certificate", CertificateError)
    for k in ("graph_hash", "cases", "semantics", "property"):
        if k not in doc:
            _bad(path, f"missing field {k!r}")
    if doc["semantics"] != "real" or not isinstance(doc["cases"], list) or not doc["cases"]:
        _bad(path, "semantics must be 'real' and 'cases' a non-empty list")
    prop = doc["property"]
    if not (isinstance(prop, dict) and isinstance(prop.get("cases"), list)
            and len(prop["cases"]) == len(doc["cases"])):
        _bad(path, "'property' must hold one entry in 'cases' per proof case")
    for k in ("vnnlib", "vnnlib_sha256"):
        if not isinstance(prop.get(k), (str, type(None))):
            _bad(path, f"property.{k} must be a string or null, got {prop.get(k)!r}")
    if not isinstance(doc.get("model"), (str, type(None))):
        _bad(path, f"'model' must be a path (a string) or null, got {doc.get('model')!r}")
    return doc


def _property(doc, path) -> list:
    """Per case (lo, hi, LinearSpec of one example), validated."""
    out = []
    for k, c in enumerate(doc["property"]["cases"]):
        try:
            lo, hi = np.asarray(c["lo"], np.float64), np.asarray(c["hi"], np.float64)
            u = c["unsafe"]
            spec = LinearSpec(np.asarray(u["G"], np.float64)[None], np.asarray(u["h"], np.float64)[None],
                              np.asarray(u["groups"], np.int64), "unsafe-set")
        except (KeyError, TypeError, ValueError, OverflowError, CertnnError) as e:
            _bad(path, f"property case {k}: malformed ({type(e).__name__}: {e})")
        if lo.ndim != 1 or lo.shape != hi.shape or not (np.isfinite(lo).all() and np.isfinite(hi).all()) \
                or np.any(lo > hi):
            _bad(path, f"property case {k}: the box must be two equal-length lists of finite numbers, lo <= hi")
        out.append((lo, hi, spec))
    return out


def _differs(recorded, expected) -> str | None:
    """Why the recorded property is not the expected [(Region, LinearSpec)], or None."""
    if len(recorded) != len(expected):
        return f"property: the certificate proves {len(recorded)} case(s), the expected property has {len(expected)}"
    for k, ((lo, hi, sp), (reg, esp)) in enumerate(zip(recorded, expected)):
        if not (np.array_equal(reg.lo.reshape(-1), lo) and np.array_equal(reg.hi.reshape(-1), hi)):
            return f"property: case {k}: the certificate's input box is not the expected property's"
        if not (np.array_equal(sp.C, esp.C) and np.array_equal(sp.d, esp.d)
                and np.array_equal(sp.groups, esp.groups)):
            return f"property: case {k}: the certificate's unsafe set is not the expected property's"
    return None


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
            whole = isinstance(val, int) and not isinstance(val, bool) or isinstance(val, float) and val.is_integer()
            if not (whole and 0 <= val < n_rows):
                raise ValueError(f"tree entry {pos - 1}: leaf row {val!r} is not a row of the leaf certificate")
            row = int(val)
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
    out = []
    for path in _relu_paths(tree, widths, n_rows):
        signs = [np.zeros(w, np.int8) for w in widths]
        for layer, val, sign in path:
            signs[layer][val] = sign
        out.append(signs)
    return out


def _relu_paths(tree, widths, n_rows):
    """Per leaf row, its path from the root: a tuple of (layer, neuron, sign) splits;
    raises ValueError on any defect (a neuron split twice on one path included)."""
    rows = [None] * n_rows
    stack = [()]
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
        if any(q[0] == layer and q[1] == val for q in signs):
            raise ValueError(f"tree entry {pos - 1}: neuron {val} of layer {layer} is split twice on one path")
        stack += [signs + ((layer, val, -1),), signs + ((layer, val, 1),)]   # z >= 0 child is next in preorder
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


def check_bab_certificate(path, graph=None, expected_cases=None, vnnlib=None, progress=None) -> BabCheckResult:
    """Check a BaB certificate against ``graph`` (default: the model it names, loaded
    as ``certnn vnncomp`` loads it). The property it proves is the one it records;
    with ``expected_cases`` [(Region, LinearSpec)] or a ``vnnlib`` file, that
    property must equal the given one. Malformed files raise CertificateError.
    ``progress(done, total)``: called as the leaves of group-by-group cases are
    re-derived (their checks take minutes on large trees)."""
    from .checker import check_certificate
    t0 = time.perf_counter()
    path = Path(path)
    doc = load_bab_document(path)
    if graph is None:
        if not doc.get("model"):
            _bad(path, "the certificate names no model; pass the model (--model)")
        from ..interop.models import load_model
        graph = load_model((path.parent / doc["model"]).resolve())
    prop = _property(doc, path)
    recorded = doc["property"]
    src = {"file": recorded.get("vnnlib"), "sha256": recorded.get("vnnlib_sha256")}
    if vnnlib is not None:
        expected_cases, src["checked"], src["checked_sha256"] = _read_property(vnnlib, graph)
    n_cases = len(doc["cases"])

    def result(reasons, leaves=0, assumptions=()):
        return BabCheckResult(not reasons, reasons, n_cases, leaves, time.perf_counter() - t0, prop, src,
                              sorted(set(assumptions)))

    if graph_hash(graph) != doc["graph_hash"]:
        return result(["graph: the certificate is for another model"])
    if expected_cases is not None:
        why = _differs(prop, expected_cases)
        if why:
            return result([why + (f" ({src['checked']})" if src.get("checked") else "")])
    shape = tuple(graph.inputs[0].shape[1:])
    reasons, assumptions, leaves = [], set(), 0
    for k, (case, (box_lo, box_hi, case_spec)) in enumerate(zip(doc["cases"], prop)):
        if box_lo.size != int(np.prod(shape)):
            reasons.append(f"case {k}: the property's box has {box_lo.size} inputs, the model input {shape}")
            continue
        try:
            root_lo = np.asarray(case["root_lo"], np.float64).reshape(-1)
            root_hi = np.asarray(case["root_hi"], np.float64).reshape(-1)
            if case.get("intermediate") != "root":
                leaf = load_certificate(confined(path.parent, case["leaves"], f"cases[{k}].leaves", path,
                                                 CertificateError))
                tree = case["tree"]
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CertificateError):
                raise
            _bad(path, f"case {k}: malformed ({type(e).__name__}: {e})")
        if not (np.array_equal(root_lo, box_lo) and np.array_equal(root_hi, box_hi)):
            reasons.append(f"case {k}: the split tree's root box is not the property's input box")
            continue
        if case.get("intermediate") == "root":
            why, n_leaves, used = _check_parts(path, k, case, graph, doc["graph_hash"], box_lo, box_hi, case_spec,
                                               progress)
            assumptions.update(used)
            if why:
                reasons.append(f"case {k}: {why}")
            leaves += n_leaves
            continue
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
        spec = LinearSpec(np.repeat(case_spec.C, m, 0), np.repeat(case_spec.d, m, 0), case_spec.groups,
                          case_spec.kind)
        if leaf.semantics != "real":
            reasons.append(f"case {k}: the leaf certificate is about {leaf.semantics} semantics, expected real")
            continue
        res = check_certificate(leaf, graph, Region(lo, hi, "box"), spec, expected_splits=expected_splits)
        assumptions.update(res.assumptions)
        if not (res.ok and bool(np.all(res.claimed)) and bool(np.all(res.accepted))):
            bad = [i for i in range(m) if not res.accepted[i]]
            reasons.append(f"case {k}: {len(bad)} of {m} leaves not re-derived (first: leaf {bad[0]}: "
                           f"{res.reasons[bad[0]]})" if bad else f"case {k}: leaves not re-derived")
            continue
        leaves += m
    return result(reasons, leaves, assumptions)


def _check_parts(path, k, case, graph, ghash, box_lo, box_hi, case_spec, progress=None):
    """(first reason or None, leaves re-derived, assumptions) of a case proved group
    by group on the root's intermediate bounds (module docstring of
    :mod:`certnn.verify.bab_certificate`). Malformed arrays raise CertificateError."""
    from ..ir.passes import unfuse
    from .checker import check_certificate, root_intermediate
    nodes = {n.id: n for n in unfuse(graph).nodes}
    relu_of = {n.inputs[0]: n.id for n in nodes.values() if n.op == "relu"}
    names = [str(z) for z in case["split_nodes"]]
    if len(set(names)) != len(names) or not all(z in relu_of for z in names):
        return "split_nodes must name distinct relu inputs of the model", 0, ()
    arrays = read_arrays(path, case["arrays"], f"cases[{k}].arrays", case["manifest"],
                         lambda msg: _bad(path, f"case {k}: {msg}"))
    shape = tuple(graph.inputs[0].shape[1:])
    box = Region.box(box_lo.reshape((1,) + shape), box_hi.reshape((1,) + shape))
    # the root's intermediate bounds: CROWN over the box, no splits, with the
    # certificate's alpha-CROWN slopes where it has some
    root_cert = Certificate(ghash, box, LinearSpec(case_spec.C, case_spec.d, case_spec.groups, case_spec.kind))
    try:
        slopes = _root_slopes(arrays, case.get("root_alphas", []))
        root = root_intermediate(root_cert, graph, slopes)
    except (ValueError, CertificateError) as e:
        return f"root slopes: {e}", 0, ()
    shapes = {z: tuple(nodes[z].shape[1:]) for z in names}
    sizes = [int(np.prod(shapes[z])) for z in names]
    covered, leaves, used = set(), 0, set()
    total = sum(p["rows"] for p in case["parts"])
    for j, part in enumerate(case["parts"]):
        g, m = part["group"], part["rows"]
        if m > len(part["tree"]):           # each leaf is a tree entry: no rebuild of a claimed billion rows
            return f"part {j}: {m} leaves claimed, its tree has {len(part['tree'])} entries", leaves, used
        if g >= case_spec.n_groups:
            return f"part {j}: group {g} is not a group of the property (it has {case_spec.n_groups})", leaves, used
        rows = np.flatnonzero(case_spec.groups == g)
        spec = LinearSpec(case_spec.C[:, rows], case_spec.d[:, rows], np.zeros(rows.size, np.int64), case_spec.kind)
        G, h = arrays.get(part["G"]), arrays.get(part["h"])
        if G is None or h is None or not (np.array_equal(G, spec.C[0]) and np.array_equal(h, spec.d[0])):
            return f"part {j}: its rows are not group {g} of the property's unsafe set", leaves, used
        try:
            paths = _relu_paths(part["tree"], sizes, m)
            alphas = {("spec", str(e["relu"]), "lower"):
                      _sparse(arrays, e, m, rows.size, nodes, relu_of, "relu") for e in part["alphas"]}
            betas = {e["node"]: _sparse(arrays, e, m, rows.size, nodes, relu_of, "node") for e in part["betas"]}
        except ValueError as e:
            return f"part {j}: {e}", leaves, used
        for s0 in range(0, m, CHUNK):
            sl = slice(s0, min(m, s0 + CHUNK))
            c = sl.stop - sl.start
            splits = {z: np.zeros((c, sizes[i]), np.int8) for i, z in enumerate(names)}
            for r, steps in enumerate(paths[sl]):
                for layer, val, sign in steps:
                    splits[names[layer]][r, val] = sign
            splits = {z: a.reshape((c,) + shapes[z]) for z, a in splits.items()}
            region = Region.box(np.repeat(box.lo, c, 0), np.repeat(box.hi, c, 0))
            cspec = LinearSpec(np.repeat(spec.C, c, 0), np.repeat(spec.d, c, 0), spec.groups, spec.kind)
            cert = Certificate(ghash, region, cspec, "real", "beta-crown (graph relu split leaves, root bounds)",
                               alphas={key: a(sl) for key, a in alphas.items()}, claimed=np.ones(c, bool),
                               splits=splits, betas={z: b(sl) for z, b in betas.items()})
            res = check_certificate(cert, graph, region, cspec, expected_splits=splits, root_bounds=root)
            used.update(res.assumptions)
            if not (res.ok and bool(np.all(res.accepted))):
                bad = int(np.flatnonzero(~np.asarray(res.accepted))[0])
                return (f"part {j} (group {g}): leaf {sl.start + bad} of {m} not re-derived: {res.reasons[bad]}",
                        leaves, used)
            if progress is not None:
                progress(leaves + sl.stop, total)
        leaves += m
        covered.add(g)
    missing = sorted(set(range(case_spec.n_groups)) - covered)
    if missing:
        return f"group {missing[0]} of the property is proved by no part", leaves, used
    return None, leaves, used


def _root_slopes(arrays, entries) -> dict:
    """{(target, relu, side): (rows, index, values)} of the case's ``root_alphas``
    (validated against the graph by :func:`certnn.verify.checker.root_intermediate`).
    Raises ValueError for a missing array or a repeated entry."""
    out = {}
    for e in entries:
        key = (str(e["target"]), str(e["relu"]), e["side"])
        if key in out:
            raise ValueError(f"'{key[1]}' on '{key[0]}' ({key[2]}) is given twice")
        if any(e[k] not in arrays for k in ("rows", "index", "values")):
            raise ValueError(f"'{key[1]}' on '{key[0]}': array not in the manifest")
        out[key] = (arrays[e["rows"]], arrays[e["index"]], arrays[e["values"]])
    return out


def _sparse(arrays, e, m, K, nodes, relu_of, key):
    """A part's per-leaf array as rows -> dense (rows, K, *shape), zero elsewhere."""
    nid = str(e[key])
    z = nodes[nid].inputs[0] if key == "relu" and nid in nodes and nodes[nid].op == "relu" else nid
    if z not in relu_of or (key == "relu" and relu_of[z] != nid):
        raise ValueError(f"{'alphas' if key == 'relu' else 'betas'}: '{nid}' is not a "
                         f"{'relu' if key == 'relu' else 'relu input'} of the model")
    shape = tuple(nodes[z].shape[1:])
    size = int(np.prod(shape))
    if e["values"] not in arrays or e["index"] not in arrays:
        raise ValueError(f"'{nid}': array not in the manifest")
    vals, idx = arrays[e["values"]], arrays[e["index"]]
    if idx.dtype.kind not in "iu" or idx.ndim != 1 or np.unique(idx).size != idx.size or \
            (idx.size and (idx.min() < 0 or idx.max() >= size)):
        raise ValueError(f"'{nid}': the index is not distinct neurons of the node")
    if vals.dtype.kind != "f" or vals.shape != (m, K, idx.size) or not np.isfinite(vals).all():
        raise ValueError(f"'{nid}': values of shape {vals.shape}, expected ({m}, {K}, {idx.size}) finite floats")

    def rows(sl):
        out = np.zeros((sl.stop - sl.start, K, size))
        out[:, :, idx] = vals[sl]
        return out.reshape((sl.stop - sl.start, K) + shape)
    return rows


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_property(vnnlib, graph):
    """([(Region, LinearSpec)], name, SHA-256) of a VNNLIB file for ``graph``."""
    from ..interop.vnnlib import check_against, load_vnnlib
    prop = load_vnnlib(vnnlib)
    check_against(prop, graph)
    shape = tuple(graph.inputs[0].shape[1:])
    return [(box.region(shape), spec) for box, spec in prop.cases], str(vnnlib), file_sha256(vnnlib)
