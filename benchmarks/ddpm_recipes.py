"""Short, equal-budget DDPM recipe comparisons on MNIST (issue #15: more quality per CPU-second).

    python benchmarks/ddpm_recipes.py VARIANT [--steps N] [--samples N] [--samplers ...]
    python benchmarks/ddpm_recipes.py VARIANT --rescore VARIANT/b64/500steps --samplers ddim-100-eta1

Each variant is the U-Net recipe (certnn.generative.train.UNET_RECIPE as of the
baseline: widths (16, 32, 64), Adam 2e-3, warm-up 100, EMA 0.995, x0-clip 1) with
some overrides, trained for the same number of optimiser steps (a step budget is
independent of the machine's load; variants that change the step cost are
compared at equal CPU time instead, ``--cpu-seconds``) on one BLAS thread, then
scored on ``--samples`` samples per sampler: the Frechet distance to the MNIST
test split and the confident fraction (the feature classifier's softmax
confidence >= 0.9) in certnn.generative.frechet's feature net. With few samples
the Frechet distance is biased upwards: compare variants only at the same count.
Each run merges its entry into benchmarks/results/ddpm_recipes.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "ddpm_recipes.json"

BASE = {"arch": "ddpm", "denoiser": "unet", "channels": [16, 32, 64], "lr": 2e-3, "warmup": 100, "ema": 0.995,
        "clip": 1.0}
VARIANTS = {
    "baseline": {},
    "min_snr5": {"min_snr": 5.0},
    "cosine": {"schedule": "cosine"},
    "cosine_min_snr5": {"schedule": "cosine", "min_snr": 5.0},
    "min_snr5_lr1e-3": {"min_snr": 5.0, "lr": 1e-3},
    "min_snr5_wide": {"min_snr": 5.0, "channels": [32, 64, 64]},
}
SAMPLERS = {"ddim-100-eta0": {"sampler": "ddim", "steps": 100, "eta": 0.0},
            "ddim-100-eta1": {"sampler": "ddim", "steps": 100, "eta": 1.0},
            "ddpm-1000": {"sampler": "ddpm"}}


def run(variant: str, steps: int, cpu_seconds: float | None, batch: int, samples: int, samplers) -> dict:
    from threadpoolctl import threadpool_limits
    from certnn.data.loader import DataLoader
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import FEATURE_NET, confident_fraction, feature_net
    from certnn.generative.train import build, save
    from certnn.random import manual_seed
    manual_seed(0)
    model = build({**BASE, **VARIANTS[variant]})
    xtr, _ = mnist_arrays((784,), None, "train")
    xte, _ = mnist_arrays((784,), None, "test")
    model.make_optimizers()
    loader = DataLoader(xtr, batch_size=batch, shuffle=True, seed=0)
    rng = np.random.default_rng([0, 1])
    done, epoch, losses = 0, 0, []
    w0, c0 = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=1, user_api="blas"):
        while done < steps and (cpu_seconds is None or time.process_time() - c0 < cpu_seconds):
            for (xb,) in loader.batches(epoch):
                losses.append(model.train_step(xb, rng)["loss"])
                done += 1
                if done >= steps or (cpu_seconds is not None and time.process_time() - c0 >= cpu_seconds):
                    break
            epoch += 1
        train_wall, train_cpu = time.perf_counter() - w0, time.process_time() - c0
        eps_mse = model.evaluate(xte[:2000], np.random.default_rng([0, 3]))["test_loss"]
        save(model, ROOT / "runs" / f"recipe_{variant}", {"data": "mnist", "steps": done})
        net = feature_net(ROOT / "runs" / "feature_net")
        res = {"variant": variant, "config": model.config(), "batch_size": batch, "steps": done,
               "train_wall_seconds": train_wall, "train_cpu_seconds": train_cpu, "eps_mse_test2000": eps_mse,
               "train_loss_last100": float(np.mean(losses[-100:])), "samples": samples,
               "frechet": {"feature_net": FEATURE_NET, "reference": "MNIST test split (10000)"},
               "real_test_confident_fraction": confident_fraction(net, xte),
               "samplers": score(model, net, xte, samples, samplers)}
    return res


def score(model, net, xte, samples: int, samplers) -> dict:
    """Per sampler: FD to the test split, confident fraction, class histogram of ``samples`` samples."""
    from certnn.generative.frechet import class_histogram, confident_fraction, features, frechet_distance
    ref, out = features(net, xte), {}
    for name in samplers:
        ts = time.perf_counter()
        x = model.sample(samples, np.random.default_rng(5), **SAMPLERS[name])
        out[name] = {"frechet_distance": frechet_distance(features(net, x), ref),
                     "confident_fraction": confident_fraction(net, x), "samples": samples,
                     "class_histogram": class_histogram(net, x), "seconds": time.perf_counter() - ts}
    return out


def rescore(key: str, samples: int, samplers) -> dict:
    """Score more samplers on the checkpoint of an earlier run (``key`` in the results file)."""
    from threadpoolctl import threadpool_limits
    from certnn.data.mnist import mnist_arrays
    from certnn.generative.frechet import feature_net
    from certnn.generative.train import load
    data = json.loads(RESULTS.read_text())
    model, _ = load(ROOT / "runs" / f"recipe_{data[key]['variant']}")
    xte, _ = mnist_arrays((784,), None, "test")
    with threadpool_limits(limits=1, user_api="blas"):
        data[key]["samplers"] |= score(model, feature_net(ROOT / "runs" / "feature_net"), xte, samples, samplers)
    return data[key]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", choices=sorted(VARIANTS))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--cpu-seconds", type=float, default=None, help="stop at this much process CPU time")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--samplers", nargs="*", default=["ddim-100-eta0"], choices=sorted(SAMPLERS))
    ap.add_argument("--rescore", metavar="KEY", help="score --samplers on the checkpoint of the run KEY "
                                                    "(variant/bBATCH/NSTEPS in the results file) instead")
    args = ap.parse_args(argv)
    from certnn.io import atomic_write
    if args.rescore:
        key, res = args.rescore, rescore(args.rescore, args.samples, args.samplers)
    else:
        res = run(args.variant, args.steps, args.cpu_seconds, args.batch, args.samples, args.samplers)
        key = f"{args.variant}/b{args.batch}/{res['steps']}steps"
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = res
    with atomic_write(RESULTS, "w") as f:
        json.dump(data, f, indent=1, default=float)
    print(json.dumps(res, default=float), flush=True)


if __name__ == "__main__":
    main()
