"""Errors of the interop layer: every one names the file (and the node, or the
line and column) it is about."""

from __future__ import annotations

from ..errors import CertnnError


class InteropError(CertnnError):
    """A model or property file cannot be read, converted or written."""


class OnnxError(InteropError):
    """An ONNX file is missing, truncated, malformed, or cannot be converted."""


class ImportTimeout(OnnxError):
    """The time limit ran out while a model was being imported."""


class UnsupportedOnnxOp(OnnxError):
    """An ONNX node has an op type (or attribute value) that certnn cannot import."""

    def __init__(self, op_type: str, node: str, source: str = "", detail: str = ""):
        self.op_type, self.node_name = op_type, node
        where = f"{source}: " if source else ""
        super().__init__(f"{where}unsupported ONNX op '{op_type}' at node '{node}'"
                         f"{': ' + detail if detail else ''}")


class VnnlibError(InteropError):
    """A VNNLIB property is malformed or outside the supported subset."""

    def __init__(self, message: str, source: str = "", line: int | None = None, col: int | None = None):
        """``source`` (the file) and ``line``:``col`` prefix the message when given."""
        self.line, self.col = line, col
        where = source + (f":{line}:{col}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)


class SpecMismatch(InteropError):
    """A property's variable counts do not match the model's input/output sizes."""
