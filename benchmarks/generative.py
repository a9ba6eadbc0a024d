"""Generative models benchmark (certnn.generative).

    python benchmarks/generative.py [--only SECTION ...] [--quick]

Sections (each merges its entry into benchmarks/results/generative.json):

* ``vae``: the VAE of PyTorch's example (784-400-20, Bernoulli decoder, Adam 1e-3,
  batch 128) for 10 epochs in certnn and in PyTorch CPU, epochs interleaved
  (certnn epoch k, then torch epoch k) so both see the same machine load; test
  loss per example (negative ELBO, nats; PyTorch's example: about 105.6) and
  per-epoch training time (ratio certnn / torch; target <= 1.5);
* ``vqvae``: VQ-VAE reconstruction MSE on the MNIST test set in [0, 1] pixel
  units (Keras' example: about 0.0042 after 30 epochs) and codebook usage;
  ``vqvae_restart`` the same with dead codes restarted every 100 steps;
* ``gan_no_smoothing``: the GAN with real label 1 instead of 0.9 (ablation);
* ``gan`` and ``ddpm``: trained on MNIST (the DDPM within a 30-minute budget),
  sample grids as PNG under benchmarks/results/, and the Frechet distance of 2000
  samples to the MNIST test set in the features of certnn's feature classifier
  (certnn.generative.frechet.FEATURE_NET); the MNIST training split's own distance
  is the floor; compare models only with each other;
* ``ddpm_unet``: the DDPM with the convolutional U-Net noise predictor
  (``certnn.generative.unet``, EMA weights, x0_hat clipped to [-1, 1] in both
  samplers), same budget, scored with DDIM-100 eta 0;
* ``ddpm_confidence``: the ``ddpm`` section's MLP checkpoint rescored (FD and the
  confident fraction, the share of samples the feature classifier labels with
  softmax confidence >= 0.9; every DDPM section reports it, next to the MNIST
  test split's own);
* ``samplers``: the trained DDPM with the 1000-step ancestral sampler next to
  DDIM, on a smaller sample count (``--sampler-samples``, 1000);
* ``toy``: DDPM on the 2-D Gaussian mixture: sample mean and covariance against
  the target's.

The machine was shared by several jobs (2 cores): times are only meaningful as
the same-run ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "generative.json"
PICTURES = ROOT / "benchmarks" / "results"
FEATURE_CACHE = ROOT / "runs" / "feature_net"
FD_SAMPLES = 2000


def _log(s):
    print(s, flush=True)


def _torch_vae(threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class VAE(torch.nn.Module):                      # pytorch/examples vae/main.py
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
            self.fc3, self.fc4 = torch.nn.Linear(20, 400), torch.nn.Linear(400, 784)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.fc4(torch.relu(self.fc3(z)))), mu, logvar

    def loss(recon, x, mu, logvar):
        bce = torch.nn.functional.binary_cross_entropy(recon, x, reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    model = VAE()
    return torch, model, torch.optim.Adam(model.parameters(), lr=1e-3), loss


def vae(quick):
    from threadpoolctl import threadpool_limits
    from certnn.data.loader import DataLoader
    from certnn.generative.train import build, load_data
    from certnn.random import manual_seed
    epochs = 1 if quick else 10
    manual_seed(0)
    model = build({"arch": "vae"})
    (xtr, _), (xte, _) = load_data("mnist", (784,), limit_train=6000 if quick else None, limit_test=2000 if quick else None)
    model.make_optimizers()
    loader = DataLoader(xtr, batch_size=128, shuffle=True, seed=0)
    rng = np.random.default_rng([0, 1])
    torch, tmodel, topt, tloss = _torch_vae(1)
    txtr, txte = torch.tensor(xtr), torch.tensor(xte)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for epoch in range(epochs):
            t0 = time.perf_counter()
            for (xb,) in loader.batches(epoch):
                model.train_step(xb, rng)
            c_time = time.perf_counter() - t0
            c_loss = model.evaluate(xte, np.random.default_rng([0, 3]))["test_loss"]
            perm = torch.randperm(len(txtr))
            t0 = time.perf_counter()
            tmodel.train()
            for i in range(0, len(txtr), 128):
                xb = txtr[perm[i:i + 128]]
                topt.zero_grad()
                recon, mu, logvar = tmodel(xb)
                tloss(recon, xb, mu, logvar).backward()
                topt.step()
            t_time = time.perf_counter() - t0
            with torch.no_grad():
                tmodel.eval()
                t_loss = 0.0
                for i in range(0, len(txte), 1000):
                    recon, mu, logvar = tmodel(txte[i:i + 1000])
                    t_loss += float(tloss(recon, txte[i:i + 1000], mu, logvar))
                t_loss /= len(txte)
            rows.append({"epoch": epoch + 1, "certnn_test_loss": c_loss, "torch_test_loss": t_loss,
                         "certnn_seconds": c_time, "torch_seconds": t_time})
            _log(f"vae epoch {epoch + 1}: certnn {c_loss:.2f} ({c_time:.1f} s)  torch {t_loss:.2f} ({t_time:.1f} s)")
    from certnn.generative.train import save
    save(model, ROOT / "runs" / "bench_vae", {"data": "mnist", "epochs": epochs, "history": rows})
    ratio = float(np.median([r["certnn_seconds"] / r["torch_seconds"] for r in rows]))
    return {"epochs": epochs, "certnn_test_loss": rows[-1]["certnn_test_loss"],
            "torch_test_loss": rows[-1]["torch_test_loss"], "time_ratio_median": ratio,
            "certnn_epoch_seconds_median": float(np.median([r["certnn_seconds"] for r in rows])),
            "torch_epoch_seconds_median": float(np.median([r["torch_seconds"] for r in rows])),
            "targets": {"test_loss": 106.0, "time_ratio": 1.5}, "peer": "pytorch/examples vae (about 105.6)",
            "history": rows}


def _frechet(samples_fn, net, reference):
    from certnn.generative.frechet import features, frechet_distance
    return frechet_distance(features(net, samples_fn(FD_SAMPLES)), reference)


def _net_and_reference(quick):
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import CONFIDENCE, FEATURE_NET, confident_fraction, feature_net, features
    net = feature_net(FEATURE_CACHE, log=_log)
    xte, yte = mnist_arrays((784,), None, "test")
    ref = features(net, xte)
    return net, ref, {"feature_net": FEATURE_NET, "samples": FD_SAMPLES, "reference": "MNIST test split (10000)",
                      "confidence_threshold": CONFIDENCE,
                      "test_split_confident_fraction": confident_fraction(net, xte)}


def _generative_run(arch, epochs, quick, overrides=None, picture=None, name=None, budget_seconds=None):
    from certnn.generative.train import train
    out = ROOT / "runs" / f"bench_{name or arch}"
    r = train(arch, "mnist", epochs=1 if quick else epochs, seed=0, out=out, overrides=overrides or {},
              limit_train=2000 if quick else None, limit_test=500 if quick else None, log=_log,
              budget_seconds=budget_seconds)
    if picture:
        import shutil
        shutil.copyfile(out / "samples.png", PICTURES / picture)
    return {k: v for k, v in r.items() if k not in ("checkpoint", "samples_png")}, out


def gan_no_smoothing(quick):
    """The GAN without one-sided label smoothing (real label 1): an ablation."""
    return gan(quick, {"real_label": 1.0}, "gan_no_smoothing")


# Keras' example (keras-io examples/generative/vq_vae, 16-d latents, 128 codes, Adam 1e-3, batch
# 128): its logged ``reconstruction_loss`` per epoch, the running mean over the epoch's training
# batches of MSE / Var(x_train) with Var(x_train) = 0.0949 ([0, 1] pixels); 0.0444 x 0.0949 =
# 0.0042 after 30 epochs is the figure usually quoted.
KERAS_VQVAE_LOG = (0.3869, 0.1692, 0.1281, 0.1030, 0.0883, 0.0788, 0.0725, 0.0673, 0.0640, 0.0612,
                   0.0590, 0.0574, 0.0560, 0.0546, 0.0533, 0.0523, 0.0515, 0.0505, 0.0495, 0.0486,
                   0.0475, 0.0469, 0.0465, 0.0461, 0.0458, 0.0454, 0.0452, 0.0449, 0.0447, 0.0444)
KERAS_DATA_VARIANCE = 0.0949


def cvae_latent8(quick):
    """The conditional VAE with an 8-d latent: less room for z to carry the digit itself."""
    return cvae(quick, {"latent": 8}, "cvae_latent8")


def vqvae(quick, overrides=None, name="vqvae", epochs=None, budget_seconds=None):
    """Train; report the test-set MSE after the last epoch and, as the same quantity
    as Keras' log, the training running-mean MSE of each epoch next to Keras' value
    at that epoch (its normalised loss times the data variance)."""
    r, _ = _generative_run("vqvae", epochs or EPOCHS["vqvae"], quick, overrides, picture=f"{name}_samples.png",
                           name=name, budget_seconds=budget_seconds)
    last = r["history"][-1]
    same = [{"epoch": h["epoch"], "certnn_train_mse": h["train_mse"], "certnn_test_mse": h["reconstruction_mse"],
             "keras_train_mse": KERAS_VQVAE_LOG[h["epoch"] - 1] * KERAS_DATA_VARIANCE}
            for h in r["history"] if h["epoch"] <= len(KERAS_VQVAE_LOG)]
    return r | {"overrides": overrides or {}, "reconstruction_mse": last["reconstruction_mse"],
                "train_mse_last_epoch": last["train_mse"], "codes_used": last["codes_used"],
                "perplexity": last["perplexity"], "same_quantity_as_keras": same,
                "peer": {"keras_example_mse": 0.0042, "keras_epochs": 30, "keras_codes": 128,
                         "keras_quantity": "training running-mean MSE of the epoch ([0, 1] pixels), "
                                           "logged as MSE / 0.0949"}}


def vqvae_restart(quick):
    """The VQ-VAE with dead codes restarted every 100 steps (``restart_every``)."""
    return vqvae(quick, {"restart_every": 100}, "vqvae_restart")


VQVAE_MINUTES = 80           # --vqvae-minutes


def vqvae_keras128(quick):
    """Keras' run as it was logged: 128 codes, up to 30 epochs (within VQVAE_MINUTES of wall time)."""
    return vqvae(quick, {"codes": 128}, "vqvae_keras128", epochs=30,
                 budget_seconds=60 if quick else VQVAE_MINUTES * 60)


