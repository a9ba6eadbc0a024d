"""PyTorch interop: from_torch graphs compute what torch computes, torch's
autograd is an independent oracle for certnn's gradients (graph backward,
eager tensors, compiled modules), state dicts exchange both ways, to_torch
modules compute (and differentiate) what certnn computes for every op of the
table, and from_torch(to_torch(g)) is g. Skipped when torch is absent."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import certnn  # noqa: E402
from certnn import functional as F, nn, zoo  # noqa: E402
from certnn.interop import InteropError  # noqa: E402
from certnn.interop.torch_interop import (UnsupportedTorchOp, from_torch, state_dict_from_torch,  # noqa: E402
                                          state_dict_to_torch, to_torch)
from certnn.ir import Graph, Node, backward, evaluate, trace  # noqa: E402
from certnn.ops import Sample, all_ops  # noqa: E402
from certnn import run  # noqa: E402
from certnn.io import benchmarks_root  # noqa: E402

torch.set_num_threads(1)


# ---------------------------------------------------------------- torch models

def _randomize_norms(m):
    """BatchNorm/LayerNorm with non-trivial affine parameters and running statistics."""
    g = torch.Generator().manual_seed(1)
    for b in m.modules():
        if isinstance(b, tnn.BatchNorm2d | tnn.LayerNorm):
            with torch.no_grad():
                b.weight.copy_(torch.rand(b.weight.shape, generator=g) + 0.5)
                b.bias.copy_(torch.rand(b.bias.shape, generator=g) - 0.5)
                if isinstance(b, tnn.BatchNorm2d):
                    b.running_mean.copy_(torch.rand(b.running_mean.shape, generator=g) - 0.5)
                    b.running_var.copy_(torch.rand(b.running_var.shape, generator=g) + 0.5)
    return m


class Residual(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 3, 3, padding=1)
        self.bn1 = tnn.BatchNorm2d(3)
        self.conv2 = tnn.Conv2d(3, 3, 3, padding="same", bias=False)
        self.bn2 = tnn.BatchNorm2d(3)
        self.fc = tnn.Linear(3 * 3 * 3, 4)

    def forward(self, x):
        y = TF.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y = torch.relu(y + x)                     # the skip connection
        y = TF.max_pool2d(y, 2)
        return self.fc(y.view(y.size(0), -1))


class Functional(tnn.Module):
    """Functions and methods rather than layers: scalars, cat, transpose,
    permute, matmul with a parameter, indexing, reductions."""

    def __init__(self):
        super().__init__()
        self.w = tnn.Parameter(torch.randn(6, 5) * 0.3)
        self.drop = tnn.Dropout(0.3)
        self.ident = tnn.Identity()

    def forward(self, x):
        a = TF.gelu(x) * 2.0 - 0.5
        b = TF.softplus(x, beta=2.0) / 3 + TF.leaky_relu(x, 0.1)
        c = torch.cat([a, b[:, :2]], dim=1)                     # (N, 6)
        c = self.drop(self.ident(c)).unsqueeze(1).transpose(1, 2).permute(0, 2, 1).squeeze(1)
        d = torch.tanh(c @ self.w) + torch.sigmoid(c).mean(dim=1, keepdim=True)
        return TF.log_softmax(d - x.sum(1, keepdim=True), dim=-1)


class Attention(tnn.Module):
    """Single-head self-attention over (N, T, D): matmul of two computed tensors,
    transpose(-2, -1), layer norm over the last dim, a mean over the sequence."""

    def __init__(self, d=8):
        super().__init__()
        self.q, self.k, self.v = tnn.Linear(d, d), tnn.Linear(d, d), tnn.Linear(d, d)
        self.norm = tnn.LayerNorm(d)
        self.head = tnn.Linear(d, 4)
        self.scale = d ** -0.5

    def forward(self, x):
        h = self.norm(x)
        att = torch.softmax(self.q(h) @ self.k(h).transpose(-2, -1) * self.scale, dim=-1)
        y = x + att @ self.v(h)
        return self.head(y.mean(dim=1))


def mlp():
    return tnn.Sequential(tnn.Linear(6, 16), tnn.ReLU(), tnn.Linear(16, 12), tnn.ReLU(), tnn.Linear(12, 4))


def cnn():
    return _randomize_norms(tnn.Sequential(
        tnn.Conv2d(2, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(4, 6, 3, stride=1, padding=2, dilation=2, groups=2), tnn.BatchNorm2d(6), tnn.ReLU(),
        tnn.AvgPool2d(2), tnn.Conv2d(6, 4, 2, stride=2), tnn.Flatten(), tnn.Linear(4, 3)))


def residual():
    return _randomize_norms(Residual())


def activations():
    return _randomize_norms(tnn.Sequential(
        tnn.Linear(5, 8), tnn.Tanh(), tnn.Linear(8, 8), tnn.Sigmoid(), tnn.GELU(), tnn.Softplus(),
        tnn.LeakyReLU(0.2), tnn.LayerNorm(8), tnn.Linear(8, 4), tnn.Softmax(dim=-1)))


def log_softmax_head():
    return tnn.Sequential(tnn.Linear(5, 7), tnn.GELU(), tnn.Dropout(0.5), tnn.Linear(7, 4), tnn.LogSoftmax(dim=1))


def functional():
    return Functional()


MODELS = {"mlp": (mlp, (6,)), "cnn": (cnn, (2, 8, 8)), "residual": (residual, (3, 6, 6)),
          "activations": (activations, (5,)), "log_softmax": (log_softmax_head, (5,)),
          "functional": (functional, (4,)), "attention": (lambda: _randomize_norms(Attention()), (5, 8))}


def build(name, dtype=torch.float64, batch=3, seed=0):
    make, shape = MODELS[name]
    torch.manual_seed(seed)
    m = make().to(dtype).eval()
    x = torch.randn((batch,) + shape, dtype=dtype, generator=torch.Generator().manual_seed(seed + 7))
    return m, x


# ---------------------------------------------------------------- forward

@pytest.mark.parametrize("name", sorted(MODELS))
def test_from_torch_outputs_equal_torch_float64(name):
    m, x = build(name)
    g = from_torch(m, x)
    assert g.inputs[0].shape[0] is None, "a batch-free model must get a dynamic batch dim"
    for batch in (3, 5, 1):  # the example's batch and others
        xb = torch.randn((batch,) + tuple(x.shape[1:]), dtype=torch.float64)
        with torch.no_grad():
            want = m(xb).numpy()
        got = run(g, xb.numpy())
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_from_torch_outputs_equal_torch_float32(name):
    m, x = build(name, dtype=torch.float32)
    g = from_torch(m, x)
    assert {n.dtype for n in g.nodes} == {"float32"}
    with torch.no_grad():
        want = m(x).numpy()
    (got,), _, _ = evaluate(g, {g.inputs[0].id: x.numpy()})  # float32 throughout
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_from_torch_graph_under_binary32_semantics(name):
    """A float32 torch model imports as a float32 graph that certnn's bit-exact
    binary32 semantics runs; it agrees with torch's float32 to rounding."""
    m, x = build(name, dtype=torch.float32)
    g = from_torch(m, x)
    with torch.no_grad():
        want = m(x).numpy()
    got = run(g, x.numpy(), semantics="binary32")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_param_ids_are_torch_state_dict_keys():
    m, x = build("residual")
    g = from_torch(m, x)
    params = {n.id: n.attrs["trainable"] for n in g.params}
    want = {k: not k.endswith(("running_mean", "running_var")) for k in m.state_dict()
            if not k.endswith("num_batches_tracked")}
    assert params == want
    for k, v in m.state_dict().items():
        if k in g.arrays:
            assert np.array_equal(g.arrays[k], v.numpy())


