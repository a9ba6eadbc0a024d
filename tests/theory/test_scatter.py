"""ScatterNet features for DP-SGD (Tramer & Boneh): the transform's defining
properties, the per-example normalisation, the feature cache, per-example
gradients of the linear model and the canary audit on its input shape (a
training run through the CLI is in test_cli_dp)."""

import numpy as np
import pytest

pytest.importorskip("kymatio")

from certnn import functional as F
from certnn.errors import CertnnError
from certnn.optim import per_example_grads
from certnn.random import manual_seed
from certnn.tensor import Tensor
from certnn.theory.audit import audit_dpsgd
from certnn.theory.dp_train import scatter_linear
from certnn.theory.scatter import CHANNELS, cached_scatter_features, group_normalise, scatter_features


def test_constant_image_has_only_the_low_pass_coefficient():
    # order 0 is phi_J * x (a unit-mass low-pass): a constant image stays that constant;
    # every wavelet has zero mean, so orders 1 and 2 vanish
    f = scatter_features(np.full((1, 28, 28), 0.5, np.float32))
    assert f.shape == (1, CHANNELS, 7, 7) == (1, 81, 7, 7)
    np.testing.assert_allclose(f[0, 0], 0.5, rtol=1e-4)
    assert np.abs(f[0, 1:]).max() < 1e-6


def test_shift_by_two_to_the_j_moves_the_grid_by_one_cell():
    rng = np.random.default_rng(0)
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 8:18, 6:16] = rng.random((10, 10))
    shifted = np.roll(img, 4, axis=2)                     # 4 = 2^J pixels right, still inside the frame
    f, g = scatter_features(img), scatter_features(shifted)
    scale = np.abs(f).max()
    np.testing.assert_allclose(g[..., 1:], f[..., :-1], atol=0.02 * scale)
    assert np.abs(g[..., 1:] - f[..., 1:]).max() > 0.2 * scale  # the features do move


def test_group_normalisation_is_per_example():
    rng = np.random.default_rng(1)
    f = rng.gamma(2.0, size=(3, 81, 7, 7)).astype(np.float32)
    z = group_normalise(f, 27)
    groups = z.reshape(3, 27, -1)
    np.testing.assert_allclose(groups.mean(axis=2), 0, atol=1e-5)
    np.testing.assert_allclose(groups.std(axis=2), 1, atol=1e-3)
    np.testing.assert_array_equal(group_normalise(f[1:2], 27), z[1:2])    # the other examples play no part
    with pytest.raises(CertnnError, match="divide"):
        group_normalise(f, 10)


def test_features_are_cached_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    img = np.random.default_rng(2).random((3, 28, 28)).astype(np.float32)
    a = cached_scatter_features(img)
    files = list((tmp_path / "certnn" / "scatter").glob("*.npy"))
    assert len(files) == 1
    np.testing.assert_array_equal(np.load(files[0], allow_pickle=False), a)
    np.testing.assert_array_equal(cached_scatter_features(img), a)


def test_linear_per_example_gradients_equal_a_loop():
    rng = np.random.default_rng(3)
    x = group_normalise(rng.gamma(2.0, size=(5, 81, 7, 7)).astype(np.float32))
    y = rng.integers(0, 10, 5)
    manual_seed(0)
    model = scatter_linear(dtype=np.float64)
    x = x.astype(np.float64)
    grads = per_example_grads(F.cross_entropy(model(Tensor(x)), y, reduction="none"), model.parameters())
    for n in range(5):
        model.zero_grad()
        F.cross_entropy(model(Tensor(x[n:n + 1])), y[n:n + 1]).backward()
        for g, p in zip(grads, model.parameters()):
            np.testing.assert_allclose(g[n], p.grad, rtol=1e-10, atol=1e-14)


def test_audit_on_scatter_features_is_consistent():
    rng = np.random.default_rng(4)
    x = group_normalise(rng.gamma(2.0, size=(16, 81, 7, 7)).astype(np.float32))
    r = audit_dpsgd(trials=100, max_grad_norm=0.1, data=(x, rng.integers(0, 10, 16)))
    assert not r.caught and r.epsilon_lower < r.epsilon_upper
