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
* ``opacus``: per-epoch time of certnn's DP-SGD and of Opacus on PyTorch CPU
  (same model, q, sigma, C, lr; one BLAS/torch thread each), measured in the same run;
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
    out = _dp_run(DPConfig(epochs=EPOCHS, sample_rate=Q, noise_multiplier=SIGMA), quick)
    out["peers"] = {"tf_privacy": {"test_accuracy": 0.966}, "opacus": {"test_accuracy": 0.9678, "epsilon": 2.91}}
    return out


def dpsgd_eps12(quick):
    from certnn.theory.dp_train import DPConfig
    out = _dp_run(DPConfig(epochs=15, sample_rate=Q, target_epsilon=1.2), quick)
    out["peers"] = {"opacus": {"test_accuracy": 0.9463, "epsilon": 1.19}}
    return out


SECTIONS = {"accounting": accounting, "dpsgd": dpsgd, "dpsgd-eps1.2": dpsgd_eps12}


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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    ap.add_argument("--quick", action="store_true", help="tiny runs (smoke test)")
    args = ap.parse_args(argv)
    for name in args.only or list(SECTIONS):
        t0 = time.perf_counter()
        res = SECTIONS[name](args.quick)
        res["section_seconds"] = time.perf_counter() - t0
        res["quick"] = args.quick
        _merge({name: res})
        print(json.dumps({name: {k: v for k, v in res.items() if k not in ("history", "config")}}, default=float))


if __name__ == "__main__":
    main()
