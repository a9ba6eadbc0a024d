"""The four generative models train on certnn's autograd (the loss goes down on
a small MNIST slice), checkpoint and reload to the same samples, and write PNGs."""

import json

import numpy as np
import pytest

from certnn.errors import CertnnError, CheckpointError
from certnn.generative.frechet import features, frechet_distance
from certnn.generative.grid import image_grid, save_samples
from certnn.generative.train import build, default_config, load, train
from certnn.tensor import Tensor

SMALL = {"vae": {}, "gan": {"g_hidden": [64], "d_hidden": [64]},
         "ddpm": {"hidden": [128, 128], "sample_steps": 5, "T": 50}, "vqvae": {}}


@pytest.mark.parametrize("arch", ["vae", "gan", "ddpm", "vqvae"])
def test_train_checkpoint_reload_sample(arch, tmp_path):
    n_train = 96 if arch == "vqvae" else 512
    out = tmp_path / arch
    r = train(arch, "mnist", epochs=2, seed=0, out=out, batch_size=32, overrides=SMALL[arch],
              limit_train=n_train, limit_test=64, log=lambda s: None)
    h = r["history"]
    assert r["model"] == arch and r["epochs"] == 2 and np.isfinite(r["test_loss"]) and r["theorems"]
    if arch != "gan":                                  # adversarial losses need not go down
        assert h[1]["train_loss"] < h[0]["train_loss"], h
    png = (out / "samples.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((out / "checkpoint.json").read_text())
    assert meta["config"]["arch"] == arch and meta["info"]["epochs"] == 2
    model, _ = load(out)
    a = model.sample(4, np.random.default_rng(9))
    b = model.sample(4, np.random.default_rng(9))
    assert a.shape[0] == 4 and np.array_equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_vqvae_reports_codebook_usage():
    model = build({"arch": "vqvae"})
    ev = model.evaluate(np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32), None)
    assert 1 <= ev["codes_used"] <= 64 and 1.0 <= ev["perplexity"] <= ev["codes_used"] + 1e-9


def test_toy_ddpm_learns_the_mixture_roughly():
    r = train("ddpm", "toy2d", epochs=3, seed=0, batch_size=256, log=lambda s: None)
    assert r["history"][-1]["test_loss"] < r["history"][0]["test_loss"] < 1.0


def test_bad_configs_are_named():
    with pytest.raises(CertnnError, match="image model"):
        default_config("vae", "toy2d")
    with pytest.raises(CertnnError, match="unknown generative model"):
        default_config("flow", "mnist")
    with pytest.raises(CheckpointError, match="bad config"):
        build({"arch": "vae", "width": 3})


def test_frechet_distance_and_grid(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 3))
    assert abs(frechet_distance(a, a)) < 1e-8
    shifted = a + np.array([1.0, 0.0, 2.0])
    assert abs(frechet_distance(a, shifted) - 5.0) < 1e-6           # ||mu_a - mu_b||^2 only
    from certnn.zoo import mlp
    net = mlp(784, [8], 10)
    f = features(net, rng.random((5, 784)))
    assert f.shape == (5, 8) and (f >= 0).all()                      # after the hidden relu
    assert image_grid(rng.random((5, 784)), nrow=3).shape == (2 * 30 + 2, 3 * 30 + 2)
    save_samples(rng.standard_normal((50, 2)), tmp_path / "toy.png")
    assert (tmp_path / "toy.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(CertnnError, match="png"):
        save_samples(rng.random((4, 784)), tmp_path / "grid.jpg")


def test_vqvae_moves_only_dead_codes_onto_encoder_outputs():
    model = build({"arch": "vqvae"})
    model.make_optimizers()
    rng = np.random.default_rng(0)

    def encoded(x):
        return model.encoder(Tensor(x - 0.5)).data.transpose(0, 2, 3, 1).reshape(-1, model.code_dim)

    def rows_of(codes, z):
        return all(np.any(np.all(z == row, axis=1)) for row in codes)

    x1, x2 = (rng.random((4, 1, 28, 28)).astype(np.float32) for _ in range(2))
    # before any training step no code has been used: all move onto encoder outputs
    assert model.restart_dead_codes(x1, rng) == model.codes and rows_of(model.codebook.data, encoded(x1))
    model._usage[:10] = 5
    before = model.codebook.data.copy()
    assert model.restart_dead_codes(x2, rng) == model.codes - 10 and not model._usage.any()
    assert np.array_equal(model.codebook.data[:10], before[:10])
    assert rows_of(model.codebook.data[10:], encoded(x2)) and not rows_of(model.codebook.data[10:], encoded(x1))


def test_gan_generator_is_batch_normalised_and_real_labels_smoothed():
    from certnn import nn
    from certnn.generative.gan import discriminator_loss
    model = build({"arch": "gan"})
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.generator.modules()) == 2
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.discriminator.modules())
    d_real, d_fake = Tensor(np.array([[0.3], [-1.2]], np.float32)), Tensor(np.array([[0.5], [2.0]], np.float32))
    sig = lambda t: 1 / (1 + np.exp(-t))                                     # noqa: E731
    for label in (1.0, 0.9):
        want = -np.mean(label * np.log(sig(d_real.data)) + (1 - label) * np.log(1 - sig(d_real.data))) \
            - np.mean(np.log(1 - sig(d_fake.data)))
        assert abs(float(discriminator_loss(d_real, d_fake, label).data) - want) < 1e-5


