"""The PINN box-partition certificate: format, writing and reading.

One JSON document (validated with jsonschema on reading) and a sibling .npz:

* ``problem`` (a built-in problem name) and ``problem_hash`` (SHA-256 of its
  canonical description: coordinates, box, equation, conditions), the
  model's ``graph_hash`` and relative path, ``inputs`` (the model's input order);
* ``regions``: the residual over the domain and |u - g| over each condition's
  face. Each has its root box (``lo``, ``hi``), the claimed bound ``claim``,
  and two arrays: ``splits`` (m, 2) int64, the splits in the order they were
  made, row (node, dim): node ``node`` (0 = the root; the i-th split creates
  nodes 2i + 1 and 2i + 2, lower half first) is cut at the midpoint
  ``0.5 lo + 0.5 hi`` of coordinate ``dim``; and ``bounds`` (leaves,) float64,
  the claimed bound of each leaf, leaves in increasing node order;
* ``error``: for heat/Poisson, the claimed bound on |u_theta - u*| and the
  theorem it rests on.

The checker (:mod:`certnn.pinn.checker`) rebuilds the leaves from the root and
the splits itself, so coverage of the domain holds by construction: the two
halves of a box cover it whatever float the midpoint is.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy

from ..errors import CertnnError
from ..io import atomic_write
from .problems import Problem

FORMAT = "certnn.pinn.certificate"
VERSION = 1

_BOX = {"type": "array", "items": {"type": "number"}, "minItems": 1}
SCHEMA = {
    "type": "object",
    "required": ["format", "version", "problem", "problem_hash", "graph_hash", "inputs", "regions", "array_file",
                 "arrays"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "problem": {"type": "string"},
        "problem_hash": {"type": "string"},
        "graph_hash": {"type": "string"},
        "model": {"type": ["string", "null"]},
        "inputs": {"type": "array", "items": {"type": "string"}},
        "regions": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["kind", "name", "lo", "hi", "claim", "splits", "bounds"],
            "properties": {"kind": {"enum": ["residual", "condition"]}, "name": {"type": "string"},
                           "lo": _BOX, "hi": _BOX, "claim": {"type": "number"},
                           "splits": {"type": "string"}, "bounds": {"type": "string"}}}},
        "error": {"type": ["object", "null"], "required": ["bound", "theorem"],
                  "properties": {"bound": {"type": "number"}, "theorem": {"type": "string"}}},
        "array_file": {"type": "string"},
        "arrays": {"type": "object"},
        "producer": {"type": "object"},
    },
}


class PinnCertificateError(CertnnError, ValueError):
    """A PINN certificate file is missing, malformed or inconsistent."""


@dataclass
class RegionCert:
    kind: str                 # "residual" or "condition"
    name: str                 # "residual" or the condition's name
    lo: np.ndarray            # the root box
    hi: np.ndarray
    claim: float              # claimed sup over the region
    splits: np.ndarray        # (m, 2) int64: (node, dim) in order
    bounds: np.ndarray        # (m + 1,) claimed leaf bounds, leaves in node order


@dataclass
class PinnCertificate:
    problem: str
    problem_hash: str
    graph_hash: str
    inputs: list
    regions: list
    error: dict | None = None
    model: str | None = None
    producer: dict = field(default_factory=dict)
    path: Path | None = None


def problem_hash(problem: Problem) -> str:
    text = json.dumps({"coords": list(problem.coords), "lo": list(map(float, problem.lo)),
                       "hi": list(map(float, problem.hi)), "equation": sympy.srepr(problem.equation),
                       "conditions": [[c.name, c.coord, float(c.at), sympy.srepr(c.value)]
                                      for c in problem.conditions]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes()).hexdigest()


def save(cert: PinnCertificate, path) -> Path:
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    arrays = {}
    regions = []
    for i, r in enumerate(cert.regions):
        arrays[f"region.{i}.splits"] = np.ascontiguousarray(r.splits, np.int64).reshape(-1, 2)
        arrays[f"region.{i}.bounds"] = np.ascontiguousarray(r.bounds, np.float64)
        regions.append({"kind": r.kind, "name": r.name, "lo": [float(v) for v in r.lo],
                        "hi": [float(v) for v in r.hi], "claim": float(r.claim),
                        "splits": f"region.{i}.splits", "bounds": f"region.{i}.bounds"})
    npz = path.with_name(path.stem + ".npz")
    model = None if cert.model is None else os.path.relpath(Path(cert.model).resolve(), path.resolve().parent)
    doc = {"format": FORMAT, "version": VERSION, "problem": cert.problem, "problem_hash": cert.problem_hash,
           "graph_hash": cert.graph_hash, "model": model, "inputs": list(cert.inputs), "regions": regions,
           "error": cert.error, "producer": cert.producer, "array_file": npz.name,
           "arrays": {k: _digest(a) for k, a in sorted(arrays.items())}}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with atomic_write(npz) as f:
        f.write(buf.getvalue())
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
    cert.path = path
    return path


def load(path) -> PinnCertificate:
    import jsonschema
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise PinnCertificateError(f"{path}: no such certificate file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise PinnCertificateError(f"{path}: not a readable JSON document ({e})") from None
    try:
        jsonschema.validate(doc, SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "the document"
        raise PinnCertificateError(f"{path}: not a PINN certificate ({where}: {e.message})") from None
    npz = path.parent / doc["array_file"]
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise PinnCertificateError(f"{path}: array file {npz.name} is missing") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise PinnCertificateError(f"{path}: cannot read {npz.name} ({e})") from None
    regions = []
    for r in doc["regions"]:
        try:
            splits, bounds = arrays[r["splits"]], arrays[r["bounds"]]
        except KeyError as e:
            raise PinnCertificateError(f"{path}: array {e} is missing from {npz.name}") from None
        for name, a in ((r["splits"], splits), (r["bounds"], bounds)):
            if doc["arrays"].get(name) != _digest(a):
                raise PinnCertificateError(f"{path}: array {name} does not match its recorded digest")
        if splits.dtype.kind != "i" or splits.ndim != 2 or splits.shape[1] != 2 or bounds.dtype != np.float64 \
                or bounds.shape != (len(splits) + 1,) or len(r["lo"]) != len(r["hi"]):
            raise PinnCertificateError(f"{path}: region {r['name']}: splits must be (m, 2) integers and bounds "
                                       f"(m + 1,) float64; got {splits.shape} {splits.dtype}, {bounds.shape} "
                                       f"{bounds.dtype}")
        regions.append(RegionCert(r["kind"], r["name"], np.array(r["lo"], float), np.array(r["hi"], float),
                                  float(r["claim"]), splits, bounds))
    model = doc.get("model")
    return PinnCertificate(doc["problem"], doc["problem_hash"], doc["graph_hash"], doc["inputs"], regions,
                           doc.get("error"), None if model is None else str((path.parent / model).resolve()),
                           doc.get("producer") or {}, path)