def gan(quick, overrides=None, name="gan"):
    """Train, then score the checkpoint as ``certnn gen score`` does (eval mode:
    the generator's batch normalisation uses its running statistics); also
    with batch statistics (training mode), and the feature classifier's class
    histogram of the samples (mode collapse puts them in few classes)."""
    from certnn.generative.frechet import class_histogram
    from certnn.generative.grid import save_samples
    from certnn.generative.train import load
    r, out = _generative_run("gan", EPOCHS["gan"], quick, overrides, name=name)
    net, ref, meta = _net_and_reference(quick)
    model, _ = load(out)
    samples = model.sample(FD_SAMPLES, np.random.default_rng(5))
    fd = _frechet(lambda n: samples[:n], net, ref)
    model.train()
    fd_batch = _frechet(lambda n: model.sample(n, np.random.default_rng(5)), net, ref)
    model.eval()
    hist = class_histogram(net, samples)
    save_samples(model.sample(64, np.random.default_rng(6)), PICTURES / f"{name}_samples.png",
                 f"GAN on MNIST, {r['epochs']} epochs (eval mode)")
    balance = _class_balance(net, hist)
    _log(f"{name}: Frechet distance {fd:.2f} (batch statistics: {fd_batch:.2f}); classes {hist}; {balance}")
    return r | {"overrides": overrides or {}, "frechet_distance": fd, "frechet_distance_batch_statistics": fd_batch, "frechet": meta,
                "class_histogram": hist, "class_histogram_note": f"feature classifier's labels of the {FD_SAMPLES} scored samples",
                **balance}


