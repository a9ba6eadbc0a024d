import numpy as np
import pytest

from certnn import Tensor, nn
from certnn.errors import CertnnError, CheckpointError, ShapeError


def test_shape_error_names_layer_expected_and_actual():
    m = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    with pytest.raises(ShapeError) as e:
        m(Tensor(np.zeros((2, 100), np.float32)))
    msg = str(e.value)
    assert "'0'" in msg and "Linear" in msg and "784" in msg and "(2, 100)" in msg


def test_nested_layer_path():
    m = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3)), nn.Flatten())
    with pytest.raises(ShapeError, match=r"in layer '0\.0' Conv2d.*\(N, 3, H, W\).*\(1, 1, 5, 5\)"):
        m(Tensor(np.zeros((1, 1, 5, 5), np.float32)))


def test_construction_errors():
    with pytest.raises(ShapeError, match="groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ShapeError):
        nn.Linear(0, 3)
    with pytest.raises(CertnnError):
        nn.Dropout(1.5)


def test_state_dict_roundtrip_and_errors():
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    sd = a.state_dict()
    assert "1.running_mean" in sd and "3.weight" in sd
    b.load_state_dict(sd)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32))
    assert np.array_equal(a.eval()(x).data, b.eval()(x).data)
    bad = dict(sd)
    bad["3.weight"] = np.zeros((3, 3))
    with pytest.raises(CheckpointError, match="3.weight"):
        b.load_state_dict(bad)
    del bad["3.weight"]
    with pytest.raises(CheckpointError, match="missing"):
        b.load_state_dict(bad)


def test_batchnorm_train_updates_running_stats_and_eval_uses_them():
    bn = nn.BatchNorm2d(2)
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32) * 3 + 1
    y = bn(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    bn.eval()
    ye = bn(Tensor(x)).data
    ref = (x - bn.running_mean.data[None, :, None, None]) / np.sqrt(bn.running_var.data[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(ye, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(16, 5), (8, 5, 3)])
def test_batchnorm1d_matches_torch_in_train_and_eval(shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 3 + 1
    bn, ref = nn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)
    xt = Tensor(x, requires_grad=True)
    y = bn(xt)
    (y * y * Tensor(np.arange(x.size, dtype=np.float32).reshape(shape))).sum().backward()
    rx = torch.tensor(x, requires_grad=True)
    ry = ref(rx)
    (ry * ry * torch.arange(x.size, dtype=torch.float32).reshape(shape)).sum().backward()
    np.testing.assert_allclose(y.data, ry.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(xt.grad, rx.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(bn.running_var.data, ref.running_var.numpy(), rtol=1e-5)
    bn.eval(), ref.eval()
    np.testing.assert_allclose(bn(Tensor(x)).data, ref(torch.tensor(x)).detach().numpy(), atol=1e-5)
    with pytest.raises(ShapeError, match=r"\(N, 5\) or \(N, 5, L\)"):
        bn(Tensor(np.zeros((2, 4), np.float32)))


def test_dropout_train_and_eval():
    d = nn.Dropout(0.5)
    x = Tensor(np.ones((1000,), np.float32))
    y = d(x).data
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    assert d.eval()(x) is x


def test_train_eval_flags_propagate():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout()))
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())


def test_same_seed_same_weights():
    from certnn.random import manual_seed
    manual_seed(5)
    a = nn.Linear(4, 3).weight.data.copy()
    manual_seed(5)
    assert np.array_equal(a, nn.Linear(4, 3).weight.data)
