"""Differential privacy and stability benchmark (certnn.theory).

    python benchmarks/dp.py [--only SECTION ...] [--quick]

Sections (each merges its entry into benchmarks/results/dp.json, so the long
ones can run separately):

* ``accounting``: epsilon of DP-SGD for q = 256/60000, sigma = 1.1, 60 epochs,
  delta = 1e-5 under dp-accounting's RDP and PLD accountants (issue: 2.597, 2.382);
* ``dpsgd``: DP-SGD on MNIST with those settings (TF Privacy's CNN and
  hyper-parameters), test accuracy (TF Privacy 96.6 %, Opacus 96.78 %);
* ``dpsgd-eps1.2``: the same model for 15 epochs with sigma chosen for epsilon 1.2
  (Opacus 94.63 % at its epsilon 1.19);
* ``scatter``: Tramer & Boneh's ScatterNet + linear (fixed scattering features,
  per-example group normalisation, C = 0.1, momentum 0.9) with the same q, sigma,
  60 epochs and delta (so the same epsilon); ``scatter-eps1.2`` and
  ``scatter-eps3``: sigma chosen for epsilon 1.2 (Opacus' CNN: 94.63 %) and 3
  (Tramer & Boneh: 98.7 %) under the RDP accountant (so both epsilons are at most
  the target); ``scatter-eps3-b1024``: the last at an expected batch of 1024;
* ``opacus``: per-epoch time of certnn's DP-SGD and of Opacus on PyTorch CPU
  (same model, q, sigma, C, lr; one BLAS/torch thread each), measured in the same run;
  ``opacus-scatter``: the same for the ScatterNet linear layer on the same features;
* ``audit``: the canary audit's empirical epsilon lower bound for the correct
  DP-SGD and for broken ones, against the accountant's epsilon;
* ``stability``: ridge regression's replace-one stability bound against measured
  stability on MNIST features, real and binary32.

``--quick`` shrinks every run (a smoke test of the script, not a result).
The machine these numbers come from was shared by several jobs (2 cores):
compare times only as ratios measured in the same run.
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
RESULTS = ROOT / "benchmarks" / "results" / "dp.json"

Q, SIGMA, EPOCHS, DELTA = 256 / 60000, 1.1, 60, 1e-5
DPSGD_EPOCHS = EPOCHS             # --dpsgd-epochs: a shorter run of the same recipe (the peers' figures are at 60)
LRS, SWEEP_EPOCHS = (0.25, 0.5, 1.0, 2.0, 4.0), 20      # scatter_lr: learning rates tried on the validation split


def accounting(quick):
    from certnn.theory.accounting import dpsgd_privacy, steps_for
    r = dpsgd_privacy(Q, SIGMA, steps_for(EPOCHS, Q), DELTA)
    return {"sample_rate": Q, "noise_multiplier": SIGMA, "epochs": EPOCHS, "steps": r.steps, "delta": DELTA,
            "epsilon_rdp": r.epsilon_rdp, "epsilon_pld": r.epsilon_pld, "expected": {"rdp": 2.597, "pld": 2.382}}


def _dp_run(cfg, quick):
    from certnn.theory.dp_train import train_dp_mnist
    if quick:
        cfg.epochs, cfg.limit_train, cfg.limit_test, cfg.sample_rate = 1, 6000, 1000, 256 / 6000
    r = train_dp_mnist(cfg, log=lambda s: print(s, flush=True))
    return {k: v for k, v in r.items() if k != "config"} | {"config": {k: v for k, v in r["config"].items()}}


def dpsgd(quick):
    from certnn.theory.dp_train import DPConfig
    out = _dp_run(DPConfig(epochs=DPSGD_EPOCHS, sample_rate=Q, noise_multiplier=SIGMA), quick)
    out["peers"] = {"tf_privacy": {"test_accuracy": 0.966}, "opacus": {"test_accuracy": 0.9678, "epsilon": 2.91}}
    return out


def dpsgd_eps12(quick):
    from certnn.theory.dp_train import DPConfig
    out = _dp_run(DPConfig(epochs=15, sample_rate=Q, target_epsilon=1.2), quick)
    out["peers"] = {"opacus": {"test_accuracy": 0.9463, "epsilon": 1.19}}
    return out


def _scatter(target_epsilon, quick, batch=256, lr=None):
    from certnn.theory.dp_train import DPConfig
    cfg = DPConfig(features="scatter", epochs=EPOCHS, sample_rate=batch / 60000 if batch != 256 else Q,
                   noise_multiplier=SIGMA, target_epsilon=target_epsilon, accountant="rdp", lr=lr)
    out = _dp_run(cfg, quick)
    out["note"] = ("fixed ScatterNet features + a linear layer (Tramer & Boneh 2021), not the TF Privacy CNN; "
                   "learning rate chosen on a 50k/10k split of the training set (see scatter_lr)")
    return out


def scatter(quick):
    out = _scatter(None, quick)
    out["peers"] = {"tf_privacy_cnn": {"test_accuracy": 0.966}, "opacus_cnn": {"test_accuracy": 0.9678, "epsilon": 2.91},
                    "tramer_boneh_scatternet_linear": {"test_accuracy": 0.987, "epsilon": 3.0}}
    return out


def scatter_eps12(quick):
    out = _scatter(1.2, quick)
    out["peers"] = {"opacus_cnn": {"test_accuracy": 0.9463, "epsilon": 1.19}}
    return out


def scatter_eps3(quick):
    out = _scatter(3.0, quick)
    out["peers"] = {"tramer_boneh_scatternet_linear": {"test_accuracy": 0.987, "epsilon": 3.0}}
    return out


def scatter_eps3_b1024(quick):
    """The stretch at a larger expected batch, 1024 (the paper tunes batch sizes up to
    8192): learning rate 1.0 by linear scaling of the 256-batch recipe's 0.25, not tuned."""
    out = _scatter(3.0, quick, batch=1024, lr=1.0)
    out["peers"] = {"tramer_boneh_scatternet_linear": {"test_accuracy": 0.987, "epsilon": 3.0}}
    return out