def _class_balance(net, hist):
    """How far the samples' class histogram is from that of FD_SAMPLES training images
    (the same classifier): total variation distance, and the rarest class's share."""
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import class_histogram
    xtr, _ = mnist_arrays((784,), None, "train")
    p, q = np.asarray(hist) / sum(hist), np.asarray(class_histogram(net, xtr[:FD_SAMPLES])) / FD_SAMPLES
    return {"class_tv_to_train_split": float(0.5 * np.abs(p - q).sum()), "rarest_class_share": float(p.min()),
            "rarest_class": int(p.argmin())}


def gan_d2(quick):
    """The GAN with two D steps per G step (another fix tried for the rare classes)."""
    return gan(quick, {"d_steps": 2}, "gan_d2")


def gan_minibatch_std(quick):
    """The GAN with a minibatch standard-deviation feature in D (a fix for the rare classes)."""
    return gan(quick, {"minibatch_std": True}, "gan_minibatch_std")


def cvae(quick, overrides=None, name="cvae"):
    """The conditional VAE (the VAE with the one-hot digit as an input of encoder and
    decoder): FD_SAMPLES / 10 samples drawn for each digit, labelled by the feature
    classifier; its accuracy against the digit asked for (overall and per class),
    its accuracy on the real test split for reference, the Frechet distance, and a
    grid with one row per digit."""
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import class_histogram, classifier_accuracy, conditional_accuracy, features, frechet_distance
    from certnn.generative.grid import save_samples
    from certnn.generative.train import load
    r, out = _generative_run("cvae", EPOCHS["cvae"], quick, overrides, name=name)
    net, ref, meta = _net_and_reference(quick)
    model, _ = load(out)
    labels = np.repeat(np.arange(10), FD_SAMPLES // 10)
    samples = model.sample(len(labels), np.random.default_rng(5), labels=labels)
    acc = conditional_accuracy(net, samples, labels)
    xte, yte = mnist_arrays((784,), None, "test")
    fd = frechet_distance(features(net, samples), ref)
    save_samples(model.sample(100, np.random.default_rng(6)), PICTURES / f"{name}_samples.png",
                 f"conditional VAE on MNIST ({model.latent}-d latent), {r['epochs']} epochs: row k asks for digit k",
                 nrow=10)
    _log(f"{name}: classifier accuracy on samples {acc['accuracy']:.4f} per class {acc['per_class']}; FD {fd:.2f}")
    return r | {"overrides": overrides or {}, "samples_per_class": FD_SAMPLES // 10, "classifier_accuracy": acc["accuracy"],
                "classifier_accuracy_per_class": acc["per_class"], "class_histogram": class_histogram(net, samples),
                "classifier_accuracy_on_test_split": classifier_accuracy(net, xte, yte),
                "frechet_distance": fd, "frechet": meta,
                "note": "accuracy: the feature classifier's label equals the digit the sample was drawn for"}


DDPM_MINUTES = 30
EPOCHS = {"vqvae": 3, "gan": 10, "cvae": 10}       # --vqvae-epochs, --gan-epochs, --cvae-epochs
DDPM_HIDDEN = [512, 512, 512]
DDPM_FULL_SAMPLER = True


DDPM_UNET_BATCH = 64
DDPM_THREADS = 1        # BLAS threads of the DDPM runs (--ddpm-threads)


def ddpm(quick, overrides=None, name="ddpm", batch_size=128, samplers=None):
    """Train the MNIST DDPM for at most DDPM_MINUTES minutes of wall time, then sample
    with both samplers (the 1000-step ancestral sampler is scored only with
    DDPM_FULL_SAMPLER; it costs ten times the DDIM-100 samplers). ``samplers`` limits
    the scored samplers; samples are drawn in chunks of 250 from one generator. Each
    sampler is scored by the Frechet distance, the confident fraction (the feature
    classifier's softmax confidence >= 0.9; the MNIST test split's own is in
    ``frechet``) and the class histogram; the training's process CPU time and the
    load average before and after it are recorded next to its wall time."""
    import os
    from certnn.data.loader import DataLoader
    from certnn.generative.grid import save_samples
    from certnn.generative.train import build, load_data
    from certnn.random import manual_seed
    budget = 60 if quick else DDPM_MINUTES * 60
    manual_seed(0)
    model = build({"arch": "ddpm", **(overrides or {"hidden": DDPM_HIDDEN})})
    (xtr, _), (xte, _) = load_data("mnist", (784,), limit_train=2000 if quick else None, limit_test=500 if quick else None)
    t0, c0, load_before = time.perf_counter(), time.process_time(), os.getloadavg()
    history, epoch = [], 0
    model.make_optimizers()
    loader = DataLoader(xtr, batch_size=batch_size, shuffle=True, seed=0)
    rng = np.random.default_rng([0, 1])
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=DDPM_THREADS, user_api="blas"):
        while time.perf_counter() - t0 < budget:
            te = time.perf_counter()
            losses = [model.train_step(xb, rng)["loss"] for (xb,) in loader.batches(epoch)
                      if time.perf_counter() - t0 < budget]
            epoch += 1
            history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "steps": len(losses),
                            "seconds": time.perf_counter() - te})
            _log(f"{name} epoch {epoch}: loss {history[-1]['train_loss']:.4f} ({history[-1]['seconds']:.0f} s)")
        train_seconds, train_cpu, load_after = time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()
        test_loss = model.evaluate(xte, np.random.default_rng([0, 3]))["test_loss"]
        from certnn.generative.train import save
        out = ROOT / "runs" / f"bench_{name}"
        save(model, out, {"data": "mnist", "epochs": epoch, "history": history})
        net, ref, meta = _net_and_reference(quick)
        res = {"config": model.config(), "batch_size": batch_size, "budget_minutes": budget / 60,
               "blas_threads": DDPM_THREADS, "train_cpu_seconds": train_cpu,
               "load_average_1_5_15_before": list(load_before), "load_average_1_5_15_after": list(load_after),
               "train_seconds": train_seconds, "epochs": epoch, "steps": sum(h["steps"] for h in history),
               "params": model.net.num_parameters(), "test_loss": test_loss, "history": history, "frechet": meta,
               "samplers": {}}
        every = [("ddim-100-eta0", {"sampler": "ddim", "steps": 100, "eta": 0.0}),
                 ("ddim-100-eta1", {"sampler": "ddim", "steps": 100, "eta": 1.0})]
        every += [("ddpm-1000", {"sampler": "ddpm"})] if DDPM_FULL_SAMPLER else []
        for sampler, kw in [(k, kw) for k, kw in every if samplers is None or k in samplers]:
            res["samplers"][sampler] = _score_sampler(model, kw, net, ref)
            _log(f"{name} {sampler}: {res['samplers'][sampler]}")
            save_samples(model.sample(64, np.random.default_rng(6), **kw), PICTURES / f"{name}_{sampler}.png",
                         f"DDPM ({model.denoiser}) on MNIST ({res['steps']} steps, {train_seconds / 60:.0f} min), {sampler}")
    return res


