"""Graph serialisation: a JSON document (structure, format name and version,
array manifest with SHA-256 digests) plus an ``.npz`` of the arrays, loaded
with ``allow_pickle=False``; and a stable content hash that certificates use to
name the graph they are about."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import GraphError
from ..io import confined, parse_json, read_npz, read_text, validate_json, write_json, write_npz
from .graph import Graph, Node

FORMAT = "certnn.graph"
VERSION = 1


def _jsonable(v):
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v


def array_digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    h = hashlib.sha256(f"{a.dtype.str}{list(a.shape)}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def to_dict(g: Graph) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "nodes": [{"id": n.id, "op": n.op, "inputs": list(n.inputs), "attrs": _jsonable(n.attrs),
                   "shape": _jsonable(n.shape), "dtype": n.dtype,
                   **({"post": [[op, _jsonable(a)] for op, a in n.post]} if n.post else {})}
                  for n in g.nodes],
        "outputs": list(g.outputs),
        "arrays": {k: {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": array_digest(a)}
                   for k, a in sorted(g.arrays.items())},
    }


_DIM = {"type": ["integer", "null"], "minimum": 0}
#: The graph document, validated once by :func:`from_dict` (graph JSON files and checkpoints).
SCHEMA = {
    "type": "object",
    "required": ["format", "version", "nodes", "outputs"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"type": "integer"},
        "nodes": {"type": "array", "items": {
            "type": "object", "required": ["id", "op"],
            "properties": {"id": {"type": "string"}, "op": {"type": "string"},
                           "inputs": {"type": "array", "items": {"type": "string"}},
                           "attrs": {"type": "object"},
                           "shape": {"type": "array", "items": _DIM},
                           "dtype": {"type": "string"},
                           "post": {"type": "array", "items": {
                               "type": "array", "minItems": 2, "maxItems": 2,
                               "prefixItems": [{"type": "string"}, {"type": "object"}]}}}}},
        "outputs": {"type": "array", "items": {"type": "string"}},
        "arrays": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["dtype", "shape", "sha256"],
            "properties": {"dtype": {"type": "string"},
                           "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                           "sha256": {"type": "string"}}}},
        "array_file": {"type": "string"},
    },
}


def check_document(d, source: str = "graph") -> dict:
    """Format, version and :data:`SCHEMA` of a graph document; errors name ``source``."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise GraphError(f"{source}: not a certnn graph (format field is {d.get('format') if isinstance(d, dict) else type(d).__name__!r})")
    if d.get("version") != VERSION:
        raise GraphError(f"{source}: graph format version {d.get('version')!r} is not supported (this certnn reads {VERSION})")
    validate_json(d, SCHEMA, source, "graph", GraphError)
    return d


def from_dict(d: dict, arrays: dict[str, np.ndarray], source: str = "graph", checked: bool = False) -> Graph:
    """The graph of a document (``checked``: :func:`check_document` already ran)."""
    if not checked:
        check_document(d, source)
    for n in d["nodes"]:
        try:
            ok = np.dtype(n.get("dtype", "float32")).kind in "biuf"
        except TypeError:
            ok = False
        if not ok:
            raise GraphError(f"{source}: node '{n['id']}' has dtype {n['dtype']!r}, not a real number type")
    try:
        nodes = [Node(id=str(n["id"]), op=str(n["op"]), inputs=tuple(n.get("inputs", ())),
                      attrs=dict(n.get("attrs", {})),
                      shape=tuple(n.get("shape", ())), dtype=str(n.get("dtype", "float32")),
                      post=tuple((op, dict(a)) for op, a in n.get("post", ())))
                 for n in d["nodes"]]
        outputs = [str(o) for o in d["outputs"]]
        manifest = d.get("arrays", {})
    except (KeyError, TypeError, ValueError) as e:
        raise GraphError(f"{source}: malformed graph JSON ({type(e).__name__}: {e})") from None
    for name, meta in manifest.items():
        if name not in arrays:
            raise GraphError(f"{source}: array '{name}' is missing from the array file")
        if array_digest(arrays[name]) != meta.get("sha256"):
            raise GraphError(f"{source}: array '{name}' does not match its recorded SHA-256 (corrupt or tampered)")
    extra = set(arrays) - set(manifest)
    if extra:
        raise GraphError(f"{source}: array file holds arrays the graph does not list: {sorted(extra)}")
    return Graph(nodes, outputs, dict(arrays)).validate()


def graph_hash(g: Graph) -> str:
    """SHA-256 of the canonical JSON of structure plus array digests."""
    text = json.dumps(to_dict(g), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def save(g: Graph, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (JSON, suffix .json added if absent) and the sibling ``.npz``, atomically."""
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_suffix(path.suffix + ".json") if path.suffix else path.with_suffix(".json")
    npz = path.with_suffix(".npz")
    write_npz(npz, g.arrays)
    write_json(path, to_dict(g) | {"array_file": npz.name}, allow_nan=True)
    return path, npz


def load_npz(path: Path, manifest: dict | None = None) -> dict[str, np.ndarray]:
    return read_npz(path, "array file", GraphError, manifest=manifest)


def load(path: str | Path) -> Graph:
    path = Path(path)
    d = parse_json(read_text(path, "graph JSON", GraphError), path, "graph JSON", GraphError)
    check_document(d, str(path))
    arrays = {}
    if d.get("arrays"):
        npz = confined(path.parent, d.get("array_file", path.with_suffix(".npz").name), "array_file", path,
                       GraphError)
        arrays = load_npz(npz, d["arrays"])
    return from_dict(d, arrays, source=str(path), checked=True)