def test_batch_pinning_model_keeps_static_shapes():
    class Pinned(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(6, 2)

        def forward(self, x):
            return self.fc(x.reshape(3, 6))  # the batch of 3 is baked in

    m = Pinned().double().eval()
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    g = from_torch(m, x)
    assert g.inputs[0].shape == (3, 2, 3)
    np.testing.assert_allclose(run(g, x.numpy()), m(x).detach().numpy(), rtol=1e-12)


class TwoHeads(tnn.Module):
    """In-place ReLU, a global average pool, BatchNorm1d without affine, two outputs."""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = tnn.BatchNorm2d(4)
        self.act = tnn.ReLU(inplace=True)
        self.pool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(4, 3)
        self.bn1 = tnn.BatchNorm1d(3, affine=False)

    def forward(self, x):
        y = torch.flatten(self.pool(self.act(self.bn(self.conv(x)))), 1)
        z = self.bn1(self.fc(y))
        return z, TF.softmax(z, dim=1)


def test_multiple_outputs_and_more_layers():
    torch.manual_seed(2)
    m = _randomize_norms(TwoHeads()).double().eval()
    with torch.no_grad():
        m.bn1.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 3, 5, 5, dtype=torch.float64)
    g = from_torch(m, x)
    assert len(g.outputs) == 2 and g.inputs[0].shape[0] is None
    with torch.no_grad():
        want = m(x)
    for got, w in zip(run(g, x.numpy()), want):
        np.testing.assert_allclose(got, w.numpy(), rtol=1e-12, atol=1e-14)
    with torch.no_grad():
        back = to_torch(g)(x)
    for got, w in zip(back, want):
        np.testing.assert_allclose(got.numpy(), w.numpy(), rtol=1e-12, atol=1e-14)


