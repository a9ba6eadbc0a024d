"""``certnn.run(graph, x, semantics=...)``: evaluate a graph under one semantics.

* ``"real"``: the reference semantics, the op table's ``real`` rules in float64
  (inputs, parameters and constants converted to float64; integer inputs such
  as class indices are kept), through :func:`certnn.ir.interpret.evaluate`.
* ``"binary32"``: bit-exact IEEE-754 binary32 execution, each node running its
  ``binary32`` rule from the op table (fused epilogues in order),
  reductions in the given ``order`` (``"sequential"``, the default, or
  ``"pairwise"``; see docs/binary32.md). The result depends on the graph, its
  arrays, the input and ``order`` only: not on BLAS, threads, numba or the
  machine. NaNs in the outputs are made the quiet NaN 0x7FC00000.

A float32 model is run as it is. An array (input, parameter or constant) of
another float dtype is converted: float16/bfloat16 widen exactly; float64 is
accepted when every value is a binary32 number (the conversion is exact), and
otherwise refused unless ``cast=True``, which rounds it to nearest binary32:
rounding a float64 model is a change of model and must be asked for.
"""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError, GraphError, UnsupportedOp
from ..ops import get_op
from .graph import Graph
from .interpret import check_feed, evaluate

SEMANTICS = ("real", "binary32")


def _feeds(graph: Graph, x) -> dict:
    if isinstance(x, dict):
        feeds = dict(x)
    else:
        ins = graph.inputs
        if len(ins) != 1:
            raise GraphError(f"graph has {len(ins)} inputs ({', '.join(n.id for n in ins)}): "
                             f"pass a dict {{input id: array}}")
        feeds = {ins[0].id: x}
    return {k: np.asarray(getattr(v, "data", v)) for k, v in feeds.items()}


def _to_float64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(np.float64) if _is_float(a) else a


def _is_float(a: np.ndarray) -> bool:
    if a.dtype.kind == "f":
        return True
    try:
        import ml_dtypes
        return a.dtype in (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2)
    except ImportError:  # pragma: no cover
        return False


def _to_float32(a: np.ndarray, what: str, cast: bool) -> np.ndarray:
    a = np.asarray(a)
    if not _is_float(a):
        return a                                   # integer inputs (class indices) stay
    if a.dtype == np.float32:
        return a
    if a.dtype.kind == "f" and a.dtype.itemsize > 4:
        with np.errstate(over="ignore"):
            b = a.astype(np.float32)
        if not cast:
            same = (b.astype(a.dtype) == a) | (np.isnan(a) & np.isnan(b))
            if not np.all(same):
                bad = int(np.count_nonzero(~same))
                raise CertnnError(
                    f"{what} is {a.dtype} and {bad} of its {a.size} values are not binary32 numbers: "
                    f"binary32 semantics would round them, which changes the model; convert it to "
                    f"float32 yourself or pass cast=True to round to nearest binary32")
        return b
    return a.astype(np.float32)                    # float16, bfloat16, ...: exact widening


def run(graph: Graph, x, semantics: str = "real", order: str = "sequential", cast: bool = False,
        arrays: dict | None = None):
    """Evaluate ``graph`` on input ``x`` (an array, or a dict {input id: array} for
    several inputs) under ``semantics``; return the output array, or a list when
    the graph has several outputs. ``arrays`` overrides the graph's parameter and
    constant arrays (e.g. live training values)."""
    if semantics not in SEMANTICS:
        raise ValueError(f"semantics must be one of {SEMANTICS}, got {semantics!r}")
    feeds = _feeds(graph, x)
    arrs = dict(graph.arrays if arrays is None else arrays)
    if semantics == "real":
        feeds = {k: _to_float64(v) for k, v in feeds.items()}
        arrs = {k: _to_float64(v) for k, v in arrs.items()}
        outs = evaluate(graph, feeds, arrs)[0]
    else:
        outs = _run_binary32(graph, feeds, arrs, order, cast)
    return outs[0] if len(outs) == 1 else outs


def _run_binary32(graph: Graph, feeds: dict, arrays: dict, order: str, cast: bool) -> list:
    from ..floats import b32

    if order not in b32.ORDERS:
        raise ValueError(f"order must be one of {b32.ORDERS}, got {order!r}")
    missing = sorted(op for op in graph.ops_used() if get_op(op).binary32 is None)
    if missing:
        raise UnsupportedOp(", ".join(missing), "binary32",
                            f"no binary32 rule in the op table for {len(missing)} op(s)")
    b32.check_float_env()
    feeds = {k: _to_float32(v, f"input '{k}'", cast) for k, v in feeds.items()}
    check_feed(graph, feeds)
    values: dict[str, np.ndarray] = {}
    for n in graph.nodes:
        if n.op == "input":
            values[n.id] = feeds[n.id]
            continue
        if n.is_source:
            if n.id not in arrays:
                raise GraphError(f"{n.op} node '{n.id}' has no array")
            values[n.id] = _to_float32(arrays[n.id], f"{n.op} '{n.id}'", cast)
            continue
        y = get_op(n.op).binary32(*[values[i] for i in n.inputs], order=order, **n.attrs)
        for op, a in n.post:
            y = get_op(op).binary32(y, order=order, **a)
        values[n.id] = y
    return [b32.canonical_nan(np.asarray(values[o])) for o in graph.outputs]
