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
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy

from ..errors import CertnnError
from ..verify.partition import check_arrays, load_document, save_document
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


def save(cert: PinnCertificate, path) -> Path:
    arrays = {}
    regions = []
    for i, r in enumerate(cert.regions):
        arrays[f"region.{i}.splits"] = np.ascontiguousarray(r.splits, np.int64).reshape(-1, 2)
        arrays[f"region.{i}.bounds"] = np.ascontiguousarray(r.bounds, np.float64)
        regions.append({"kind": r.kind, "name": r.name, "lo": [float(v) for v in r.lo],
                        "hi": [float(v) for v in r.hi], "claim": float(r.claim),
                        "splits": f"region.{i}.splits", "bounds": f"region.{i}.bounds"})
    path = Path(path)
    path = path if path.suffix == ".json" else path.with_name(path.name + ".json")
    model = None if cert.model is None else os.path.relpath(Path(cert.model).resolve(), path.resolve().parent)
    doc = {"format": FORMAT, "version": VERSION, "problem": cert.problem, "problem_hash": cert.problem_hash,
           "graph_hash": cert.graph_hash, "model": model, "inputs": list(cert.inputs), "regions": regions,
           "error": cert.error, "producer": cert.producer}
    cert.path = save_document(doc, arrays, path)
    return cert.path


def load(path) -> PinnCertificate:
    path = Path(path)
    doc, arrays = load_document(path, SCHEMA, PinnCertificateError)
    regions = []
    for r in doc["regions"]:
        if r["splits"] not in arrays or r["bounds"] not in arrays:
            raise PinnCertificateError(f"{path}: region {r['name']}: its arrays are not in {doc['array_file']}")
        splits, bounds = arrays[r["splits"]], arrays[r["bounds"]]
        check_arrays(splits, bounds, f"{path}: region {r['name']}", PinnCertificateError)
        if len(r["lo"]) != len(r["hi"]):
            raise PinnCertificateError(f"{path}: region {r['name']}: lo and hi differ in length")
        regions.append(RegionCert(r["kind"], r["name"], np.array(r["lo"], float), np.array(r["hi"], float),
                                  float(r["claim"]), splits, bounds))
    model = doc.get("model")
    return PinnCertificate(doc["problem"], doc["problem_hash"], doc["graph_hash"], doc["inputs"], regions,
                           doc.get("error"), None if model is None else str((path.parent / model).resolve()),
                           doc.get("producer") or {}, path)