def test_in_place_aliasing_is_caught():
    class Alias(tnn.Module):
        def forward(self, x):
            y = TF.relu(x, inplace=True)  # x itself changes: the result is 2 relu(x)
            return x + y

    x = torch.randn(4, 3)
    keep = x.clone()
    with pytest.raises(InteropError, match="does not reproduce torch's output"):
        from_torch(Alias().eval(), x)
    assert torch.equal(x, keep)  # the example input is left alone


# ---------------------------------------------------------------- gradients

def _with_cross_entropy(g: Graph) -> Graph:
    """g's output fed to cross_entropy with a label input ``target``."""
    nodes = [Node(n.id, n.op, n.inputs, dict(n.attrs), n.shape, n.dtype, n.post) for n in g.nodes]
    nodes.append(Node("target", "input", shape=(None,), dtype="int64"))
    nodes.append(Node("loss", "cross_entropy", (g.outputs[0], "target")))
    return Graph(nodes, ["loss"], dict(g.arrays)).validate()


def _graph_grads(g, feeds, seed):
    _, values, chains = evaluate(g, feeds, keep_chains=True)
    sources = {g.inputs[0].id} | {n.id for n in g.params if n.attrs.get("trainable", True)}
    return backward(g, values, chains, {g.outputs[0]: seed}, sources)


def _torch_grads(m, x, loss_fn):
    x = x.clone().requires_grad_(True)
    m.zero_grad()
    loss_fn(m(x)).backward()
    return x.grad.numpy(), {k: p.grad.numpy() for k, p in m.named_parameters()}