def scatter_lr(quick):
    """The learning rate of the scatter recipe, chosen on the training set alone:
    train on its first 50,000 rows, score on the last 10,000 (the test set is not
    looked at). Not accounted for in epsilon (as in the papers compared with)."""
    from certnn.theory.dp_train import DPConfig, train_dp_mnist
    rows = []
    for lr in LRS:
        cfg = DPConfig(features="scatter", epochs=SWEEP_EPOCHS, sample_rate=256 / 50000, noise_multiplier=SIGMA,
                       lr=lr, validation=10000)
        if quick:
            cfg.epochs, cfg.limit_train, cfg.validation, cfg.sample_rate = 1, 3000, 1000, 256 / 2000
        r = train_dp_mnist(cfg, log=lambda s: None)
        rows.append({"lr": lr, "validation_accuracy": r["test_accuracy"], "epochs": cfg.epochs,
                     "wall_seconds": r["wall_seconds"]})
        print(f"lr {lr}: validation accuracy {r['test_accuracy']:.4f} ({r['wall_seconds']:.0f} s)", flush=True)
    return {"rows": rows, "train_rows": "the first 50,000 training rows", "scored_on": "the last 10,000",
            "sample_rate": 256 / 50000, "noise_multiplier": SIGMA, "epochs": SWEEP_EPOCHS}


def _opacus_stepper(xtr, ytr, seed, features="pixels"):
    """Opacus' DP-SGD (PrivacyEngine, Poisson sampling) on the same model and recipe
    (the CNN, or ScatterNet's linear layer on the same features); returns a function
    running k steps. Opacus is the peer named by the issue (PyTorch CPU)."""
    from certnn.theory.dp_train import RECIPES
    import warnings
    import torch
    from opacus import PrivacyEngine
    warnings.filterwarnings("ignore", module="opacus")
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    nn = torch.nn
    r = RECIPES[features]
    model = nn.Sequential(nn.Conv2d(1, 16, 8, 2, padding=3), nn.ReLU(), nn.MaxPool2d(2, 1),
                          nn.Conv2d(16, 32, 4, 2), nn.ReLU(), nn.MaxPool2d(2, 1), nn.Flatten(),
                          nn.Linear(512, 32), nn.ReLU(), nn.Linear(32, 10)) if features == "pixels" \
        else nn.Linear(3969, 10)
    opt = torch.optim.SGD(model.parameters(), lr=r["lr"], momentum=r["momentum"])
    data = torch.utils.data.TensorDataset(torch.tensor(xtr), torch.tensor(ytr))
    loader = torch.utils.data.DataLoader(data, batch_size=round(Q * len(xtr)))
    model, opt, loader = PrivacyEngine(accountant="rdp").make_private(
        module=model, optimizer=opt, data_loader=loader, noise_multiplier=SIGMA, max_grad_norm=r["max_grad_norm"],
        poisson_sampling=True)
    batches = iter(loader)

    def run(k):
        nonlocal batches
        for _ in range(k):
            try:
                xb, yb = next(batches)
            except StopIteration:
                batches = iter(loader)
                xb, yb = next(batches)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return run