def _score_sampler(model, kw, net, ref) -> dict:
    """FD_SAMPLES samples drawn in chunks of 250 from one generator (seed 5), scored by the
    Frechet distance, the confident fraction and the class histogram."""
    from certnn.generative.frechet import class_histogram, confident_fraction
    ts = time.perf_counter()
    draw = np.random.default_rng(5)
    x = np.concatenate([model.sample(250, draw, **kw) for _ in range(0, FD_SAMPLES, 250)])[:FD_SAMPLES]
    hist = class_histogram(net, x)
    return {"frechet_distance": _frechet(lambda n: x[:n], net, ref), "confident_fraction": confident_fraction(net, x),
            "class_histogram": hist, **_class_balance(net, hist), "seconds": time.perf_counter() - ts}


def ddpm_confidence(quick):
    """The MLP DDPM and latent DDPM checkpoints of the ``ddpm`` and ``ddpm_latent``
    sections (runs/bench_ddpm, runs/bench_ddpm_latent; those present) rescored with
    DDIM-100 eta 0 on the same draws as those sections: the Frechet distance again (the
    same number when the checkpoint is the same) and the confident fraction."""
    from certnn.generative.train import load
    net, ref, fmeta = _net_and_reference(quick)
    res = {"frechet": fmeta}
    for name in ("ddpm", "ddpm_latent"):
        if (ROOT / "runs" / f"bench_{name}").exists():
            model, meta = load(ROOT / "runs" / f"bench_{name}")
            res[name] = {"checkpoint_epochs": meta["info"].get("epochs"), "ddim-100-eta0": _score_sampler(
                model, {"sampler": "ddim", "steps": 100, "eta": 0.0}, net, ref)}
    return res


