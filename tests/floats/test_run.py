"""certnn.run: real and binary32 semantics of whole graphs."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from certnn import nn
from certnn.ir.compile import compile
from certnn.errors import CertnnError, UnsupportedOp
from certnn.floats import b32, b32_numba
from certnn.ir.graph import Graph, Node
from certnn.ir.interpret import evaluate
from certnn.ops import get_op
from certnn.random import manual_seed
from certnn import run

from ..zoo_models import build_all

F32 = np.float32
BACKENDS = ["numpy"] + (["numba"] if b32_numba.AVAILABLE else [])


def bits(a):
    a = np.asarray(a, F32)
    return np.where(np.isnan(a), F32(np.nan), a).view(np.uint32)


def same_bits(a, b):
    return np.shape(a) == np.shape(b) and np.array_equal(bits(a), bits(b))


def _mlp():
    manual_seed(0)
    m = nn.Sequential(nn.Linear(30, 24), nn.ReLU(), nn.Linear(24, 7)).eval()
    x = np.random.default_rng(0).standard_normal((9, 30)).astype(F32)
    return compile(m, x).graph, x


def _cnn():
    manual_seed(1)
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(4, 3, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                      nn.Linear(3 * 2 * 2, 5))
    rng = np.random.default_rng(1)
    for _, buf in m.named_buffers():
        buf.data[...] = rng.uniform(0.5, 1.5, buf.shape).astype(F32)
    m.eval()
    x = rng.standard_normal((3, 2, 8, 8)).astype(F32)
    return compile(m, x).graph, x


MODELS = {"mlp": _mlp, "cnn": _cnn}


@pytest.mark.parametrize("name", list(MODELS))
def test_binary32_close_to_real_and_reproducible(name):
    g, x = MODELS[name]()
    real = run(g, x, "real")
    assert real.dtype == np.float64
    y = run(g, x, "binary32")
    assert y.dtype == F32 and y.shape == real.shape
    np.testing.assert_allclose(y, real, rtol=1e-4, atol=1e-5)
    for _ in range(2):
        assert same_bits(run(g, x, "binary32"), y)
    # independent of the BLAS thread count and of the backend
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            assert same_bits(run(g, x, "binary32"), y)
    for backend in BACKENDS:
        with b32.settings(backend=backend):
            assert same_bits(run(g, x, "binary32"), y)
    # the other order is defined too, and close
    yp = run(g, x, "binary32", order="pairwise")
    np.testing.assert_allclose(yp, real, rtol=1e-4, atol=1e-5)
    for backend in BACKENDS:
        with b32.settings(backend=backend):
            assert same_bits(run(g, x, "binary32", order="pairwise"), yp)


def test_binary32_equals_node_by_node_kernels():
    """run() is the kernels applied in graph order (fused epilogues included)."""
    g, x = _mlp()
    assert any(n.post for n in g.nodes)
    vals = {}
    for n in g.nodes:
        if n.op == "input":
            vals[n.id] = x
        elif n.is_source:
            vals[n.id] = g.arrays[n.id]
        else:
            y = get_op(n.op).binary32(*[vals[i] for i in n.inputs], **n.attrs)
            for op, a in n.post:
                y = get_op(op).binary32(y, **a)
            vals[n.id] = y
    assert same_bits(run(g, x, "binary32"), vals[g.outputs[0]])


@pytest.mark.parametrize("idx", range(len(build_all())))
def test_zoo_models(idx):
    name, m, x = build_all()[idx]
    g = compile(m, x).graph
    y = run(g, x, "binary32")
    real = run(g, x, "real")
    np.testing.assert_allclose(y, real, rtol=2e-4, atol=2e-5, err_msg=name)
    assert same_bits(run(g, x, "binary32"), y)


def test_real_semantics_is_the_interpreter_in_float64():
    g, x = _mlp()
    arrays = {k: v.astype(np.float64) for k, v in g.arrays.items()}
    want = evaluate(g, {g.inputs[0].id: x.astype(np.float64)}, arrays)[0][0]
    assert np.array_equal(run(g, x, "real"), want)


def test_float64_models_and_inputs():
    g, x = _mlp()
    g64 = g.copy()
    for n in g64.nodes:
        if n.op == "param":
            n.dtype = "float64"
    g64.arrays = {k: v.astype(np.float64) for k, v in g.arrays.items()}
    # float64 arrays holding binary32 numbers convert exactly
    assert same_bits(run(g64, x.astype(np.float64), "binary32"), run(g, x, "binary32"))
    g64.arrays = {k: v + 1e-12 for k, v in g64.arrays.items()}
    with pytest.raises(CertnnError, match="cast=True"):
        run(g64, x, "binary32")
    y = run(g64, x, "binary32", cast=True)
    assert y.dtype == F32
    with pytest.raises(CertnnError, match="not binary32 numbers"):
        run(g, x.astype(np.float64) + 1e-9, "binary32")


def test_missing_kernel_is_reported(monkeypatch):
    g, x = _mlp()
    import dataclasses

    from certnn.ops import registry
    monkeypatch.setitem(registry._REGISTRY, "relu", dataclasses.replace(get_op("relu"), binary32=None))
    with pytest.raises(UnsupportedOp, match="relu"):
        run(g, x, "binary32")


def test_bad_arguments():
    g, x = _mlp()
    with pytest.raises(ValueError):
        run(g, x, "binary64")
    with pytest.raises(ValueError):
        run(g, x, "binary32", order="reverse")


def _ce_graph():
    nodes = [Node("x", "input", shape=(None, 4), dtype="float32"),
             Node("t", "input", shape=(None,), dtype="int64"),
             Node("w", "param", shape=(3, 4), dtype="float32"),
             Node("h", "linear", ("x", "w")),
             Node("p", "softmax", ("h",)),
             Node("loss", "cross_entropy", ("h", "t"))]
    w = np.random.default_rng(3).standard_normal((3, 4)).astype(F32)
    return Graph(nodes, ["p", "loss"], {"w": w}).validate()


def test_several_inputs_and_outputs_and_integer_targets():
    g = _ce_graph()
    x = np.random.default_rng(4).standard_normal((5, 4)).astype(F32)
    t = np.array([0, 2, 1, -100, 2])
    p, loss = run(g, {"x": x, "t": t}, "binary32")
    p_r, loss_r = run(g, {"x": x, "t": t}, "real")
    assert p.dtype == F32 and loss.shape == ()
    np.testing.assert_allclose(p, p_r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, loss_r, rtol=1e-5)
    with pytest.raises(CertnnError):
        run(g, x, "binary32")          # two inputs: a dict is needed


def test_nan_outputs_are_canonical():
    g, x = _mlp()
    x = x.copy()
    x[0, 0] = np.float32(np.nan)
    y = run(g, x, "binary32")
    assert np.isnan(y[0]).all()
    assert (y[0].view(np.uint32) == np.uint32(0x7FC00000)).all()
