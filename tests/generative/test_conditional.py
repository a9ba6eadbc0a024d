"""The conditional VAE: conditioning works (on the 2-D mixture, samples drawn for
component k land at mode k; a model trained on shuffled labels does not), labels
are checked, and the scores of conditional samples count what they say."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from certnn.errors import CertnnError
from certnn.generative.distributions import gaussian_nll
from certnn.generative.frechet import conditional_accuracy
from certnn.generative.toy import GaussianMixture
from certnn.generative.train import build, default_config, fit, load_data
from certnn.random import manual_seed
from certnn.tensor import Tensor


def _mode_hits(labels_of_training) -> list[float]:
    """Train the toy CVAE (2 epochs) on the mixture with the given training labels;
    for each component k, the fraction of 1000 samples drawn for k nearest to mode k."""
    manual_seed(0)
    model = build(default_config("cvae", "toy2d"))
    (xtr, ytr), test = load_data("toy2d", model.data_shape)
    fit(model, (xtr, labels_of_training(ytr)), test, epochs=2, batch_size=256, log=lambda s: None)
    gm = GaussianMixture()
    return [float((gm.nearest_mode(model.sample(1000, np.random.default_rng(k), labels=np.full(1000, k))) == k).mean())
            for k in range(len(gm.weights))]


def test_cvae_samples_of_class_k_land_at_mode_k_and_shuffled_labels_do_not():
    assert min(_mode_hits(lambda y: y)) > 0.9
    # negative control: labels carrying no information give samples spread as the mixture
    # (chance: the weights 0.5, 0.3, 0.2), so the statistic can fail
    shuffled = _mode_hits(lambda y: np.random.default_rng(1).permutation(y))
    assert np.mean(shuffled) < 0.6, shuffled


def test_cvae_checks_its_labels():
    model = build({"arch": "cvae", "classes": 3, "in_features": 4, "hidden": 8, "latent": 2})
    rng = np.random.default_rng(0)
    assert model.sample(6, rng).shape == (6, 4)                       # default labels: blocks 0 0 1 1 2 2
    with pytest.raises(CertnnError, match=r"0\.\.2"):
        model.sample(2, rng, labels=np.array([0, 3]))
    with pytest.raises(CertnnError, match="give the labels"):
        model.evaluate(rng.random((2, 4)).astype(np.float32), rng)
    with pytest.raises(CertnnError, match="classes >= 1"):
        build({"arch": "cvae", "classes": 0})
    with pytest.raises(CertnnError, match="likelihood"):
        build({"arch": "vae", "likelihood": "poisson"})


def test_gaussian_nll_is_the_normal_density():
    rng = np.random.default_rng(0)
    m, x = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    got = gaussian_nll(Tensor(m), x, 0.4).data
    want = [-multivariate_normal(mi, 0.16 * np.eye(2)).logpdf(xi) for mi, xi in zip(m, x)]
    assert np.allclose(got, want, rtol=1e-5)


def test_conditional_accuracy_counts_hits_per_class():
    from certnn import nn
    net = nn.Sequential(nn.Linear(784, 10))
    net[0].weight.data[...] = np.eye(10, 784, dtype=np.float32)         # class k reads pixel k
    net[0].bias.data[...] = 0
    shown = np.array([0, 0, 1, 1, 1, 2])
    asked = np.array([0, 1, 1, 1, 2, 2])
    images = np.zeros((len(shown), 784), np.float32)
    images[np.arange(len(shown)), shown] = 1
    acc = conditional_accuracy(net, images, asked, classes=3)
    assert acc["accuracy"] == pytest.approx(4 / 6)
    assert acc["per_class"] == [1.0, pytest.approx(2 / 3), 0.5]


def test_budget_stops_after_the_first_epoch():
    manual_seed(0)
    model = build(default_config("cvae", "toy2d"))
    train_set, test_set = load_data("toy2d", model.data_shape, limit_train=512, limit_test=64)
    r = fit(model, train_set, test_set, epochs=5, log=lambda s: None, budget_seconds=1e-9)
    assert r["epochs"] == 1 and len(r["history"]) == 1
