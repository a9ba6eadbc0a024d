"""MNIST training benchmark: certnn's `certnn train mnist` command (whole
command wall time, accuracy) against PyTorch CPU with the same architecture,
hyper-parameters, epochs and batch order, measured in the same run.

    .venv/bin/python benchmarks/mnist_train.py [--quick]

Prints a table and writes benchmarks/results/mnist_train.json. PyTorch rows are
skipped with a note when torch is not importable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

CASES = [
    {"name": "784-128-10", "hidden": [128], "epochs": 5, "target": 0.975, "time_target_s": 20.0},
    {"name": "784-512-512-10", "hidden": [512, 512], "epochs": 8, "target": 0.982, "time_target_s": None},
]
HP = {"batch_size": 64, "lr": 0.1, "momentum": 0.9}


def run_certnn(case, quick):
    cmd = [sys.executable, "-m", "certnn", "train", "mnist", "--arch", "mlp",
           "--hidden", ",".join(map(str, case["hidden"])), "--epochs", str(case["epochs"]),
           "--batch-size", str(HP["batch_size"]), "--lr", str(HP["lr"]), "--optimizer", "sgd",
           "--momentum", str(HP["momentum"]), "--json", "--no-progress"]
    if quick:
        cmd += ["--limit-train", "6000", "--limit-test", "2000"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"certnn train failed:\n{r.stderr}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    per_epoch = min(h["train_seconds"] for h in res["history"])
    return {"test_accuracy": res["test_accuracy"], "command_wall_s": wall,
            "train_s_per_epoch_best": per_epoch, "params": res["params"]}


def run_torch(case, quick, threads):
    import torch
    from certnn.data.loader import DataLoader
    from certnn.data.mnist import mnist_arrays
    from certnn.zoo import input_shape
    from certnn.zoo.train import TrainConfig

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = TrainConfig(hidden=case["hidden"])
    xtr, ytr = mnist_arrays(input_shape(cfg.model_config()), None, "train")
    xte, yte = mnist_arrays(input_shape(cfg.model_config()), None, "test")
    if quick:
        xtr, ytr, xte, yte = xtr[:6000], ytr[:6000], xte[:2000], yte[:2000]
    layers, w = [], 784
    for h in case["hidden"]:
        layers += [torch.nn.Linear(w, h), torch.nn.ReLU()]
        w = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(w, 10))
    opt = torch.optim.SGD(model.parameters(), lr=HP["lr"], momentum=HP["momentum"], nesterov=True)
    loader = DataLoader((xtr, ytr), batch_size=HP["batch_size"], shuffle=True, seed=0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=case["epochs"] * len(loader))
    times = []
    for epoch in range(case["epochs"]):
        t0 = time.perf_counter()
        for xb, yb in loader.batches(epoch):
            xb, yb = torch.from_numpy(xb), torch.from_numpy(yb)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        acc = float((model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    return {"test_accuracy": acc, "train_s_per_epoch_best": min(times), "threads": threads}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10%% of the data (smoke run; numbers not comparable)")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    rows = []
    for case in CASES:
        c = run_certnn(case, args.quick)
        row = {"case": case["name"], "epochs": case["epochs"], **HP, "certnn": c}
        if have_torch:
            t = [run_torch(case, args.quick, n) for n in (1, 2)]
            best = min(t, key=lambda r: r["train_s_per_epoch_best"])
            row["torch"] = t
            row["ratio_vs_torch_best"] = c["train_s_per_epoch_best"] / best["train_s_per_epoch_best"]
        rows.append(row)
    print(f"{'model':16} {'epochs':>6} {'certnn acc':>10} {'cmd wall s':>10} {'s/epoch':>8} "
          f"{'torch acc':>9} {'torch s/epoch (1t/2t)':>22} {'ratio':>6}")
    for r in rows:
        c = r["certnn"]
        line = (f"{r['case']:16} {r['epochs']:>6} {c['test_accuracy']:>10.4f} {c['command_wall_s']:>10.1f} "
                f"{c['train_s_per_epoch_best']:>8.2f}")
        if "torch" in r:
            t = r["torch"]
            line += (f" {max(x['test_accuracy'] for x in t):>9.4f} "
                     f"{t[0]['train_s_per_epoch_best']:>10.2f} / {t[1]['train_s_per_epoch_best']:<9.2f}"
                     f" {r['ratio_vs_torch_best']:>6.2f}")
        else:
            line += "  (torch not installed: PyTorch comparison skipped)"
        print(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("mnist_train_quick.json" if args.quick else "mnist_train.json")
    out.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                               "python": platform.python_version(), "numpy": np.__version__,
                               "quick": args.quick, "rows": rows}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