def ddpm_unet_samplers(quick):
    """The ``ddpm_unet`` section's checkpoint (runs/bench_ddpm_unet) scored with DDIM-100
    eta 0 and eta 1 on the same draws (``--fd-samples`` of them; grids as
    ddpm_unet_ddim-100-eta{0,1}.png): the run for when that section's own scoring
    (2000 samples of a U-Net, about half an hour) was cut short."""
    from certnn.generative.grid import save_samples
    from certnn.generative.train import load
    from threadpoolctl import threadpool_limits
    model, meta = load(ROOT / "runs" / "bench_ddpm_unet")
    net, ref, fmeta = _net_and_reference(quick)
    res = {"checkpoint_epochs": meta["info"].get("epochs"), "config": meta["config"], "frechet": fmeta}
    with threadpool_limits(limits=DDPM_THREADS, user_api="blas"):
        for eta in (0, 1):
            kw = {"sampler": "ddim", "steps": 100, "eta": float(eta)}
            res[f"ddim-100-eta{eta}"] = _score_sampler(model, kw, net, ref)
            _log(f"ddpm_unet ddim-100-eta{eta}: {res[f'ddim-100-eta{eta}']}")
            save_samples(model.sample(64, np.random.default_rng(6), **kw), PICTURES / f"ddpm_unet_ddim-100-eta{eta}.png",
                         f"DDPM (unet, min-SNR-5) on MNIST, 30 min, ddim-100-eta{eta}")
    return res