def _assert_grads(got: dict, x_id: str, want_x, want_params, rtol=1e-10):
    np.testing.assert_allclose(got[x_id], want_x, rtol=rtol, atol=1e-13)
    assert set(want_params) <= set(got)
    for k, v in want_params.items():
        np.testing.assert_allclose(got[k], v, rtol=rtol, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_graph_backward_equals_torch_autograd(name):
    m, x = build(name, batch=4)
    g = from_torch(m, x)
    xid = g.inputs[0].id
    # a random cotangent on the output
    with torch.no_grad():
        ct = torch.randn(m(x).shape, dtype=torch.float64)
    want_x, want_p = _torch_grads(m, x, lambda y: (y * ct).sum())
    _assert_grads(_graph_grads(g, {xid: x.numpy()}, ct.numpy()), xid, want_x, want_p)
    # cross-entropy loss on random labels
    with torch.no_grad():
        labels = torch.tensor([0, 3, 1, 2]) % m(x).shape[1]
    want_x, want_p = _torch_grads(m, x, lambda y: TF.cross_entropy(y, labels))
    gl = _with_cross_entropy(g)
    got = _graph_grads(gl, {xid: x.numpy(), "target": labels.numpy()}, np.array(1.0))
    _assert_grads(got, xid, want_x, want_p)


def _certnn_cnn():
    """certnn's twin of ``cnn()`` (same layers, same state-dict keys)."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=1, padding=2, dilation=2, groups=2), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AvgPool2d(2), nn.Conv2d(6, 4, 2, stride=2), nn.Flatten(), nn.Linear(4, 3))


def _certnn_activations():
    return nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.GELU(), nn.Softplus(),
        nn.LeakyReLU(0.2), nn.LayerNorm(8), nn.Linear(8, 4), nn.Softmax(-1))


TWINS = {"mlp": lambda: zoo.mlp(6, (16, 12), 4), "cnn": _certnn_cnn, "activations": _certnn_activations}


@pytest.mark.parametrize("name", sorted(TWINS))
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_eager_and_compiled_gradients_equal_torch(name, mode):
    tm, x = build(name, batch=4)
    cm = TWINS[name]().to(np.float64).eval()
    cm.load_state_dict(state_dict_from_torch(tm.state_dict()))
    with torch.no_grad():
        labels = torch.tensor([2, 0, 1, 3]) % tm(x).shape[1]
    want_x, want_p = _torch_grads(tm, x, lambda y: TF.cross_entropy(y, labels))
    xt = certnn.Tensor(x.numpy().copy(), requires_grad=True)
    f = certnn.compile(cm, x.numpy()) if mode == "compiled" else cm
    loss = F.cross_entropy(f(xt), certnn.Tensor(labels.numpy()))
    loss.backward()
    got = {"x": xt.grad} | {k: p.grad for k, p in cm.named_parameters()}
    _assert_grads(got, "x", want_x, want_p)


# ---------------------------------------------------------------- state dicts

@pytest.mark.parametrize("name", sorted(TWINS))
def test_state_dict_round_trip_gives_identical_outputs(name):
    certnn.manual_seed(3)
    cm = TWINS[name]().to(np.float64).eval()
    for k, t in cm.state_dict().items():  # non-default BatchNorm/LayerNorm values
        cm.load_state_dict({**cm.state_dict(), k: t + np.linspace(0.1, 0.5, t.size).reshape(t.shape)})
    tm, x = build(name)
    tm.load_state_dict(state_dict_to_torch(cm.state_dict()))  # strict: every key matches
    with torch.no_grad():
        yt = tm(x).numpy()
    np.testing.assert_allclose(cm(certnn.Tensor(x.numpy())).data, yt, rtol=1e-12, atol=1e-14)
    # and back: torch -> certnn reproduces the same arrays bit for bit
    cm2 = TWINS[name]().to(np.float64).eval()
    cm2.load_state_dict(state_dict_from_torch(tm.state_dict()))
    for k, v in cm.state_dict().items():
        assert np.array_equal(cm2.state_dict()[k], v), k
    assert np.array_equal(cm2(certnn.Tensor(x.numpy())).data, cm(certnn.Tensor(x.numpy())).data)
    # torch -> certnn -> torch: the same tensors, the same outputs bit for bit
    tm2, _ = build(name, seed=9)
    tm2.load_state_dict(state_dict_to_torch(state_dict_from_torch(tm.state_dict())))
    for k, v in tm.state_dict().items():
        assert torch.equal(tm2.state_dict()[k], v), k
    with torch.no_grad():
        assert torch.equal(tm2(x), tm(x))


def test_state_dict_conversion_details():
    sd = state_dict_to_torch({"bn.running_mean": np.zeros(2), "bn.running_var": np.ones(2), "w": np.ones(3)})
    assert sd["bn.num_batches_tracked"].item() == 0 and "w.num_batches_tracked" not in sd
    back = state_dict_from_torch(sd)
    assert set(back) == {"bn.running_mean", "bn.running_var", "w"}
    assert state_dict_from_torch({"h": torch.ones(2, dtype=torch.bfloat16)})["h"].dtype == np.float32
    with pytest.raises(InteropError, match="'bad'"):
        state_dict_from_torch({"bad": [1.0, 2.0]})


# ---------------------------------------------------------------- to_torch

def _zoo_graphs():
    certnn.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {}
    for name, m, shape in [("mlp", zoo.mlp(12, (10,), 5, "gelu"), (12,)), ("cnn", zoo.cnn(1, 5, 4, 8), (1, 8, 8))]:
        m = m.to(np.float64).eval()
        x = rng.normal(size=(3,) + shape)
        out[name] = (trace(m, x)[0], x)
    tm, x = build("residual")
    out["residual"] = (from_torch(tm, x), x.numpy())
    return out


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual"])
def test_to_torch_outputs_and_gradients_equal_certnn(name):
    g, x = _zoo_graphs()[name]
    tm = to_torch(g)
    trainable = {n.id for n in g.params if n.attrs.get("trainable", True)}
    assert {k for k, _ in tm.named_parameters()} == trainable  # named after the param ids
    assert set(tm.state_dict()) == {n.id for n in g.params}
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y = tm(xt)
    np.testing.assert_allclose(y.detach().numpy(), run(g, x), rtol=1e-12, atol=1e-14)
    ct = np.random.default_rng(1).normal(size=y.shape)
    (y * torch.from_numpy(ct)).sum().backward()
    got = _graph_grads(g, {g.inputs[0].id: x}, ct)
    _assert_grads(got, g.inputs[0].id, xt.grad.numpy(), {k: p.grad.numpy() for k, p in tm.named_parameters()})


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual"])
def test_from_torch_of_to_torch_is_the_same_graph(name):
    g, x = _zoo_graphs()[name]
    g2 = from_torch(to_torch(g), torch.from_numpy(x))
    assert [n.op for n in g2.nodes if not n.is_source] == [n.op for n in g.nodes if not n.is_source]
    assert g2.inputs[0].shape[0] is None
    assert np.array_equal(run(g2, x), run(g, x))
    xb = np.random.default_rng(5).normal(size=(7,) + x.shape[1:])
    assert np.array_equal(run(g2, xb), run(g, xb))


def _conventions():
    """Points where torch's defaults differ from certnn's conventions."""
    rng = np.random.default_rng(4)
    ties = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(np.float64)  # many tied window maxima
    return [
        ("max_pool2d", Sample((ties,), {"kernel_size": (2, 2)})),
        ("max_pool2d", Sample((ties,), {"kernel_size": (3, 3), "stride": (1, 1), "padding": (1, 1)})),
        ("max", Sample((ties[0, 0],), {"axes": (1,)})),
        ("maximum", Sample((ties[0, 0], ties[0, 1]), {})),
        ("softplus", Sample((np.linspace(19.0, 23.0, 12).reshape(3, 4),), {})),  # torch: x above 20
        ("cross_entropy", Sample((rng.normal(size=(3, 4)), np.full(3, -100)), {})),  # every label ignored
        ("reshape", Sample((rng.normal(size=(2, 3, 4)),), {"shape": (0, 0, -1)})),  # 0 copies a dim
    ]


def test_fused_epilogues_export_as_separate_calls():
    from certnn.ir import optimize
    g, x = _zoo_graphs()["cnn"]
    fused = optimize(g)
    assert any(n.post for n in fused.nodes)
    tm = to_torch(fused)
    with torch.no_grad():
        np.testing.assert_allclose(tm(torch.from_numpy(x)).numpy(), run(fused, x), rtol=1e-12, atol=1e-14)
    g2 = from_torch(tm, torch.from_numpy(x))
    assert not any(n.post for n in g2.nodes)
    assert np.array_equal(run(g2, x), run(fused, x))


def _op_cases():
    rng = np.random.default_rng(0)
    for op in all_ops():
        for k, s in enumerate(op.samples(rng) if op.samples else []):
            yield pytest.param(op.name, s, id=f"{op.name}-{k}")
    for k, (op, s) in enumerate(_conventions()):
        yield pytest.param(op, s, id=f"convention-{op}-{k}")


@pytest.mark.parametrize("op, sample", list(_op_cases()))
def test_to_torch_every_op_matches_certnn_value_and_vjp(op, sample):
    """One-node graphs over the op table's conformance samples (ties, kinks and
    padding included): to_torch follows certnn's conventions, values and vjps."""
    ins = [np.asarray(a) for a in sample.inputs]
    nodes = [Node(f"in{i}", "input", shape=a.shape, dtype=str(a.dtype)) for i, a in enumerate(ins)]
    nodes.append(Node("y", op, tuple(f"in{i}" for i in range(len(ins))), dict(sample.attrs)))
    g = Graph(nodes, ["y"]).validate()
    feeds = {f"in{i}": a for i, a in enumerate(ins)}
    (want,), values, chains = evaluate(g, feeds, keep_chains=True)
    xs = [torch.from_numpy(a.copy()).requires_grad_(a.dtype.kind == "f") for a in ins]
    y = to_torch(g)(*xs)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    if not np.all(np.isfinite(want)):
        return
    ct = np.random.default_rng(2).normal(size=want.shape)
    (y * torch.from_numpy(ct)).sum().backward()
    diff = {f"in{i}" for i, a in enumerate(ins) if a.dtype.kind == "f"}
    got = backward(g, values, chains, {"y": ct}, diff)
    for i, t in enumerate(xs):
        if t.requires_grad and f"in{i}" in got:
            # force: a gradient torch knows to be zero (a constant derivative) is a ZeroTensor
            np.testing.assert_allclose(t.grad.numpy(force=True), got[f"in{i}"], rtol=1e-10, atol=1e-12,
                                       err_msg=f"input {i}")


