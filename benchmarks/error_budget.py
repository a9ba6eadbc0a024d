"""Error budget of the trained MNIST MLP over the whole test set: the sound
bound on |f_binary32(x) - f_real(x)| per logit (certnn's sequential order and
the any-order bound) against the error measured at the 10,000 test images.

    .venv/bin/python benchmarks/error_budget.py [--checkpoint runs/mnist-mlp]

Trains the 784-128-10 MLP first when the checkpoint does not exist. Prints a
table and writes benchmarks/results/error_budget.json. Also the backward pass:
the gradient budget (cross_entropy over test batches) against the measured
|binary32 gradient - real gradient|.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def gradient_rows(g, x, y, batches=(100, 1000), count=5):
    """Backward-pass budget (certnn.error_budget.gradient) at test batches, per source,
    worst over ``count`` batches of each size."""
    from certnn.error_budget.gradient import backward_binary32, backward_real, grad_budget
    rows = []
    for bs in batches:
        worst = {}
        t0 = time.perf_counter()
        for i in range(count):
            xb, yb = x[i * bs:(i + 1) * bs].astype(np.float32), np.asarray(y[i * bs:(i + 1) * bs], np.int64)
            b = grad_budget(g, xb, xb, loss="cross_entropy", target=yb)
            g32 = backward_binary32(g, xb, loss="cross_entropy", target=yb)
            gr = backward_real(g, xb, loss="cross_entropy", target=yb)
            for k in b.bound:
                d = np.abs(g32[k].astype(np.float64) - gr[k])
                w = worst.setdefault(k, {"bound": 0.0, "measured": 0.0, "ratios": [], "holds": True})
                w["bound"] = max(w["bound"], float(b.bound[k].max()))
                w["measured"] = max(w["measured"], float(d.max()))
                w["ratios"].append(b.bound[k][d > 0] / d[d > 0])
                w["holds"] &= bool(np.all(d <= b.bound[k]))
        sec = time.perf_counter() - t0
        for k, w in worst.items():
            rows.append({"batch": bs, "batches": count, "source": k, "max_bound": w["bound"],
                         "max_measured": w["measured"], "ratio_max": w["bound"] / w["measured"],
                         "median_elementwise_ratio": float(np.median(np.concatenate(w["ratios"]))),
                         "holds_everywhere": w["holds"], "seconds_all_sources": sec})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "runs" / "mnist-mlp"))
    args = ap.parse_args()
    ck = Path(args.checkpoint)
    if not (ck / "checkpoint.json").exists():
        subprocess.run([sys.executable, "-m", "certnn", "train", "mnist", "--out", str(ck), "--no-progress"],
                       check=True, cwd=ROOT)
    from threadpoolctl import threadpool_limits

    from certnn.interop.checkpoint import load_graph, read_meta
    from certnn.error_budget.report import budget_for_images
    from certnn.data.mnist import mnist_arrays
    from certnn.zoo import input_shape
    threadpool_limits(1)
    meta, _, _ = read_meta(ck)
    g = load_graph(ck)
    x, y = mnist_arrays(input_shape(meta["config"]), None, "test")
    rows = []
    for order in ("sequential", "any"):
        t0 = time.perf_counter()
        bound, measured, _ = budget_for_images(g, x, 0.0, order)
        sec = time.perf_counter() - t0
        pos = measured > 0
        rows.append({"order": order, "images": len(x), "seconds_incl_measurement": sec,
                     "max_bound": float(bound.max()), "max_measured": float(measured.max()),
                     "ratio_max": float(bound.max() / measured.max()),
                     "median_elementwise_ratio": float(np.median(bound[pos] / measured[pos])),
                     "holds_everywhere": bool(np.all(measured <= bound))})
    print(f"{'order':11} {'images':>6} {'seconds':>8} {'max bound':>10} {'max measured':>12} {'ratio':>7} "
          f"{'median ratio':>12} {'holds':>6}")
    for r in rows:
        print(f"{r['order']:11} {r['images']:>6} {r['seconds_incl_measurement']:>8.2f} {r['max_bound']:>10.3e} "
              f"{r['max_measured']:>12.3e} {r['ratio_max']:>7.1f} {r['median_elementwise_ratio']:>12.1f} "
              f"{str(r['holds_everywhere']):>6}")
    grad = gradient_rows(g, x, y)
    print("gradient (cross_entropy mean over a batch, binary32 backward vs real, sequential order):")
    print(f"{'batch':>5} {'source':>10} {'max bound':>10} {'max measured':>12} {'ratio':>8} {'median ratio':>12} "
          f"{'holds':>6}")
    for r in grad:
        print(f"{r['batch']:>5} {r['source']:>10} {r['max_bound']:>10.3e} {r['max_measured']:>12.3e} "
              f"{r['ratio_max']:>8.1f} {r['median_elementwise_ratio']:>12.1f} {str(r['holds_everywhere']):>6}")
    from certnn.io import atomic_write, relative_to_roots
    out = ROOT / "benchmarks" / "results" / "error_budget.json"
    with atomic_write(out, "w") as f:
        f.write(json.dumps({"checkpoint": relative_to_roots(ck), "rows": rows, "gradient_rows": grad}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