def ddpm_unet(quick):
    """The DDPM with the convolutional U-Net noise predictor (EMA weights sample, x0_hat
    clipped to [-1, 1] in both samplers), the same 30-minute budget, scored with
    DDIM-100 eta 0 as the MLP row."""
    from certnn.generative.train import UNET_RECIPE
    return ddpm(quick, UNET_RECIPE, "ddpm_unet", DDPM_UNET_BATCH, samplers=("ddim-100-eta0",))


def ddpm_latent(quick):
    """The latent DDPM (the DDPM on the VAE's 20-d codes; ``certnn.generative.latent``):
    10 VAE epochs, then the DDPM for the rest of the same 30-minute budget, one BLAS
    thread, scored with DDIM-100 eta 0 as the other DDPM rows."""
    recipe = {"arch": "latent-ddpm"} | ({"vae_steps": 30} if quick else {})
    return ddpm(quick, recipe, "ddpm_latent", 128, samplers=("ddim-100-eta0",))


SAMPLER_COUNT = 1000         # --sampler-samples


def samplers(quick):
    """The trained DDPM checkpoint (runs/bench_ddpm, from the ``ddpm`` section) with
    the 1000-step ancestral sampler and DDIM (100 steps, eta 0 and 1), each scored on
    the same, smaller sample count (the 1000-step sampler costs ten times DDIM-100);
    with fewer samples the Frechet distance is biased upwards, so these numbers
    compare with each other and with the training split at the same count only."""
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import class_histogram, confident_fraction, features, frechet_distance
    from certnn.generative.grid import save_samples
    from certnn.generative.train import load
    n = 50 if quick else SAMPLER_COUNT
    model, meta = load(ROOT / "runs" / "bench_ddpm")
    net, ref, fmeta = _net_and_reference(quick)
    xtr, _ = mnist_arrays((784,), None, "train")
    res = {"checkpoint_epochs": meta["info"].get("epochs"), "frechet": fmeta | {"samples": n},
           "train_split": frechet_distance(features(net, xtr[:n]), ref), "samplers": {}}
    for name, kw in [("ddpm-1000", {"sampler": "ddpm"}),
                     ("ddim-100-eta0", {"sampler": "ddim", "steps": 100, "eta": 0.0}),
                     ("ddim-100-eta1", {"sampler": "ddim", "steps": 100, "eta": 1.0})]:
        ts = time.perf_counter()
        x = model.sample(n, np.random.default_rng(5), **kw)
        res["samplers"][name] = {"frechet_distance": frechet_distance(features(net, x), ref),
                                 "confident_fraction": confident_fraction(net, x), "class_histogram": class_histogram(net, x), "seconds": time.perf_counter() - ts}
        _log(f"ddpm {name}, {n} samples: {res['samplers'][name]}")
        if name == "ddpm-1000":
            save_samples(x[:64], PICTURES / "ddpm_ddpm-1000.png",
                         f"DDPM on MNIST ({meta['info'].get('epochs')} epochs), ancestral sampler, 1000 steps")
    return res


def floor(quick):
    """The Frechet distance of the MNIST training split itself (and of VAE samples),
    and the feature classifier's class histogram of both (the reference for the
    generated samples' histograms)."""
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import class_histogram, features, frechet_distance
    net, ref, meta = _net_and_reference(quick)
    xtr, _ = mnist_arrays((784,), None, "train")
    out = {"train_split": frechet_distance(features(net, xtr[:FD_SAMPLES]), ref), "frechet": meta,
           "train_split_class_histogram": class_histogram(net, xtr[:FD_SAMPLES])}
    vae_dir = ROOT / "runs" / "bench_vae"
    if vae_dir.exists():
        from certnn.generative.train import load
        model, _ = load(vae_dir)
        samples = model.sample(FD_SAMPLES, np.random.default_rng(5))
        out["vae"] = _frechet(lambda n: samples[:n], net, ref)
        out["vae_class_histogram"] = class_histogram(net, samples)
    return out