def test_to_torch_covers_the_zoo_and_escapes_odd_names():
    nodes = [Node("x", "input", shape=(None, 3)), Node("a..b", "param", shape=(3,)),
             Node("y", "add", ("x", "a..b"))]
    g = Graph(nodes, ["y"], {"a..b": np.ones(3, np.float32)}).validate()
    tm = to_torch(g)
    path = tm.certnn_names["a..b"]
    assert path != "a..b" and path in dict(tm.named_parameters())
    assert np.array_equal(tm(torch.zeros(2, 3)).detach().numpy(), np.ones((2, 3), np.float32))


# ---------------------------------------------------------------- errors

def test_unsupported_module_names_node_and_target():
    m = tnn.Sequential(tnn.Linear(3, 3), tnn.ReLU6()).eval()
    with pytest.raises(UnsupportedTorchOp, match=r"'_1'.*module '1'.*ReLU6"):
        from_torch(m, torch.randn(2, 3))


def test_unsupported_function_names_node_and_target():
    class Sin(tnn.Module):
        def forward(self, x):
            return torch.sin(x)

    with pytest.raises(InteropError, match=r"'sin'.*torch.*sin"):
        from_torch(Sin().eval(), torch.randn(2, 3))


def test_training_mode_is_refused():
    m = tnn.Sequential(tnn.Linear(3, 3), tnn.BatchNorm1d(3), tnn.Dropout())
    with pytest.raises(InteropError, match="training mode.*eval"):
        from_torch(m, torch.randn(2, 3))
    m.eval()
    m[2].train()
    with pytest.raises(InteropError, match="training mode.*'?2"):
        from_torch(m, torch.randn(2, 3))