def test_class_histogram_counts_the_classifiers_labels():
    from certnn import nn
    from certnn.generative.frechet import class_histogram
    net = nn.Sequential(nn.Linear(784, 10))
    net[0].weight.data[...] = np.eye(10, 784, dtype=np.float32)         # class k reads pixel k
    net[0].bias.data[...] = 0
    labels = np.array([3, 3, 0, 9, 3, 7])
    images = np.zeros((len(labels), 28, 28), np.float32)
    images.reshape(len(labels), -1)[np.arange(len(labels)), labels] = 1
    assert class_histogram(net, images) == [1, 0, 0, 3, 0, 0, 0, 1, 0, 1]


def test_minibatch_std_feature_is_the_batch_spread():
    from certnn.generative.gan import MinibatchStd
    rng = np.random.default_rng(0)
    h = rng.standard_normal((6, 4)).astype(np.float32)
    out = MinibatchStd()(Tensor(h)).data
    assert out.shape == (6, 5) and np.array_equal(out[:, :4], h)
    assert np.allclose(out[:, 4], np.sqrt(h.var(axis=0) + 1e-8).mean(), rtol=1e-5)
    same = MinibatchStd()(Tensor(np.repeat(h[:1], 6, axis=0))).data[:, 4]     # a collapsed batch
    assert np.all(same < 1e-3)
    model = build({"arch": "gan", "minibatch_std": True, "g_hidden": [16], "d_hidden": [8]})
    assert isinstance(list(model.discriminator)[-2], MinibatchStd)
    assert model.discriminator(Tensor(rng.random((3, 784)).astype(np.float32))).shape == (3, 1)


def test_gan_d_steps_updates_the_discriminator_k_times_per_generator_step():
    from certnn.generative.train import default_config
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 2)).astype(np.float32)
    counts = {}
    for k in (1, 3):
        model = build({**default_config("gan", "toy2d"), "d_steps": k})
        model.make_optimizers()
        calls = {"d": 0, "g": 0}
        for name, opt in (("d", model._opt_d), ("g", model._opt_g)):
            step = opt.step
            opt.step = lambda step=step, name=name: (calls.__setitem__(name, calls[name] + 1), step())[1]
        model.train_step(x, rng)
        counts[k] = (calls["d"], calls["g"])
    assert counts == {1: (1, 1), 3: (3, 1)}


def test_confident_fraction_is_the_share_of_softmax_max_at_least_the_threshold():
    from certnn import nn
    from certnn.generative.frechet import confident_fraction
    net = nn.Sequential(nn.Linear(784, 10))
    net[0].weight.data[...] = np.eye(10, 784, dtype=np.float32)         # logit k = pixel k
    net[0].bias.data[...] = 0
    images = np.zeros((4, 784), np.float32)
    images[0, 3] = 10.0                 # p_3 = e^10 / (e^10 + 9) = 0.9996: confident
    images[1, 3] = np.log(0.9 * 9 / 0.1) + 1e-3    # p_3 just above 0.9
    images[2, 3] = np.log(0.9 * 9 / 0.1) - 1e-3    # just below
    # images[3]: all logits 0, p = 0.1 each
    assert confident_fraction(net, images) == 0.5
    assert confident_fraction(net, images, threshold=0.05) == 1.0
    with pytest.raises(CertnnError, match="threshold"):
        confident_fraction(net, images, threshold=1.0)


def test_confident_fraction_separates_real_digits_from_noise():
    """A quickly trained MNIST classifier is confident on most real test digits,
    on few speckle images (15 % of the pixels on at random) and on far fewer
    superpositions of two digits (half-formed shapes) than real digits."""
    import tempfile
    from pathlib import Path

    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import confident_fraction
    from certnn.zoo import load_checkpoint
    from certnn.zoo.train import TrainConfig, train_mnist
    with tempfile.TemporaryDirectory() as d:
        train_mnist(TrainConfig(hidden=[64], epochs=4, limit_train=10000, limit_test=100), out=Path(d),
                    progress=False, log=lambda s: None)
        net, _ = load_checkpoint(Path(d))
    x, _ = mnist_arrays((784,), None, "test")
    real = x[:500]
    speckle = (np.random.default_rng(0).random(real.shape) < 0.15).astype(np.float32)
    two_digits = 0.5 * real + 0.5 * x[500:1000]
    assert confident_fraction(net, real) > 0.7
    assert confident_fraction(net, speckle) < 0.1
    assert confident_fraction(net, two_digits) < confident_fraction(net, real) - 0.4
