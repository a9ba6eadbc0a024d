"""Certificates of input-split branch and bound: the split tree plus its leaves.

A BaB certificate (format ``certnn-bab-certificate``, version 2) is a JSON file
naming the model (an ONNX file, relative to the certificate) and its
``graph_hash``, the property it proves, and one proof per property case.

``property``: ``vnnlib`` (the file's name, informational), ``vnnlib_sha256``
(the SHA-256 of its bytes), and ``cases``, per case the input box ``lo``/``hi``
(flat, float64, exact decimal round trip) and the unsafe set ``unsafe``:
rows ``G`` (K, outputs), offsets ``h`` (K,) and ``groups`` (K,), meaning
"some group has G_k y + h_k <= 0 for all its rows". The property holds (the
VNN-COMP answer is unsat) when no input in a box has an output in its unsafe
set.

``cases`` (one per property case):

* ``root_lo`` / ``root_hi``: the split tree's root box, which must be the
  property case's box;
* ``tree``: the split tree in preorder, one entry per node: ``[dim, value]`` for
  a split, whose children are, in this order, the box with ``hi[dim] = value``
  and the box with ``lo[dim] = value``; ``[-1, row]`` for a leaf, the row of
  the leaf certificate that covers it;
* ``leaves``: a standard certnn certificate (:mod:`certnn.verify.certificate`)
  whose region rows are the leaf boxes and whose spec rows all equal the case's
  unsafe set.

The checker (:func:`check_bab_certificate`) trusts none of it: it requires the
root to be the property's box, rebuilds every box from it by the split rule (so the leaves cover it exactly:
each split's two children together are its parent, ``lo <= value <= hi``), requires each
leaf row to be used exactly once and to equal the rebuilt box bit for bit, and
runs the independent checker (:func:`certnn.verify.checker.check_certificate`)
on the leaf certificate with those boxes and the property's unsafe set as the
expected region and spec. The claim is accepted only if every leaf is re-derived.

ReLU-split proofs (a case with ``"kind": "relu"``) keep the property's box for
every leaf and split on pre-activation neurons instead: ``split_nodes`` names the
split relu inputs, a split entry ``[layer, neuron]`` (layer indexes
``split_nodes``) has the children z >= 0 then z <= 0, and a leaf ``[-1, row]``
is a row of the leaf certificate, which carries per row the sign constraints
(``splits``) and split multipliers (``betas``). The checker rebuilds every
leaf's constraints from the tree (every point satisfies z >= 0 or z <= 0, so the
leaves cover the box), requires the leaf certificate's constraints to equal
them, and re-derives each leaf under its constraints (docs/certificates.md).

A ReLU-split case with ``"intermediate": "root"`` carries ``parts`` instead of
one tree: one per spec group (``group``, whose rows ``G``/``h`` it repeats and
must equal the property's), each a split tree over the shared ``split_nodes``
whose leaves prove that group's rows alone (the unsafe set is the union of its
groups, so proving each group on its own proves the case).
Every leaf's intermediate bounds are the root box's, which the checker
re-derives once by CROWN, clipped by the leaf's signs; so a leaf carries
only its spec slopes and split multipliers, at the neurons listed in an index
array (``values`` (leaves, rows, len(index)); every other neuron's slope is 0,
its multiplier 0, both sound), in the case's array file (``arrays``, an .npz
with a SHA-256 per array in ``manifest``). The root's own alpha-CROWN slopes
are ``root_alphas``, entries ``target`` (a relu input), ``relu`` (a relu before
it), ``side`` (``lower`` or ``upper``: which bound of the target's neurons),
``rows`` (the target's flat neurons), ``index`` (the relu's flat neurons) and
``values`` (len(rows), len(index)) in [0, 1]; every other root slope is
CROWN's default (the producer records only the rows where alpha-CROWN beat
CROWN, at the neurons unstable at the root, where a slope matters).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..spec import LinearSpec, Region
from ..errors import CertnnError
from ..io import atomic_write, max_bytes, write_npz
from ..ir.serialize import graph_hash
from .certificate import array_manifest, make_certificate, save_certificate

from .bab_checker import FORMAT, VERSION, check_bab_certificate, file_sha256


def _preorder(tree) -> list:
    """The SplitTree as preorder entries (iterative: trees can be deep)."""
    out, stack = [], [0]
    while stack:
        node = stack.pop()
        if node in tree.leaves:
            out.append([-1, int(tree.leaves[node])])
        elif node in tree.split:
            d, v = tree.split[node]
            out.append([int(d), float(v)])
            a, b = tree.kids[node]
            stack += [b, a]            # low child first
        else:
            raise CertnnError(f"split tree node {node} is neither a leaf nor split (an unfinished proof)")
    return out


def _preorder_relu(proof) -> list:
    out, stack = [], [0]
    while stack:
        node = stack.pop()
        if node in proof.leaves:
            out.append([-1, int(proof.leaves[node])])
        elif node in proof.split:
            layer, idx = proof.split[node]
            out.append([int(layer), int(idx)])
            plus, minus = proof.kids[node]
            stack += [minus, plus]     # the z >= 0 child first
        else:
            raise CertnnError(f"ReLU split tree node {node} is neither a leaf nor split (an unfinished proof)")
    return out


def _relu_case(path, k, graph, region_spec, proof):
    """The case entry and leaf certificate of a ReLU-split proof."""
    from ..bounds.result import Bounds
    from ..ir.passes import unfuse
    from .bab_mlp import extract_chain
    region, spec = region_spec
    entries = _preorder_relu(proof)
    mlp = extract_chain(graph)
    relu_of = {n.inputs[0]: n.id for n in unfuse(graph).nodes if n.op == "relu"}
    m = len(proof.rows)
    shape = tuple(graph.inputs[0].shape[1:])
    root_lo, root_hi = region.lo.reshape(-1).astype(np.float64), region.hi.reshape(-1).astype(np.float64)
    reg = Region.box(np.repeat(root_lo.reshape((1,) + shape), m, 0), np.repeat(root_hi.reshape((1,) + shape), m, 0))
    sp = LinearSpec(np.repeat(spec.C[:1], m, 0), np.repeat(spec.d[:1], m, 0), spec.groups, spec.kind)
    stack = lambda key, j: np.stack([r[key][j] for r in proof.rows])  # noqa: E731
    inter = {r: (stack("lower", j), stack("upper", j)) for j, r in enumerate(mlp.relu_inputs)}
    alphas = {("spec", relu_of[r], "lower"): stack("alphas", j) for j, r in enumerate(mlp.relu_inputs)}
    for (j, i), a in proof.inter_alphas.items():      # intermediate slopes shared by all leaves
        alphas[(mlp.relu_inputs[j], relu_of[mlp.relu_inputs[i]], "both")] = np.asarray(a, np.float64)
    cert = make_certificate(graph, reg, sp, Bounds(None, None, "beta-crown (relu split leaves)", graph,
                                                   intermediate=inter, alphas=alphas))
    cert.claimed = np.ones(m, bool)      # infeasible leaves too: the checker decides them itself
    cert.splits = {r: stack("splits", j).astype(np.int8) for j, r in enumerate(mlp.relu_inputs)}
    cert.betas = {r: stack("betas", j) for j, r in enumerate(mlp.relu_inputs)}
    leaf_path = path.with_name(f"{path.stem}.case{k}.leaves.json")
    save_certificate(cert, leaf_path)
    return {"kind": "relu", "root_lo": root_lo.tolist(), "root_hi": root_hi.tolist(),
            "split_nodes": list(mlp.relu_inputs), "tree": entries, "leaves": leaf_path.name}


def _relu_graph_case(path, k, graph, region_spec, proof):
    """The case entry and leaf certificate of a graph ReLU-split proof
    (:mod:`certnn.verify.bab_graph`): per leaf its own intermediate bounds (CROWN
    under its constraints, which the checker re-derives), spec slopes and multipliers."""
    from ..bounds.result import Bounds
    region, spec = region_spec
    entries = _preorder_relu(proof)
    m = len(proof.rows)
    shape = tuple(graph.inputs[0].shape[1:])
    reg = Region.box(np.broadcast_to(region.lo[:1], (m,) + shape).copy(),
                     np.broadcast_to(region.hi[:1], (m,) + shape).copy())
    sp = LinearSpec(np.repeat(spec.C[:1], m, 0), np.repeat(spec.d[:1], m, 0), spec.groups, spec.kind)
    rows = proof.rows
    inter = {nid: (np.stack([r["inter"][nid][0] for r in rows]), np.stack([r["inter"][nid][1] for r in rows]))
             for nid in rows[0]["inter"]}
    alphas = {("spec", r, "lower"): np.stack([row["alphas"][r] for row in rows]) for r in rows[0]["alphas"]}
    cert = make_certificate(graph, reg, sp, Bounds(None, None, "beta-crown (graph relu split leaves)", graph,
                                                   intermediate=inter, alphas=alphas))
    cert.claimed = np.ones(m, bool)      # infeasible leaves too: the checker decides them itself
    cert.splits = {z: np.stack([r["splits"][z] for r in rows]).astype(np.int8) for z in proof.split_nodes}
    cert.betas = {z: np.stack([r["betas"][z] for r in rows]) for z in proof.split_nodes if z in rows[0]["betas"]}
    leaf_path = path.with_name(f"{path.stem}.case{k}.leaves.json")
    save_certificate(cert, leaf_path)
    return {"kind": "relu", "root_lo": region.lo.reshape(-1).astype(np.float64).tolist(),
            "root_hi": region.hi.reshape(-1).astype(np.float64).tolist(),
            "split_nodes": list(proof.split_nodes), "tree": entries, "leaves": leaf_path.name}


def _relu_parts_case(path, k, region_spec, proofs) -> dict:
    """The case entry of per-group graph ReLU-split proofs recorded with the root's
    intermediate bounds (``GraphReluProof.keep``), and its array file."""
    region, spec = region_spec
    arrays, parts = {}, []
    zs = list(proofs[0].split_nodes)
    for j, proof in enumerate(proofs):
        if proof.keep is None or list(proof.split_nodes) != zs or proof.group is None:
            raise CertnnError(f"case {k}: part {j} is not a per-group proof with root intermediate bounds")
        m = len(proof.rows)
        rows = spec.groups == proof.group
        arrays[f"p{j}.G"], arrays[f"p{j}.h"] = np.asarray(spec.C[0, rows], np.float64), \
            np.asarray(spec.d[0, rows], np.float64)
        entry = {"group": int(proof.group), "rows": m, "G": f"p{j}.G", "h": f"p{j}.h",
                 "tree": _preorder_relu(proof), "alphas": [], "betas": []}
        for i, (z, r) in enumerate(proof.relu_of.items()):
            vals = [row["alphas"][r] for row in proof.rows if r in row["alphas"]]
            if len(vals) == m and proof.keep[z].size:
                _put(arrays, entry["alphas"], f"p{j}.alpha.{i}", ("relu", r), np.stack(vals), proof.keep[z])
        for i, z in enumerate(zs):
            # multipliers at the neurons split somewhere in the tree (0 elsewhere)
            used = [row["betas"][z] for row in proof.rows if z in row["betas"]]
            if not used:
                continue
            idx = np.unique(np.concatenate([u[0] for u in used]))
            vals = np.zeros((m, used[0][1].shape[0], idx.size))
            for n, row in enumerate(proof.rows):
                if z in row["betas"]:
                    vals[n][:, np.searchsorted(idx, row["betas"][z][0])] = row["betas"][z][1]
            _put(arrays, entry["betas"], f"p{j}.beta.{i}", ("node", z), vals, idx)
        parts.append(entry)
    root_alphas = _root_alphas(arrays, proofs[0].root_slopes or {})
    size = sum(a.nbytes for a in arrays.values())
    if size > max_bytes():
        raise CertnnError(f"case {k}: the proof's arrays take {size >> 20} MiB, more than the checker reads "
                          f"($CERTNN_MAX_FILE_BYTES, {max_bytes() >> 20} MiB)")
    npz = path.with_name(f"{path.stem}.case{k}.parts.npz")
    write_npz(npz, arrays)
    return {"kind": "relu", "intermediate": "root", "root_lo": region.lo.reshape(-1).astype(np.float64).tolist(),
            "root_hi": region.hi.reshape(-1).astype(np.float64).tolist(), "split_nodes": zs, "parts": parts,
            "root_alphas": root_alphas, "arrays": npz.name, "manifest": array_manifest(arrays)}


def _root_alphas(arrays, record: dict) -> list:
    """The root's sparse alpha-CROWN slopes (``GraphReluProof.root_slopes``) as
    ``root_alphas`` entries; values in float32 where that is exact (most are:
    the optimizer steps in float32)."""
    entries = []
    for t, rec in record.items():
        for r, (idx, lower, upper) in rec["slopes"].items():
            for side, rows, vals in (("lower", rec["lower"], lower), ("upper", rec["upper"], upper)):
                if not (rows.size and idx.size):
                    continue
                name = f"root.{len(entries)}"
                v = np.asarray(vals[0], np.float64)
                v32 = v.astype(np.float32)
                arrays[name] = v32 if np.array_equal(v32, v) else v
                arrays[name + ".rows"] = np.asarray(rows, np.int64)
                arrays[name + ".index"] = np.asarray(idx, np.int64)
                entries.append({"target": t, "relu": r, "side": side, "rows": name + ".rows",
                                "index": name + ".index", "values": name})
    return entries


def _put(arrays, entries, name, key, values, index) -> None:
    arrays[name] = np.ascontiguousarray(values, np.float64)
    arrays[name + ".index"] = np.asarray(index, np.int64)
    entries.append({key[0]: key[1], "values": name, "index": name + ".index"})


def _property_case(region, spec) -> dict:
    return {"lo": region.lo.reshape(-1).astype(np.float64).tolist(),
            "hi": region.hi.reshape(-1).astype(np.float64).tolist(),
            "unsafe": {"G": spec.C[0].tolist(), "h": spec.d[0].tolist(), "groups": spec.groups.tolist()}}


def write_bab_certificate(path, graph, cases, trees, model_path=None, vnnlib_path=None) -> Path:
    """Write the tree JSON at ``path`` and one leaf certificate per case next to it;
    the property is ``cases`` (read from ``vnnlib_path`` when given, whose name and
    SHA-256 are recorded)."""
    path = _json_path(path)
    if not cases:
        raise CertnnError("the property has no cases (its input set is empty): there is nothing to certify")
    shape = tuple(graph.inputs[0].shape[1:])
    doc_cases = []
    for k, ((region, spec), tree) in enumerate(zip(cases, trees)):
        if tree is None:
            raise CertnnError(f"case {k} was not proved by input or ReLU splitting; no certificate can be written")
        if isinstance(tree, list):             # per-group GraphReluProofs on the root's bounds
            doc_cases.append(_relu_parts_case(path, k, (region, spec), tree))
            continue
        if hasattr(tree, "split_nodes"):       # a GraphReluProof
            doc_cases.append(_relu_graph_case(path, k, graph, (region, spec), tree))
            continue
        if not hasattr(tree, "leaf_lo"):       # a ReluProof
            doc_cases.append(_relu_case(path, k, graph, (region, spec), tree))
            continue
        entries = _preorder(tree)              # first: refuses an unfinished tree
        if not (np.array_equal(tree.root_lo, region.lo.reshape(-1)) and np.array_equal(tree.root_hi,
                                                                                     region.hi.reshape(-1))):
            raise CertnnError(f"case {k}: the split tree's root is not the property's box")
        m = len(tree.leaf_lo)
        lo = np.asarray(tree.leaf_lo, np.float64).reshape((m,) + shape)
        hi = np.asarray(tree.leaf_hi, np.float64).reshape((m,) + shape)
        reg = Region.box(lo, hi)
        sp = LinearSpec(np.repeat(spec.C[:1], m, 0), np.repeat(spec.d[:1], m, 0), spec.groups, spec.kind)
        cert = make_certificate(graph, reg, sp, _leaf_bounds(graph, lo, hi, sp))
        leaf_path = path.with_name(f"{path.stem}.case{k}.leaves.json")
        save_certificate(cert, leaf_path)
        doc_cases.append({"root_lo": tree.root_lo.tolist(), "root_hi": tree.root_hi.tolist(),
                          "tree": entries, "leaves": leaf_path.name})
    model = None
    if model_path is not None:
        import os
        model = os.path.relpath(Path(model_path).resolve(), path.resolve().parent)
    prop = {"vnnlib": None if vnnlib_path is None else Path(vnnlib_path).name,
            "vnnlib_sha256": None if vnnlib_path is None else file_sha256(vnnlib_path),
            "cases": [_property_case(region, spec) for region, spec in cases]}
    doc = {"format": FORMAT, "version": VERSION, "model": model, "graph_hash": graph_hash(graph),
           "semantics": "real", "property": prop, "cases": doc_cases}
    with atomic_write(path, "w") as f:
        json.dump(doc, f, allow_nan=False)
    return path


def _leaf_bounds(graph, lo, hi, spec, chunk: int = 4096):
    """The producer's CROWN bounds of the leaves (intermediate bounds become the
    certificate's anchors, so the checker picks the same default slopes): the
    chain engine's for ReLU chains, else ``certnn.bounds`` (generic input split)."""
    from ..bounds.result import Bounds
    from .bab_mlp import NotAChain, extract_chain, intermediate_bounds, spec_bounds
    try:
        mlp = extract_chain(graph)
    except NotAChain:
        return _generic_leaf_bounds(graph, lo, hi, spec, chunk)
    m = lo.shape[0]
    inter = {r: ([], []) for r in mlp.relu_inputs}
    lbs = []
    for s in range(0, m, chunk):
        sl = slice(s, min(m, s + chunk))
        flo, fhi = lo[sl].reshape(sl.stop - sl.start, -1), hi[sl].reshape(sl.stop - sl.start, -1)
        zero = [np.zeros((flo.shape[0], w), np.int8) for w in mlp.widths]
        b, _ = intermediate_bounds(mlp, flo, fhi, zero)
        lbs.append(spec_bounds(mlp, flo, fhi, spec.C[sl], spec.d[sl], b, zero).lb)
        for r, (l, u) in zip(mlp.relu_inputs, b):
            inter[r][0].append(l)
            inter[r][1].append(u)
    inter = {r: (np.concatenate(a), np.concatenate(b)) for r, (a, b) in inter.items()}
    return Bounds(np.concatenate(lbs), None, "crown", graph, intermediate=inter)


