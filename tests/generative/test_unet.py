"""The U-Net noise predictor: its composed pieces against NumPy, shapes, a float64
central-difference check of its gradient, and the DDPM built on it (training
step, EMA weights, checkpoint round trip, the CLI's --denoiser)."""

import json

import numpy as np
import pytest

from certnn import functional as F
from certnn.errors import CertnnError
from certnn.generative.diffusion import DDPM, time_embedding
from certnn.generative.train import build, default_config, load, train
from certnn.generative.unet import UNet, group_norm, upsample2
from certnn.random import manual_seed
from certnn.tensor import Tensor, no_grad
from tests.cli_run import run_cli

TINY = {"denoiser": "unet", "channels": [8, 8, 16], "emb": 8, "T": 50, "sample_steps": 3}


def test_upsample_and_group_norm_match_numpy():
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 5))
    np.testing.assert_array_equal(upsample2(Tensor(x)).data, x.repeat(2, axis=2).repeat(2, axis=3))
    g = x.reshape(2, 2, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(group_norm(Tensor(x), 2).data, ref, atol=1e-12)


def _tiny_unet():
    manual_seed(0)
    net = UNet((4, 8, 8), emb=8, groups=2, side=8).to(np.float64)
    rng = np.random.default_rng(1)
    for p in net.parameters():          # off the zero initialisation, so every path carries gradient
        p.data[...] = rng.normal(0.0, 0.3, p.shape)
    return net


def test_shapes_and_zero_initial_output():
    manual_seed(0)
    net = UNet((4, 8, 8), emb=8, groups=2)
    with no_grad():
        out = net(Tensor(np.ones((3, 784), np.float32)), Tensor(time_embedding(np.array([1, 5, 9]), 8)))
    assert out.shape == (3, 784) and out.dtype == np.float32
    assert not out.data.any()           # the output convolution starts at zero: eps_hat = 0


def test_gradient_matches_central_differences():
    """float64, 8x8 images: for every parameter tensor (and the input) the autograd
    gradient's derivative along a random direction v, <grad, v>, against the central
    difference (L(p + h v) - L(p - h v)) / 2h of a random projection L of the output."""
    net = _tiny_unet()
    rng = np.random.default_rng(2)
    x, e = rng.standard_normal((2, 64)), time_embedding(np.array([3, 40]), 8, np.float64)
    r = rng.standard_normal((2, 64))

    def loss(xx):
        return float(F.sum(net(Tensor(xx), Tensor(e)) * Tensor(r)).data)

    xt = Tensor(x, requires_grad=True)
    F.sum(net(xt, Tensor(e)) * Tensor(r)).backward()
    h, worst = 1e-6, 0.0
    with no_grad():
        for name, p in [*net.named_parameters(), ("input", xt)]:
            assert p.grad is not None and np.abs(p.grad).max() > 0, name
            v, old = rng.standard_normal(p.shape), p.data.copy()
            p.data[...] = old + h * v
            lp = loss(xt.data)
            p.data[...] = old - h * v
            lm = loss(xt.data)
            p.data[...] = old
            auto = float(np.sum(p.grad * v))
            worst = max(worst, abs((lp - lm) / (2 * h) - auto) / max(1.0, abs(auto)))
    assert worst < 1e-7, worst


def test_ema_follows_the_weights_and_the_samplers_read_it():
    manual_seed(0)
    m = build({"arch": "ddpm", **TINY, "ema": 0.9, "warmup": 4})
    m.make_optimizers()
    x = np.random.default_rng(0).random((8, 784)).astype(np.float32)
    before = [p.data.copy() for p in m.ema_net.parameters()]
    prev = [p.data.copy() for p in m.net.parameters()]
    m.train_step(x, np.random.default_rng(1))
    # step 0: d = min(0.9, 1/10) = 0.1, so ema = 0.1 ema_old + 0.9 theta_new
    for old, avg, new in zip(before, m.ema_net.parameters(), m.net.parameters()):
        np.testing.assert_allclose(avg.data, 0.1 * old + 0.9 * new.data, rtol=1e-5, atol=1e-7)
    assert any(not np.array_equal(a, p.data) for a, p in zip(prev, m.net.parameters()))
    assert m._opt.lr == pytest.approx(m.lr / 4)                    # warm-up: step 1 of 4
    for p in m.net.parameters():                                   # the samplers read the EMA net, not this one
        p.data[...] = 0.0
    xt, t = np.random.default_rng(2).standard_normal((2, 784)).astype(np.float32), np.array([10, 20])
    with no_grad():
        np.testing.assert_array_equal(m.eps_model(xt, t), m.eps_tensor(xt, t, m.ema_net).data)
    assert m.eps_model(xt, t).any()


def test_train_checkpoint_reload_sample(tmp_path):
    out = tmp_path / "unet"
    r = train("ddpm", "mnist", epochs=2, seed=0, out=out, batch_size=32, overrides={**TINY, "ema": 0.9},
              limit_train=128, limit_test=32, log=lambda s: None)
    assert r["history"][1]["train_loss"] < r["history"][0]["train_loss"] < 1.5
    cfg = json.loads((out / "checkpoint.json").read_text())["config"]
    assert cfg["denoiser"] == "unet" and cfg["channels"] == [8, 8, 16] and cfg["ema"] == 0.9
    model, _ = load(out)
    assert model.config() == cfg
    a, b = model.sample(3, np.random.default_rng(9)), model.sample(3, np.random.default_rng(9))
    assert a.shape == (3, 784) and np.array_equal(a, b) and 0 <= a.min() and a.max() <= 1


def test_mlp_stays_the_default_and_old_checkpoints_build():
    assert build(default_config("ddpm", "mnist")).denoiser == "mlp"
    old = {"arch": "ddpm", "dim": 2, "hidden": [8], "emb": 4, "T": 10}   # a config written before the U-Net
    assert build(old).denoiser == "mlp"
    with pytest.raises(CertnnError, match="denoiser"):
        DDPM(denoiser="transformer")
    with pytest.raises(CertnnError, match="28x28"):
        DDPM(dim=2, denoiser="unet")
    with pytest.raises(CertnnError, match="multiples of 8"):
        DDPM(denoiser="unet", channels=(4, 8, 8))


def test_cli_denoiser_option(tmp_path):
    code, _, err = run_cli("gen", "train", "vae", "--denoiser", "mlp", "--out", tmp_path / "v", "--no-progress")
    assert code == 1 and err.startswith("error:") and "--denoiser" in err
    code, _, err = run_cli("gen", "train", "ddpm", "--denoiser", "unet", "--data", "toy2d", "--out", tmp_path / "d",
                           "--no-progress")
    assert code == 1 and "28x28" in err and not (tmp_path / "d").exists()   # the U-Net recipe reached DDPM