def test_dropout_forced_into_training_is_refused():
    class Drop(tnn.Module):
        def forward(self, x):
            return TF.dropout(x, 0.5)  # training=True by default

    with pytest.raises(UnsupportedTorchOp, match="dropout.*training"):
        from_torch(Drop().eval(), torch.randn(2, 3))


def test_wrong_example_shape_is_refused():
    m = mlp().eval()
    with pytest.raises(InteropError, match=r"example input of shape \(2, 5\).*does not fit"):
        from_torch(m, torch.randn(2, 5))
    with pytest.raises(InteropError, match="float"):
        from_torch(m, torch.ones(2, 6, dtype=torch.long))


def test_data_dependent_control_flow_is_refused():
    class Branch(tnn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(InteropError, match="torch.fx cannot trace"):
        from_torch(Branch().eval(), torch.randn(2, 3))


def test_not_a_module_is_refused():
    with pytest.raises(InteropError, match="torch.nn.Module"):
        from_torch(mlp, torch.randn(2, 6))


def test_certnn_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import certnn, certnn.interop, certnn.ir\n"
            "assert 'certnn.interop.torch_interop' not in sys.modules\n"
            "try:\n    import certnn.interop.torch_interop\nexcept ImportError:\n    print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------- benchmark ONNX models

def _onnx_files():
    bench = benchmarks_root()
    return sorted(p for p in bench.rglob("*") if p.name.endswith((".onnx", ".onnx.gz")))


@pytest.mark.skipif(not _onnx_files(), reason="no ONNX files under $CERTNN_BENCHMARKS")
@pytest.mark.parametrize("path", _onnx_files(), ids=lambda p: p.name)
def test_benchmark_onnx_models_through_torch(path):
    """ONNX ids (slashes, colons), 1-D inputs and fixed batches: to_torch agrees
    with certnn and from_torch(to_torch(g)) computes exactly what g computes."""
    from certnn.interop import load_onnx
    g = load_onnx(path)
    n = g.inputs[0]
    x = np.random.default_rng(0).uniform(-1, 1, tuple(2 if d is None else d for d in n.shape)).astype(n.dtype)
    tm = to_torch(g)
    with torch.no_grad():
        y = tm(torch.from_numpy(x)).numpy()
    want = run(g, x)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))
    g2 = from_torch(tm, torch.from_numpy(x))
    assert g2.inputs[0].shape == n.shape
    assert np.array_equal(run(g2, x), want)