def toy(quick):
    from certnn.generative.toy import GaussianMixture
    from certnn.generative.train import train
    r = train("ddpm", "toy2d", epochs=2 if quick else 20, seed=0, out=ROOT / "runs" / "bench_toy", log=_log)
    from certnn.generative.train import load
    model, _ = load(ROOT / "runs" / "bench_toy")
    gm, out = GaussianMixture(), {"epochs": r["epochs"], "test_loss": r["test_loss"]}
    for name, kw in [("ddpm", {"sampler": "ddpm"}), ("ddim-eta0", {"sampler": "ddim", "eta": 0.0})]:
        x = model.sample(20000, np.random.default_rng(1), **kw)
        out[name] = {"mean": x.mean(0).tolist(), "cov": np.cov(x.T).tolist()}
    out["target"] = {"mean": gm.mean().tolist(), "cov": gm.cov().tolist()}
    return out


SECTIONS = {"vae": vae, "cvae": cvae, "cvae_latent8": cvae_latent8, "vqvae": vqvae, "vqvae_restart": vqvae_restart, "vqvae_keras128": vqvae_keras128, "gan": gan, "gan_no_smoothing": gan_no_smoothing,
            "gan_minibatch_std": gan_minibatch_std, "gan_d2": gan_d2, "ddpm": ddpm, "ddpm_unet": ddpm_unet,
            "ddpm_latent": ddpm_latent, "ddpm_confidence": ddpm_confidence, "ddpm_unet_samplers": ddpm_unet_samplers,
            "samplers": samplers, "floor": floor, "toy": toy}


def _merge(updates: dict) -> dict:
    from certnn.io import atomic_write
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.update(updates)
    data["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                       "note": "2 CPU cores shared with other jobs; compare times only as same-run ratios"}
    with atomic_write(RESULTS, "w") as f:
        json.dump(data, f, indent=1, default=float)
    return data


def main(argv=None):
    global DDPM_MINUTES, DDPM_FULL_SAMPLER, DDPM_THREADS, SAMPLER_COUNT, VQVAE_MINUTES, FD_SAMPLES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    ap.add_argument("--quick", action="store_true", help="tiny runs (smoke test)")
    ap.add_argument("--ddpm-minutes", type=float, default=DDPM_MINUTES, help="DDPM training budget (wall time)")
    ap.add_argument("--ddpm-threads", type=int, default=DDPM_THREADS, help="BLAS threads of the DDPM runs")
    ap.add_argument("--vqvae-epochs", type=int, default=EPOCHS["vqvae"])
    ap.add_argument("--gan-epochs", type=int, default=EPOCHS["gan"])
    ap.add_argument("--cvae-epochs", type=int, default=EPOCHS["cvae"])
    ap.add_argument("--vqvae-minutes", type=float, default=VQVAE_MINUTES,
                    help="wall-time budget of vqvae_keras128 (no epoch starts after it)")
    ap.add_argument("--no-ddpm-1000", action="store_true", help="skip scoring the 1000-step ancestral sampler")
    ap.add_argument("--fd-samples", type=int, default=FD_SAMPLES,
                    help="samples scored per model and sampler (Frechet distances compare at equal counts only)")
    ap.add_argument("--sampler-samples", type=int, default=SAMPLER_COUNT,
                    help="samples per sampler in the samplers section")
    args = ap.parse_args(argv)
    SAMPLER_COUNT, VQVAE_MINUTES, FD_SAMPLES = args.sampler_samples, args.vqvae_minutes, args.fd_samples
    DDPM_MINUTES, DDPM_FULL_SAMPLER, DDPM_THREADS = args.ddpm_minutes, not args.no_ddpm_1000, args.ddpm_threads
    EPOCHS.update(vqvae=args.vqvae_epochs, gan=args.gan_epochs, cvae=args.cvae_epochs)
    for name in args.only or list(SECTIONS):
        t0 = time.perf_counter()
        res = SECTIONS[name](args.quick)
        res["section_seconds"] = time.perf_counter() - t0
        res["quick"] = args.quick
        _merge({name: res})
        print(json.dumps({name: {k: v for k, v in res.items() if k != "history"}}, default=float), flush=True)


if __name__ == "__main__":
    main()
