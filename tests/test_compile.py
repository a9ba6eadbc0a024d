"""Compiled mode equals eager mode exactly, forward and backward, on every zoo model."""

import numpy as np
import pytest

from certnn import Tensor
from certnn import functional as F
from certnn.ir.compile import compile

from .zoo_models import build_all, build_token_models

N_MODELS = len(build_all())
N_TOKEN_MODELS = len(build_token_models())


def _grads(module, run, x):
    module.zero_grad()
    xt = Tensor(x, requires_grad=np.asarray(x).dtype.kind == "f")   # token ids have no gradient
    out = run(xt)
    v = np.cos(np.arange(out.data.size, dtype=out.dtype)).reshape(out.shape)  # fixed cotangent
    F.sum(out * Tensor(v)).backward()
    return out.data, xt.grad, [p.grad.copy() for p in module.parameters()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx", range(N_MODELS))
def test_compiled_equals_eager_bitwise(idx, dtype):
    name, m, x = build_all(dtype)[idx]
    c = compile(m, x)
    y_e, gx_e, gp_e = _grads(m, m, x)
    y_c, gx_c, gp_c = _grads(m, c, x)
    assert y_c.dtype == dtype
    assert np.array_equal(y_e, y_c), name
    assert np.array_equal(gx_e, gx_c), name
    for a, b in zip(gp_e, gp_c):
        assert np.array_equal(a, b), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx", range(N_TOKEN_MODELS))
def test_compiled_equals_eager_bitwise_on_token_models(idx, dtype):
    name, m, x = build_token_models(dtype)[idx]
    c = compile(m, x)
    assert c.graph.inputs[0].shape[0] is None, name          # batch-free graph
    y_e, _, gp_e = _grads(m, m, x)
    y_c, _, gp_c = _grads(m, c, x)
    assert y_c.dtype == dtype and np.array_equal(y_e, y_c), name
    for a, b in zip(gp_e, gp_c):
        assert np.array_equal(a, b), name


@pytest.mark.parametrize("idx", range(N_MODELS))
def test_compiled_without_passes_and_other_batch_sizes(idx):
    name, m, x = build_all()[idx]
    plain = compile(m, x, optimize_graph=False)
    fast = compile(m, x)
    x2 = np.concatenate([x, x[:1]])  # a batch size not seen when tracing
    assert np.array_equal(plain(x2).data, fast(x2).data)
    assert np.array_equal(m(Tensor(x2)).data, fast(x2).data)


def test_fusion_folds_activation_into_linear():
    _, m, x = build_all()[0]
    g = compile(m, x).graph
    posts = [n.post for n in g.nodes if n.op == "linear"]
    assert [p[0][0] for p in posts if p] == ["relu", "tanh"]
    assert not any(n.op in ("relu", "tanh") for n in g.nodes)


def test_constant_folding_and_dead_code():
    from certnn import nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            k = Tensor(np.full(3, 2.0, np.float32)) * Tensor(np.full(3, 3.0, np.float32))  # constant
            _ = F.exp(x)  # dead
            return self.fc(x) + k

    m = M().eval()
    x = np.ones((2, 3), np.float32)
    g = compile(m, x).graph
    assert [n.op for n in g.nodes].count("mul") == 0
    assert "exp" not in [n.op for n in g.nodes]
    consts = [n for n in g.nodes if n.op == "const"]
    assert len(consts) == 1 and np.all(g.arrays[consts[0].id] == 6.0)
    assert np.array_equal(compile(m, x)(x).data, m(Tensor(x)).data)


def test_compile_rejects_training_mode_dropout_and_batchnorm():
    from certnn.errors import CertnnError
    models = {name: (m, x) for name, m, x in build_all()}
    m, x = models["dropout_softmax"]
    m.train()
    with pytest.raises(CertnnError, match="Dropout"):
        compile(m, x)
    m, x = models["residual_bn"]
    m.train()
    with pytest.raises(CertnnError, match="BatchNorm2d"):
        compile(m, x)


def test_compiled_sees_parameter_updates():
    _, m, x = build_all()[0]
    c = compile(m, x)
    before = c(x).data.copy()
    for p in m.parameters():
        p.data *= 0.5
    after = c(x).data
    assert not np.array_equal(before, after)
    assert np.array_equal(after, m(Tensor(x)).data)


@pytest.mark.parametrize("name", ["residual_bn", "zoo_resnet"])
def test_training_mode_batchnorm_compiles_equal_to_eager_running_stats_included(name):
    from certnn.errors import CertnnError
    from certnn.nn.layers import BatchNorm2d
    models = {n: (m, x) for n, m, x in build_all()}
    m, x = models[name]
    m.train()
    state0 = {k: t.data.copy() for k, t in m.named_buffers()}
    c = compile(m, x, batch_statistics=True)
    assert c.updates and all(layer.training for _, layer in c.updates)
    assert all(np.array_equal(t.data, state0[k]) for k, t in m.named_buffers())   # tracing left them alone
    bns = [mod for mod in m.modules() if isinstance(mod, BatchNorm2d)]
    x2 = x * 0.5 + 0.25
    runs = {}
    for label, run in (("eager", m), ("compiled", c)):
        for k, t in m.named_buffers():
            t.data[...] = state0[k]
        runs[label] = [_grads(m, run, xb) for xb in (x, x2)] + [[b.running_var.data.copy() for b in bns]
                                                                + [b.running_mean.data.copy() for b in bns]]
    for (ye, gxe, gpe), (yc, gxc, gpc) in zip(runs["eager"][:2], runs["compiled"][:2]):
        assert np.array_equal(ye, yc) and np.array_equal(gxe, gxc)
        assert all(np.array_equal(a, b) for a, b in zip(gpe, gpc))
    assert all(np.array_equal(a, b) for a, b in zip(runs["eager"][2], runs["compiled"][2]))
    assert not np.array_equal(bns[0].running_mean.data, state0[next(k for k in state0 if "running_mean" in k)])
    m.eval()
    with pytest.raises(CertnnError, match="eval mode"):
        c(x)
