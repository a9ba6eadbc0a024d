"""Every zoo family at small size, through the rest of certnn: PyTorch's autograd
agrees with certnn's gradients (float64, the graph exported by to_torch),
onnxruntime runs the exported ONNX graph to the same outputs, ``certnn graph``
draws it, and the error-budget interpreter bounds it."""

import numpy as np
import pytest

from certnn.ir import backward, evaluate, trace
from certnn.ir.passes import optimize

from ..zoo_models import build_all, build_token_models

torch = pytest.importorskip("torch")

FLOAT = {name: (m, x) for name, m, x in build_all() if name.startswith("zoo_")}
TOKENS = {name: (m, x) for name, m, x in build_token_models()}
ALL = {**FLOAT, **TOKENS}


def _model(name, dtype=np.float32):
    source = build_all(dtype) if name in FLOAT else build_token_models(dtype)
    return next((m, x) for n, m, x in source if n == name)


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradients_equal_torch_float64(name):
    from certnn.interop.torch_interop import to_torch
    m, x = _model(name, np.float64)
    g = trace(m, x)[0]
    tm = to_torch(g).double()
    float_input = x.dtype.kind == "f"
    xt = torch.from_numpy(x.copy()).requires_grad_(float_input)
    y = tm(xt)
    (want,), values, chains = evaluate(g, {g.inputs[0].id: x}, keep_chains=True)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    ct = np.random.default_rng(1).normal(size=want.shape)
    (y * torch.from_numpy(ct)).sum().backward()
    params = {p.id for p in g.params if p.attrs.get("trainable", True)}
    got = backward(g, values, chains, {g.outputs[0]: ct}, params | ({g.inputs[0].id} if float_input else set()))
    named = dict(tm.named_parameters())
    for k in params:
        np.testing.assert_allclose(got[k], named[tm.certnn_names[k]].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"{name}: {k}")
    if float_input:
        np.testing.assert_allclose(got[g.inputs[0].id], xt.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", sorted(ALL))
def test_onnx_export_runs_in_onnxruntime(name, tmp_path):
    import onnxruntime as ort

    from certnn import run
    from certnn.interop import save_onnx
    m, x = _model(name)
    g = optimize(trace(m, x)[0])
    save_onnx(g, tmp_path / "m.onnx")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), so, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, run(g, x), rtol=2e-5, atol=2e-6)
    if g.inputs[0].shape[0] is None:           # and another batch size
        x2 = np.concatenate([x, x[:1]])
        np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x2})[0], run(g, x2), rtol=2e-5,
                                   atol=2e-6)


@pytest.mark.parametrize("name", ["zoo_vit", "zoo_fno", "zoo_lstm", "zoo_chargpt", "zoo_mamba"])
def test_graph_command_draws_it(name, tmp_path):
    from click.testing import CliRunner

    from certnn.cli import cli
    from certnn.interop.checkpoint import save_checkpoint
    m, x = _model(name)
    save_checkpoint(tmp_path / "ck", m, {"arch": "custom"}, trace(m, x)[0])
    for fmt in ("text", "dot"):
        r = CliRunner().invoke(cli, ["graph", str(tmp_path / "ck"), "--format", fmt])
        assert r.exit_code == 0, r.output
    assert "digraph" in r.output and ("->" in r.output)


@pytest.mark.parametrize("name", ["zoo_vit", "zoo_fno", "zoo_gru", "zoo_adder", "zoo_mamba"])
def test_error_budget_bounds_the_binary32_error(name):
    """At the input point the bound is finite; on a box it holds at sampled points
    (it may be infinite there: a layer norm whose variance box reaches 0)."""
    from certnn import run
    from certnn.error_budget.forward import error_budget
    m, x = _model(name)
    g = trace(m, x)[0]
    point = error_budget(g, x, x)
    assert np.all(np.isfinite(point.bound)) and point.evidence == "checked"
    boxes = [(x, x, [x])]
    if x.dtype.kind == "f":
        rng = np.random.default_rng(0)
        boxes.append((x - 0.01, x + 0.01, [(x + rng.uniform(-0.01, 0.01, x.shape)).astype(np.float32)
                                           for _ in range(5)]))
    for lo, hi, points in boxes:
        b = error_budget(g, np.asarray(lo, np.float64), np.asarray(hi, np.float64))
        for p in points:
            y32 = run(g, p, semantics="binary32").astype(np.float64)
            yr = run(g, p.astype(np.float64) if p.dtype.kind == "f" else p, semantics="real")
            assert np.all(np.abs(y32 - yr) <= b.bound + 1e-12 * np.abs(yr))
