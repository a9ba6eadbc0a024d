"""Controller networks into certnn's IR.

Three sources: the benchmark ``.npz`` (``W0, b0, ..., activations``; layer i
computes ``act_i(W_i h + b_i)``, W_i of shape (out, in)), POLAR's text format
(``.polar``: sizes, activation names, then per neuron its weights and bias,
then the output offset and scale, ``u = (y - offset) * scale``), and ONNX
(through :func:`certnn.interop.models.load_model`). Weights stay float64: the
network's *real* semantics is exact real arithmetic with these weights.

:func:`augmented` builds the graph ``v -> [NN(v); v]`` used for controller
claims: a linear bound ``NN(v) - a.v in [r_lo, r_hi]`` over a box of network
inputs is a linear spec on its outputs, which the independent certificate
checker (:mod:`certnn.verify.checker`) can re-derive.
"""

from __future__ import annotations

from pathlib import Path
import zipfile

import numpy as np

from ..errors import CertnnError
from ..ir.graph import Graph, Node

ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "linear": None,
               "affine": None, "identity": None}


class NetworkError(CertnnError, ValueError):
    """A controller file is missing, malformed or inconsistent with the problem description."""


def mlp_graph(weights, biases, activations, dtype=np.float64) -> Graph:
    """input (N, in) -> linear -> act -> ... as an unfused certnn graph."""
    n_in = int(weights[0].shape[1])
    nodes = [Node("x", "input", shape=(None, n_in), dtype=np.dtype(dtype).name)]
    arrays, h = {}, "x"
    for i, (W, b, act) in enumerate(zip(weights, biases, activations)):
        W, b = np.asarray(W, dtype), np.asarray(b, dtype)
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
        nodes += [Node(f"W{i}", "param", shape=W.shape, dtype=W.dtype.name),
                  Node(f"b{i}", "param", shape=b.shape, dtype=b.dtype.name),
                  Node(f"z{i}", "linear", (h, f"W{i}", f"b{i}"))]
        h = f"z{i}"
        if ACTIVATIONS[act] is not None:
            nodes.append(Node(f"h{i}", ACTIVATIONS[act], (h,)))
            h = f"h{i}"
    return Graph(nodes, [h], arrays).validate()


def load_npz(path: Path) -> Graph:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise NetworkError(f"{path}: no such controller file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise NetworkError(f"{path}: cannot read the controller ({type(e).__name__}: {e})") from None
    if "activations" not in data:
        raise NetworkError(f"{path}: no 'activations' array")
    acts = [str(a).lower() for a in np.asarray(data["activations"]).reshape(-1)]
    L = len(acts)
    want = {f"{k}{i}" for i in range(L) for k in "Wb"} | {"activations"}
    if set(data) != want:
        raise NetworkError(f"{path}: expected arrays {sorted(want)}, found {sorted(data)}")
    Ws = [np.asarray(data[f"W{i}"], np.float64) for i in range(L)]
    bs = [np.asarray(data[f"b{i}"], np.float64) for i in range(L)]
    return _build(path, Ws, bs, acts)


def load_polar(path: Path) -> tuple[Graph, float, float]:
    """The network of a POLAR file, with its output ``offset`` and ``scale``."""
    try:
        lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    except FileNotFoundError:
        raise NetworkError(f"{path}: no such controller file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise NetworkError(f"{path}: cannot read ({e})") from None
    pos = 0

    def take(kind, what):
        nonlocal pos
        if pos >= len(lines):
            raise NetworkError(f"{path}: truncated: expected {what} at line {pos + 1}")
        text = lines[pos]
        pos += 1
        try:
            return kind(text)
        except ValueError:
            raise NetworkError(f"{path}: line {pos}: expected {what}, got {text!r}") from None

    n_in, n_out, H = take(int, "the input count"), take(int, "the output count"), take(int, "the hidden layer count")
    sizes = [n_in] + [take(int, f"hidden layer size {i}") for i in range(H)] + [n_out]
    if min(sizes) < 1 or H < 0:
        raise NetworkError(f"{path}: layer sizes must be positive, got {sizes}")
    acts = [take(str, f"activation {i}").lower() for i in range(H + 1)]
    Ws, bs = [], []
    for i in range(H + 1):
        W, b = np.empty((sizes[i + 1], sizes[i])), np.empty(sizes[i + 1])
        for r in range(sizes[i + 1]):
            W[r] = [take(float, f"weight ({i}, {r}, {c})") for c in range(sizes[i])]
            b[r] = take(float, f"bias ({i}, {r})")
        Ws.append(W)
        bs.append(b)
    offset, scale = take(float, "the output offset"), take(float, "the output scale")
    if pos != len(lines):
        raise NetworkError(f"{path}: {len(lines) - pos} unexpected line(s) after the output scale")
    return _build(path, Ws, bs, acts), offset, scale


def load_onnx(path: Path) -> Graph:
    from ..interop.models import load_model
    g = load_model(path)
    if len(g.inputs) != 1 or len(g.inputs[0].shape) != 2 or len(g.outputs) != 1:
        raise NetworkError(f"{path}: a controller must have one input (N, in) and one output")
    return g


def _build(path, Ws, bs, acts) -> Graph:
    for i, a in enumerate(acts):
        if a not in ACTIVATIONS:
            raise NetworkError(f"{path}: activation {i} is {a!r}; supported: {', '.join(ACTIVATIONS)}")
    for i, (W, b) in enumerate(zip(Ws, bs)):
        if W.ndim != 2 or b.shape != (W.shape[0],) or (i and W.shape[1] != Ws[i - 1].shape[0]):
            raise NetworkError(f"{path}: layer {i}: weight {W.shape} and bias {b.shape} do not chain")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise NetworkError(f"{path}: layer {i} has NaN or infinite weights")
    return mlp_graph(Ws, bs, acts)


def io_sizes(g: Graph) -> tuple[int, int]:
    return int(g.inputs[0].shape[-1]), int(g.node(g.outputs[0]).shape[-1])


def augmented(g: Graph) -> Graph:
    """``v -> [NN(v); v]``: the network's output stacked on its input, through two
    linear maps and an add (ops the independent checker supports)."""
    n_in, n_out = io_sizes(g)
    k = n_out + n_in
    E1 = np.zeros((k, n_out))
    E1[:n_out] = np.eye(n_out)
    E2 = np.zeros((k, n_in))
    E2[n_out:] = np.eye(n_in)
    out, x = g.outputs[0], g.inputs[0].id
    dt = g.inputs[0].dtype
    nodes = list(g.nodes) + [
        Node("aug_E1", "param", shape=E1.shape, dtype=dt),
        Node("aug_E2", "param", shape=E2.shape, dtype=dt),
        Node("aug_y", "linear", (out, "aug_E1")),
        Node("aug_v", "linear", (x, "aug_E2")),
        Node("aug_out", "add", ("aug_y", "aug_v"))]
    arrays = dict(g.arrays, aug_E1=E1.astype(dt), aug_E2=E2.astype(dt))
    return Graph(nodes, ["aug_out"], arrays).validate()


def as_float32(g: Graph) -> Graph:
    """The network with every weight rounded to nearest binary32 (the binary32
    semantics runs this network, not the float64 one)."""
    h = g.copy()
    h.arrays = {k: np.asarray(a, np.float32) if np.asarray(a).dtype.kind == "f" else a for k, a in g.arrays.items()}
    h.nodes = [Node(n.id, n.op, n.inputs, dict(n.attrs), n.shape, "float32" if n.dtype == "float64" else n.dtype,
                    n.post) for n in g.nodes]
    return h.validate()