def _generic_leaf_bounds(graph, lo, hi, spec, chunk):
    """The same CROWN call the generic input split made per batch of boxes."""
    from ..bounds import compute_bounds
    from ..bounds.result import Bounds
    m, parts = lo.shape[0], []
    for s in range(0, m, chunk):
        sl = slice(s, min(m, s + chunk))
        parts.append(compute_bounds(graph, Region.box(lo[sl], hi[sl]), spec.rows(np.arange(sl.start, sl.stop)),
                                    method="crown"))
    inter = {k: tuple(np.concatenate([p.intermediate[k][i] for p in parts]) for i in (0, 1))
             for k in parts[0].intermediate}
    return Bounds(np.concatenate([p.lb for p in parts]), None, "crown", graph, intermediate=inter)


def certify(verdict, graph, cases, model_path, path, vnnlib_path=None) -> dict:
    """Write and re-check the certificate of an unsat verdict; on rejection the
    files are removed. Returns a summary for the verdict's stats."""
    if not cases:
        return {"written": None, "reason": "the property's input set is empty: there is nothing to certify"}
    if any(p is None for p in verdict.proofs) or len(verdict.proofs) != len(cases):
        return {"written": None, "reason": "not every case was proved by a certifiable split tree "
                                           "(whole-box alpha-CROWN and LP-decided proofs are not certified)"}
    p = _json_path(path)
    try:
        write_bab_certificate(p, graph, cases, verdict.proofs, model_path, vnnlib_path)
        res = check_bab_certificate(p, graph, expected_cases=cases)
    except CertnnError as e:       # e.g. a proof too large to be read back: the answer stands, uncertified
        _remove(p, len(cases))
        return {"written": None, "reason": str(e)}
    except BaseException:          # nothing half-written stays behind
        _remove(p, len(cases))
        raise
    if not res.ok:
        _remove(p, len(cases))
        return {"written": None, "reason": "the checker rejected it: " + "; ".join(res.reasons[:3])}
    return {"written": str(p), "checked": True, "leaves": res.leaves, "check_seconds": round(res.seconds, 3)}




def _json_path(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".json" else path.with_name(path.name + ".json")


def _remove(p: Path, n_cases: int) -> None:
    leaves = [p.with_name(f"{p.stem}.case{k}.{kind}{e}") for k in range(n_cases) for e in (".json", ".npz")
              for kind in ("leaves", "parts")]
    for f in [p] + leaves:
        f.unlink(missing_ok=True)