def _certnn_stepper(xtr, ytr, seed, features="pixels"):
    from certnn import functional as F
    from certnn import optim
    from certnn.random import manual_seed
    from certnn.tensor import Tensor
    from certnn.theory.dp_train import RECIPES, dp_cnn, scatter_linear
    from certnn.theory.dpsgd import DPSGD
    manual_seed(seed)
    r = RECIPES[features]
    model = dp_cnn() if features == "pixels" else scatter_linear()
    opt = optim.SGD(model.parameters(), lr=r["lr"], momentum=r["momentum"])
    dp = DPSGD(model.parameters(), opt, len(xtr), Q, SIGMA, r["max_grad_norm"], seed=seed)

    def run(k):
        for _ in range(k):
            dp.step(lambda idx: F.cross_entropy(model(Tensor(xtr[idx])), ytr[idx], reduction="none"))
    return run


def opacus(quick, features="pixels"):
    """Per-step time of certnn's DP-SGD and Opacus', blocks of steps interleaved so
    both see the same machine load; one thread each; per epoch = 1/q steps."""
    from threadpoolctl import threadpool_limits
    from certnn.theory.dp_train import MODELS, RECIPES, DPConfig, mnist_inputs
    import opacus as opacus_pkg
    import torch
    xtr, ytr = mnist_inputs(DPConfig(features=features), split="train")
    ytr = ytr.astype(np.int64)
    block, blocks = (2, 2) if quick else (10, 4) if features == "pixels" else (50, 4)
    steppers = {"certnn": _certnn_stepper(xtr, ytr, 0, features), "opacus": _opacus_stepper(xtr, ytr, 0, features)}
    times = {k: [] for k in steppers}
    with threadpool_limits(limits=1, user_api="blas"):
        for f in steppers.values():
            f(1)                                            # warm-up (allocation, first-call costs)
        for b in range(blocks):
            for name, f in steppers.items():
                t0 = time.perf_counter()
                f(block)
                times[name].append((time.perf_counter() - t0) / block)
            print(f"block {b + 1}: " + "  ".join(f"{k} {v[-1]:.3f} s/step" for k, v in times.items()), flush=True)
    per_step = {k: float(np.median(v)) for k, v in times.items()}
    steps_per_epoch = round(1 / Q)
    model = "tf-privacy-cnn (Opacus SampleConvNet)" if features == "pixels" else MODELS[features]
    return {"model": model, "batch_expected": Q * len(xtr), "noise_multiplier": SIGMA,
            "max_grad_norm": RECIPES[features]["max_grad_norm"], "steps_timed_each": block * blocks,
            "seconds_per_step": per_step, "epoch_seconds_extrapolated": {k: v * steps_per_epoch
                                                                          for k, v in per_step.items()},
            "time_ratio_certnn_over_opacus": per_step["certnn"] / per_step["opacus"], "target_ratio": 1.0,
            "blocks": times, "peer": f"opacus {opacus_pkg.__version__} on torch {torch.__version__} CPU, 1 thread"}


def audit(quick):
    """The canary audit: the correct DP-SGD and the two deliberately broken ones."""
    from certnn.theory.audit import FAULTS, audit_dpsgd
    from certnn.theory.dpsgd import DPSGD
    trials = 200 if quick else 1000
    out = {}
    for name, cls in [("correct", DPSGD)] + list(FAULTS.items()):
        r = audit_dpsgd(cls, trials=trials)
        out[name] = r.to_dict()
        print(f"audit {name}: epsilon >= {r.epsilon_lower:.3f} vs accountant <= {r.epsilon_upper:.3f}"
              f" ({'caught' if r.caught else 'consistent'})", flush=True)
    out |= scatter_audit(trials)
    return out


