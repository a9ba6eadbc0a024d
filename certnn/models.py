"""Load a model graph from whatever a user has: a certnn checkpoint (folder or
its checkpoint.json), a certnn graph JSON file, or an ONNX file (.onnx or
.onnx.gz, via :mod:`certnn.interop`)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import CertnnError
from .ir.graph import Graph


def load_model(path) -> Graph:
    p = Path(path)
    if not p.exists():
        raise CertnnError(f"{p}: no such model file or folder")
    name = p.name.lower()
    if name.endswith(".onnx") or name.endswith(".onnx.gz"):
        from .interop import load_onnx
        from .vnncomp import batched  # a model without a batch dim takes one example per row
        return batched(load_onnx(p))
    if p.is_file() and name.endswith(".json"):
        try:
            fmt = json.loads(p.read_text()).get("format")
        except (ValueError, UnicodeDecodeError, AttributeError):
            raise CertnnError(f"{p}: not a JSON document") from None
        if fmt == "certnn.graph":
            from .ir import load
            return load(p)
    from .checkpoint import load_graph
    return load_graph(p)
