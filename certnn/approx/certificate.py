"""The approximation certificate: sup over a box of |N(x) - f(x)| <= claim.

A JSON document (jsonschema-validated on reading) with the target expression
(as text, read back with the restricted parser of :mod:`certnn.approx.target`),
the box, the tolerance ``delta``, the claim, the network's graph hash and
relative path, and the box partition (:mod:`certnn.verify.partition`: the
split list and the claimed bound of every leaf) in the sibling .npz.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..verify.partition import check_arrays, load_document, save_document

FORMAT = "certnn.approx.certificate"
VERSION = 1
SCHEMA = {
    "type": "object",
    "required": ["format", "version", "expression", "lo", "hi", "delta", "claim", "graph_hash", "splits",
                 "bounds", "array_file", "arrays"],
    "properties": {
        "format": {"const": FORMAT}, "version": {"const": VERSION}, "expression": {"type": "string"},
        "lo": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
        "hi": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
        "delta": {"type": "number", "exclusiveMinimum": 0}, "claim": {"type": "number"},
        "graph_hash": {"type": "string"}, "model": {"type": ["string", "null"]},
        "splits": {"type": "string"}, "bounds": {"type": "string"}, "array_file": {"type": "string"},
        "arrays": {"type": "object"}, "producer": {"type": "object"}},
}


class ApproxCertificateError(CertnnError, ValueError):
    """An approximation certificate file is missing or malformed."""


@dataclass
class ApproxCertificate:
    expression: str
    lo: np.ndarray
    hi: np.ndarray
    delta: float
    claim: float
    graph_hash: str
    splits: np.ndarray
    bounds: np.ndarray
    model: str | None = None
    producer: dict = field(default_factory=dict)
    path: Path | None = None


def save(cert: ApproxCertificate, path) -> Path:
    path = Path(path)
    path = path if path.suffix == ".json" else path.with_name(path.name + ".json")
    model = None if cert.model is None else os.path.relpath(Path(cert.model).resolve(), path.resolve().parent)
    doc = {"format": FORMAT, "version": VERSION, "expression": cert.expression,
           "lo": [float(v) for v in cert.lo], "hi": [float(v) for v in cert.hi], "delta": float(cert.delta),
           "claim": float(cert.claim), "graph_hash": cert.graph_hash, "model": model, "splits": "splits",
           "bounds": "bounds", "producer": cert.producer}
    arrays = {"splits": np.ascontiguousarray(cert.splits, np.int64).reshape(-1, 2),
              "bounds": np.ascontiguousarray(cert.bounds, np.float64)}
    cert.path = save_document(doc, arrays, path)
    return cert.path


def load(path) -> ApproxCertificate:
    path = Path(path)
    doc, arrays = load_document(path, SCHEMA, ApproxCertificateError)
    if doc["splits"] not in arrays or doc["bounds"] not in arrays:
        raise ApproxCertificateError(f"{path}: its arrays are not in {doc['array_file']}")
    splits, bounds = arrays[doc["splits"]], arrays[doc["bounds"]]
    check_arrays(splits, bounds, str(path), ApproxCertificateError)
    if len(doc["lo"]) != len(doc["hi"]):
        raise ApproxCertificateError(f"{path}: lo and hi differ in length")
    model = doc.get("model")
    return ApproxCertificate(doc["expression"], np.array(doc["lo"], float), np.array(doc["hi"], float),
                             float(doc["delta"]), float(doc["claim"]), doc["graph_hash"], splits, bounds,
                             None if model is None else str((path.parent / model).resolve()),
                             doc.get("producer") or {}, path)
