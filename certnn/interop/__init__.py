"""Interop: ONNX models in and out, VNN-COMP VNNLIB properties in."""

from .errors import InteropError, OnnxError, SpecMismatch, UnsupportedOnnxOp, VnnlibError  # noqa: F401
from .onnx_import import load_onnx  # noqa: F401
from .onnx_export import save_onnx, to_onnx  # noqa: F401
from .vnnlib import InputBox, VnnlibProperty, check_against, load_vnnlib, parse_vnnlib  # noqa: F401