def scatter_audit(trials):
    """The same audit on the scatter model: its 3969 group-normalised features of
    32 MNIST training images as the data set (coordinate 0 given to the canary),
    10 classes, its clipping norm 0.1."""
    from certnn.theory.audit import FAULTS, audit_dpsgd
    from certnn.theory.dp_train import DPConfig, mnist_inputs
    from certnn.theory.dpsgd import DPSGD
    x, y = mnist_inputs(DPConfig(features="scatter"), split="train", limit=32)
    out = {}
    for name, cls in [("correct", DPSGD)] + list(FAULTS.items()):
        r = audit_dpsgd(cls, trials=trials, max_grad_norm=0.1, data=(x, y))
        out[f"scatter-linear {name}"] = r.to_dict()
        print(f"audit scatter-linear {name}: epsilon >= {r.epsilon_lower:.3f} vs accountant <= "
              f"{r.epsilon_upper:.3f} ({'caught' if r.caught else 'consistent'})", flush=True)
    return out


def stability(quick):
    """Ridge on MNIST features (top principal components, rows scaled into the unit
    ball; target +1 for digits >= 5, else -1): bound vs measured, real and binary32."""
    from certnn.data.mnist import mnist_arrays
    from certnn.theory.stability import measure, measure_binary32
    x, y = mnist_arrays((784,), None, "train")
    n, held, d = (200, 200, 8) if quick else (2000, 2000, 32)
    x = x[:n + held].astype(np.float64)
    mean = x[:n].mean(0)
    _, _, vt = np.linalg.svd(x[:n] - mean, full_matrices=False)
    f = (x - mean) @ vt[:d].T
    f /= np.linalg.norm(f, axis=1).max()
    f = f.astype(np.float32).astype(np.float64)                 # binary32-representable data
    t = np.where(y[:n + held] >= 5, 1.0, -1.0)
    out = {"features": f"MNIST train rows 0..{n + held - 1}, top {d} principal components of the first {n}, "
                       "scaled so max ||x|| = 1; y = +1 for digits >= 5 else -1", "rows": []}
    for lam in (0.1, 1.0):
        r = measure(f[:n], t[:n], f[n:], t[n:], lam, random=20 if quick else 100)
        b = measure_binary32(f[:n], t[:n], f[n:], t[n:], lam, random=5 if quick else 20)
        row = {"lambda": lam, "n": n, "d": d, "real": r.__dict__, "binary32": b.__dict__}
        out["rows"].append(row)
        print(f"lambda {lam}: bound {r.bound:.4g}; measured random {r.measured_random:.4g}, adversarial "
              f"{r.measured_adversarial:.4g} (bound / adversarial {r.bound / r.measured_adversarial:.1f}x); "
              f"binary32 bound {b.bound:.4g} vs measured {b.measured:.4g}", flush=True)
    return out


SECTIONS = {"accounting": accounting, "dpsgd": dpsgd, "dpsgd-eps1.2": dpsgd_eps12, "scatter_lr": scatter_lr,
            "scatter": scatter, "scatter-eps1.2": scatter_eps12, "scatter-eps3": scatter_eps3,
            "scatter-eps3-b1024": scatter_eps3_b1024, "opacus": opacus,
            "opacus-scatter": lambda quick: opacus(quick, "scatter"),
            "audit": audit, "stability": stability}


def _merge(updates: dict) -> dict:
    from certnn.io import atomic_write
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.update(updates)
    data["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                       "note": "2 CPU cores shared with other jobs; compare times only as same-run ratios"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(RESULTS, "w") as f:
        json.dump(data, f, indent=1, default=float)
    return data


def main(argv=None):
    global DPSGD_EPOCHS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    ap.add_argument("--quick", action="store_true", help="tiny runs (smoke test)")
    ap.add_argument("--dpsgd-epochs", type=int, default=EPOCHS, help="epochs of the dpsgd section")
    args = ap.parse_args(argv)
    DPSGD_EPOCHS = args.dpsgd_epochs
    for name in args.only or list(SECTIONS):
        t0 = time.perf_counter()
        res = SECTIONS[name](args.quick)
        res["section_seconds"] = time.perf_counter() - t0
        res["quick"] = args.quick
        _merge({name: res})
        print(json.dumps({name: {k: v for k, v in res.items() if k not in ("history", "config")}}, default=float))


if __name__ == "__main__":
    main()
