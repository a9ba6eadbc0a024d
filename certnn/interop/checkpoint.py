"""Checkpoints: a folder with ``weights.npz`` (the state dict; loaded with
``allow_pickle=False``) and ``checkpoint.json`` (format version, architecture
config, the traced graph, the weights file's SHA-256, training metadata).
Both are written atomically, weights first, so a crash never leaves a JSON
pointing at a partial weights file; loading verifies the digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import CertnnError, CheckpointError
from ..io import atomic_write, confined, parse_json, read_npz, read_text, sha256_file, validate_json, write_npz
from ..ir import serialize
from ..ir.graph import Graph

FORMAT = "certnn.interop.checkpoint"
VERSION = 1
META, WEIGHTS = "checkpoint.json", "weights.npz"
GRAPH_PREFIX = "graph:"


def save_checkpoint(folder, module, config: dict, graph: Graph | None = None, info: dict | None = None) -> Path:
    folder = Path(folder)
    arrays = dict(module.state_dict())
    if graph is not None:  # graph constants not in the state dict travel in the same file
        arrays.update({GRAPH_PREFIX + k: v for k, v in graph.arrays.items() if k not in arrays})
    data = write_npz(folder / WEIGHTS, arrays)
    meta = {"format": FORMAT, "version": VERSION, "config": config,
            "weights": {"file": WEIGHTS, "sha256": hashlib.sha256(data).hexdigest()},
            "graph": serialize.to_dict(graph) if graph is not None else None,
            "graph_hash": serialize.graph_hash(graph) if graph is not None else None,
            "info": info or {}}
    with atomic_write(folder / META, "w") as f:
        json.dump(meta, f, indent=1)
    return folder


def _meta_path(path) -> Path:
    path = Path(path)
    return path / META if path.is_dir() else path


#: checkpoint.json, validated once on loading (the embedded graph by serialize.from_dict).
SCHEMA = {
    "type": "object",
    "required": ["format", "version", "config", "weights"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"type": "integer"},
        "config": {"type": "object"},
        "weights": {"type": "object", "required": ["file", "sha256"],
                    "properties": {"file": {"type": "string", "minLength": 1},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
        "graph": {"type": ["object", "null"]},
        "graph_hash": {"type": ["string", "null"]},
        "info": {"type": "object"},
    },
}


def read_meta(path) -> tuple[dict, dict[str, np.ndarray], Path]:
    mpath = _meta_path(path)
    if not mpath.exists() and not mpath.is_symlink():
        raise CheckpointError(f"{mpath}: no such checkpoint")
    if mpath.suffix.lower() == ".onnx" or mpath.name.lower().endswith(".onnx.gz"):
        raise CheckpointError(f"{mpath}: an ONNX file, not a checkpoint; commands that take --model read it "
                              f"(certnn.interop.models.load_model)")
    meta = parse_json(read_text(mpath, "checkpoint", CheckpointError), mpath, "checkpoint", CheckpointError)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{mpath}: not a certnn checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{mpath}: checkpoint version {meta.get('version')!r} is not supported "
                              f"(this certnn reads version {VERSION})")
    validate_json(meta, SCHEMA, mpath, "checkpoint", CheckpointError)
    if meta.get("graph") is not None:
        try:
            serialize.check_document(meta["graph"], f"{mpath}: graph")
        except CertnnError as e:
            raise CheckpointError(str(e)) from None
    wpath = confined(mpath.parent, meta["weights"]["file"], "weights.file", mpath, CheckpointError)
    digest, size = sha256_file(wpath, "weights file", CheckpointError)
    if digest != meta["weights"]["sha256"]:
        raise CheckpointError(f"{wpath}: SHA-256 does not match the checkpoint record "
                              f"({size} bytes; truncated or modified)")
    listed = (meta.get("graph") or {}).get("arrays", {})
    manifest = {**listed, **{GRAPH_PREFIX + k: v for k, v in listed.items()}}
    state = read_npz(wpath, "weights file", CheckpointError, manifest=manifest, partial=True)
    return meta, state, mpath


def load_graph(path) -> Graph:
    meta, state, mpath = read_meta(path)
    if not meta.get("graph"):
        raise CheckpointError(f"{mpath}: checkpoint holds no graph")
    names = meta["graph"].get("arrays", {})
    try:
        return serialize.from_dict(meta["graph"], {k: state[k] if k in state else state.get(GRAPH_PREFIX + k)
                                                 for k in names if k in state or GRAPH_PREFIX + k in state},
                                   source=str(mpath), checked=True)
    except CertnnError as e:
        raise CheckpointError(str(e)) from None
