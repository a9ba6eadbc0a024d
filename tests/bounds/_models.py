"""Models for the bound tests: auto_LiRPA's toy network and its cnn4 reference model."""

from __future__ import annotations


import numpy as np
import pytest

from certnn.ir.graph import Graph, Node
from certnn.io import benchmarks_root

BENCH = benchmarks_root()
CNN4 = BENCH / "auto_lirpa_cnn4" / "cnn_4layer_reference.npz"


def toy() -> Graph:
    """y = W2 relu(W1 x), auto_LiRPA's examples/simple/toy.py."""
    W1 = np.array([[1, -1], [2, -1]], np.float32)
    W2 = np.array([[1, -1]], np.float32)
    return Graph([Node("x", "input", shape=(None, 2)), Node("W1", "param", shape=(2, 2)),
                  Node("W2", "param", shape=(1, 2)), Node("h", "linear", ("x", "W1")),
                  Node("r", "relu", ("h",)), Node("y", "linear", ("r", "W2"))],
                 ["y"], {"W1": W1, "W2": W2}).validate()


def cnn4():
    """(graph, reference arrays) for auto_LiRPA's cnn_4layer test model:
    relu(conv1(bn(x))) + shortcut(x) -> relu(conv2) -> flatten -> fc1."""
    if not CNN4.exists():
        pytest.skip(f"reference data not found at {CNN4} (set CERTNN_BENCHMARKS)")
    z = dict(np.load(CNN4, allow_pickle=False))
    p = {k.removeprefix("model."): v for k, v in z.items() if k.startswith("model.")}
    conv = {"stride": (2, 2), "padding": (1, 1)}
    nodes = [Node("x", "input", shape=(None, 3, 32, 32))]
    nodes += [Node(k, "param", shape=v.shape) for k, v in p.items()]
    nodes += [
        Node("bn", "batch_norm", ("x", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"), {"eps": 1e-5}),
        Node("c1", "conv2d", ("bn", "conv1.weight", "conv1.bias"), conv),
        Node("r1", "relu", ("c1",)),
        Node("sc", "conv2d", ("x", "shortcut.weight", "shortcut.bias"), conv),
        Node("res", "add", ("r1", "sc")),
        Node("c2", "conv2d", ("res", "conv2.weight", "conv2.bias"), conv),
        Node("r2", "relu", ("c2",)),
        Node("flat", "flatten", ("r2",)),
        Node("out", "linear", ("flat", "fc1.weight", "fc1.bias")),
    ]
    return Graph(nodes, ["out"], p).validate(), z
