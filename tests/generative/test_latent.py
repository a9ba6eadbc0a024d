"""The latent DDPM: two phases in one loop (the VAE, then the DDPM on its codes),
a checkpoint that reloads to the same samples, samples that are the VAE decoder's
Bernoulli means of the DDPM's codes, and the DDPM phase really is the DDPM's own
loss on codes drawn from the fixed encoder."""

import json

import numpy as np
import pytest

from certnn.errors import CertnnError
from certnn.generative.latent import LatentDDPM
from certnn.generative.train import build, default_config, load, train
from certnn.tensor import Tensor, no_grad
from certnn import functional as F

SMALL = {"hidden": 64, "latent": 4, "vae_steps": 16, "ddpm_hidden": [32, 32], "T": 50, "sample_steps": 5}


def test_two_phases_checkpoint_and_reload(tmp_path):
    out = tmp_path / "ldm"
    r = train("latent-ddpm", "mnist", epochs=3, seed=0, out=out, batch_size=32, overrides=SMALL,
              limit_train=256, limit_test=64, log=lambda s: None)        # 8 steps an epoch: 2 VAE epochs
    h = r["history"]
    assert r["model"] == "latent-ddpm" and r["epochs"] == 3 and "generative/forward-marginal" in r["theorems"]
    # epochs 1-2 train the VAE (its ELBO falls, the untrained DDPM's eps-MSE stays near 1);
    # epoch 3 the DDPM (its eps-MSE is now the test loss, and the VAE stands still)
    assert h[1]["vae_test_loss"] < h[0]["vae_test_loss"]
    assert h[0]["test_loss"] == h[0]["vae_test_loss"] and h[2]["test_loss"] == h[2]["eps_mse"]
    assert h[2]["vae_test_loss"] == pytest.approx(h[1]["vae_test_loss"], rel=0.05)
    assert h[2]["eps_mse"] < h[1]["eps_mse"]
    meta = json.loads((out / "checkpoint.json").read_text())
    assert meta["config"]["arch"] == "latent-ddpm" and meta["config"]["vae_steps"] == 16
    model, _ = load(out)
    a, b = model.sample(4, np.random.default_rng(9)), model.sample(4, np.random.default_rng(9))
    assert a.shape == (4, 784) and np.array_equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_samples_are_the_decoder_means_of_the_ddpm_codes():
    m = build({"arch": "latent-ddpm", **SMALL})
    z = m.ddpm.sample(3, np.random.default_rng(1))
    with no_grad():
        want = F.sigmoid(m.vae.decode(Tensor(z.astype(np.float32)))).data
    assert np.array_equal(m.sample(3, np.random.default_rng(1)), want)


def test_ddpm_phase_is_the_ddpm_loss_on_encoder_draws():
    """After the VAE phase a step changes only the DDPM's weights, by exactly the
    update the DDPM would make on the same codes."""
    m = build({"arch": "latent-ddpm", **SMALL, "vae_steps": 1})
    m.make_optimizers()
    x = np.random.default_rng(0).random((8, 784)).astype(np.float32)
    m.train_step(x, np.random.default_rng(1))                     # the one VAE step
    assert m.phase == "ddpm"
    twin = build({"arch": "latent-ddpm", **SMALL, "vae_steps": 1})
    twin.load_state_dict(m.state_dict())
    twin.make_optimizers()
    vae_before = {k: v.copy() for k, v in m.vae.state_dict().items()}
    rng = np.random.default_rng(2)
    m.train_step(x, rng)
    rng2 = np.random.default_rng(2)
    twin.ddpm.train_step(twin.codes(x, rng2), rng2)
    assert all(np.array_equal(vae_before[k], v) for k, v in m.vae.state_dict().items())
    assert all(np.array_equal(a, b) for a, b in zip(m.ddpm.state_dict().values(), twin.ddpm.state_dict().values()))


def test_bad_settings():
    with pytest.raises(CertnnError, match="image model"):
        default_config("latent-ddpm", "toy2d")
    with pytest.raises(CertnnError, match="vae_steps"):
        build({"arch": "latent-ddpm", "vae_steps": 0})
    assert isinstance(build({"arch": "latent-ddpm"}), LatentDDPM)
