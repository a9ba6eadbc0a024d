"""Graph ReLU-split branch and bound on an oval21-shaped conv net: a local
development set and a before/after comparison of the engine's settings.

    .venv/bin/python benchmarks/conv_bab.py make [--dir D] [--images 40] [--train-images 20000]
    .venv/bin/python benchmarks/conv_bab.py run  [--dir D] [--timeout 60] [--jobs 2] [--configs before,after]
    .venv/bin/python benchmarks/conv_bab.py resnet-root [--resnet-rows 7,8] [--resnet-iters 20] [--resnet-stop 240]

``make`` (deterministic, offline): trains the MNIST analogue of oval21's base net,
Conv(1->8, 4x4, s2, p1)-ReLU-Conv(8->16, 4x4, s2, p1)-ReLU-Linear(784->100)-ReLU-
Linear(100->10), with torch (one thread, seed 0, two epochs of Adam on the first
``--train-images`` MNIST training images), writes it as ONNX, and picks oval21-style
properties: one test image, one target class (the runner-up logit), the unsafe set
``y_target >= y_true`` over the L-inf ball of radius eps clipped to [0, 1]. eps is
chosen in the "hard middle": above the radius alpha-CROWN (spec rows, CROWN
intermediate bounds) verifies, below the radius PGD (100 steps, 3 restarts) breaks,
found by bisection per image; the instance's eps is ``eps_v + f (eps_a - eps_v)``
with f cycling through 0.1, 0.2, 0.35 (oval21's properties are
the ones BaB closes within minutes, not the hopeless ones near eps_a). Expected answers are not known (``-``).
Writes ``<dir>/net.onnx``, ``<dir>/vnnlib/*.vnnlib``, ``<dir>/instances.csv`` and
``<dir>/selection.json`` (the radii found). Default dir:
``certnn-conv-bab-dev`` in the system's temporary folder (generated, never committed).

``run``: every instance under each configuration of :class:`GraphBabOptions`
(``before``: the engine as it was, ``after``: the current defaults) in the same
run, ``--jobs`` processes, one BLAS thread each; prints a table and writes
``benchmarks/results/conv_bab.json`` (instance paths relative to the dev set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FRACTIONS = (0.1, 0.2, 0.35)


def _net():
    import torch.nn as tnn
    return tnn.Sequential(tnn.Conv2d(1, 8, 4, 2, 1), tnn.ReLU(), tnn.Conv2d(8, 16, 4, 2, 1), tnn.ReLU(),
                          tnn.Flatten(), tnn.Linear(784, 100), tnn.ReLU(), tnn.Linear(100, 10))


def _train(x, y, epochs=2, seed=0):
    import torch
    torch.manual_seed(seed)
    model = _net()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(epochs):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[i:i + 64]), yt[i:i + 64]).backward()
            opt.step()
    return model.eval()


def _case(x, label, target, eps):
    from certnn.spec.linear import LinearSpec
    from certnn.spec.region import Region
    C = np.zeros((1, 1, 10))
    C[0, 0, label], C[0, 0, target] = 1.0, -1.0          # y_true - y_target > 0 is safe
    return Region.ball(x[None], eps, "inf", domain=(0.0, 1.0)), LinearSpec(C, np.zeros((1, 1)), np.zeros(1, int))


def _verified(graph, x, label, target, eps) -> bool:
    from certnn.bounds import compute_bounds
    region, spec = _case(x, label, target, eps)
    return bool(compute_bounds(graph, region, spec, method="alpha-crown", iters=20).lb.min() > 0)


def _broken(graph, x, label, target, eps) -> bool:
    from certnn.verify.attacks import pgd
    region, spec = _case(x, label, target, eps)
    return bool(pgd(graph, region, spec, steps=100, restarts=3, seed=0).found_real.any())


def _bisect(pred, lo, hi, steps=10):
    """The radius where ``pred`` turns from False to True, to 2^-steps of [lo, hi]."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if pred(mid) else (mid, hi)
    return lo, hi


def _vnnlib(x, label, target, eps) -> str:
    lo, hi = np.clip(x.reshape(-1) - eps, 0, 1), np.clip(x.reshape(-1) + eps, 0, 1)
    out = [f"; MNIST test image, label {label}, target {target}, eps {eps!r}"]
    out += [f"(declare-const X_{i} Real)" for i in range(lo.size)]
    out += [f"(declare-const Y_{j} Real)" for j in range(10)]
    for i in range(lo.size):
        out.append(f"(assert (>= X_{i} {float(lo[i])!r}))")
        out.append(f"(assert (<= X_{i} {float(hi[i])!r}))")
    out.append(f"(assert (>= Y_{target} Y_{label}))")
    return "\n".join(out) + "\n"


def make(args):
    import torch
    from certnn.data.mnist import load_mnist
    from certnn.interop.onnx_export import save_onnx
    from certnn.interop.torch_import import from_torch
    from certnn.io import atomic_write
    from certnn.ir.run import run
    torch.set_num_threads(1)
    d = Path(args.dir)
    (d / "vnnlib").mkdir(parents=True, exist_ok=True)
    xtr, ytr = load_mnist(os.environ["CERTNN_DATA"], "train")
    xte, yte = load_mnist(os.environ["CERTNN_DATA"], "test")
    xtr = (xtr[:args.train_images].reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    model = _train(xtr, ytr[:args.train_images].astype(np.int64))
    graph = from_torch(model, torch.zeros(1, 1, 28, 28))
    save_onnx(graph, d / "net.onnx")
    xs = (xte[:args.images].reshape(-1, 1, 28, 28) / 255.0).astype(np.float64)
    logits = np.asarray(run(graph, xs, semantics="real")).reshape(len(xs), -1)
    rows, sel = [], []
    for i in range(len(xs)):
        label = int(yte[i])
        if logits[i].argmax() != label:
            continue
        target = int(np.argsort(-logits[i])[1])
        ev = _bisect(lambda e: not _verified(graph, xs[i], label, target, e), 0.0, 0.2)[0]
        ea = _bisect(lambda e: _broken(graph, xs[i], label, target, e), ev, 0.2)[1]
        if ea - ev < 1e-3 * ev:
            continue
        f = FRACTIONS[len(rows) % len(FRACTIONS)]
        eps = float(np.float32(ev + f * (ea - ev)))
        name = f"img{i}_t{target}_eps{eps:.5f}.vnnlib"
        with atomic_write(d / "vnnlib" / name, "w") as fh:
            fh.write(_vnnlib(xs[i], label, target, eps))
        rows.append(f"net.onnx,vnnlib/{name},60,-")
        sel.append({"image": i, "label": label, "target": target, "eps_verified": ev, "eps_attacked": ea,
                    "fraction": f, "eps": eps})
        print(f"image {i}: label {label} target {target}  alpha-CROWN up to {ev:.5f}, PGD from {ea:.5f}, "
              f"eps {eps:.5f}", flush=True)
        if len(rows) >= args.count:
            break
    with atomic_write(d / "instances.csv", "w") as fh:
        fh.write("\n".join(rows) + "\n")
    with atomic_write(d / "selection.json", "w") as fh:
        json.dump(sel, fh, indent=1)
    print(f"wrote {len(rows)} instances to {d}")


def configs():
    """The engine settings compared; ``before`` is the engine as it was before this benchmark."""
    from certnn.verify.bab_graph import GraphBabOptions
    return {"before": GraphBabOptions(root="crown", iters=20, falsify_share=0.25),
            "after": GraphBabOptions(),
            "root30": GraphBabOptions(root_share=0.3),      # the default before stop 27
            "after_refresh": GraphBabOptions(refresh=True),
            "after_it20": GraphBabOptions(iters=20),
            "after_f25": GraphBabOptions(falsify_share=0.25),
            "after_fsb": GraphBabOptions(branching="fsb", fsb_reduce="min"),     # fsb up to stop 34
            "after_b64": GraphBabOptions(batch=64),
            "crown_it8": GraphBabOptions(root="crown", iters=8),
            "after_it8": GraphBabOptions(iters=8),                  # the default before stop 28
            "after_f64": GraphBabOptions(precision="float64"),      # the default before stop 28
            "after_lb005": GraphBabOptions(lr_beta=0.05),           # the default before stop 29
            "after_it4": GraphBabOptions(iters=4),                  # the default before stop 30
            "crown_fsb": GraphBabOptions(root="crown", branching="fsb", fsb_reduce="min"),
            "crown_fsbmax": GraphBabOptions(root="crown", branching="fsb", fsb_reduce="max"),
            "after_fsbmax": GraphBabOptions(branching="fsb", fsb_reduce="max"),
            "crown_root": GraphBabOptions(root="crown")}           # today's defaults on CROWN root bounds


def task(item: dict) -> dict:
    """One instance under one configuration (a picklable top-level function)."""
    from threadpoolctl import threadpool_limits
    from certnn.verify.bab import verify_property
    from certnn.verify.vnncomp import load_instance
    t0 = time.monotonic()
    graph, prop, cases = load_instance(item["onnx"], item["vnnlib"])
    with threadpool_limits(limits=1, user_api="blas"):
        v = verify_property(graph, cases, item["timeout"] - (time.monotonic() - t0),
                            graph_options=configs()[item["config"]])
    status = v.status
    if status == "sat" and not prop.is_counterexample(*v.counterexample):
        status = "unknown"
    case = (v.stats.get("per_case") or [{}])[0]
    return {"config": item["config"], "instance": item["rel"], "status": status,
            "seconds": round(time.monotonic() - t0, 3), "branches": v.stats.get("branches"),
            "max_depth": v.stats.get("max_depth"), "alpha_crown_lb": case.get("alpha_crown_lb"),
            "worst_open_lb": case.get("worst_lb")}


def run_configs(args):
    from certnn.executor import make_executor
    from certnn.io import atomic_write
    from certnn.verify.vnncomp import read_instances
    names = args.configs.split(",")
    unknown = sorted(set(names) - set(configs()))
    if unknown:
        raise SystemExit(f"error: --configs: unknown configuration(s) {', '.join(unknown)}; "
                         f"use {', '.join(configs())}")
    rows = read_instances(Path(args.dir) / "instances.csv")
    if args.only:
        rows = [rows[int(i)] for i in args.only.split(",")]
    # instance-major: a configuration's instances do not all run while the machine is busier
    items = [{"config": c, "onnx": r["onnx"], "vnnlib": r["vnnlib"], "rel": r["rel"][1], "timeout": args.timeout}
             for r in rows for c in names]
    out = []
    t0 = time.monotonic()
    with make_executor(jobs=args.jobs) as ex:
        for _, res in ex.map(task, items, return_exceptions=True):
            if not isinstance(res, dict):
                raise SystemExit(f"error: {res}")
            out.append(res)
            print(f"{res['config']:<11} {res['instance']:<40} {res['status']:<8} {res['seconds']:7.1f} s  "
                  f"branches {res['branches']}  root lb {res['alpha_crown_lb']}", flush=True)
    summary = {}
    for c in names:
        mine = [r for r in out if r["config"] == c]
        solved = [r for r in mine if r["status"] in ("sat", "unsat")]
        summary[c] = {"instances": len(mine), "solved": len(solved),
                      "unsat": sum(r["status"] == "unsat" for r in mine),
                      "sat": sum(r["status"] == "sat" for r in mine),
                      "median_solved_seconds": float(np.median([r["seconds"] for r in solved])) if solved else None,
                      "branches": int(sum(r["branches"] or 0 for r in mine)),
                      "options": dict(vars(configs()[c]))}
    # no expected answers are known: a sat under one setting and an unsat under another is an error
    by_inst = {}
    for r in out:
        by_inst.setdefault(r["instance"], set()).add(r["status"])
    conflicts = sorted(k for k, v in by_inst.items() if {"sat", "unsat"} <= v)
    print(f"\n{'config':<11} {'solved':>6} {'unsat':>5} {'sat':>4} {'median s':>9} {'branches':>9}")
    for c, s in summary.items():
        med = "-" if s["median_solved_seconds"] is None else f"{s['median_solved_seconds']:.1f}"
        print(f"{c:<11} {s['solved']:>6} {s['unsat']:>5} {s['sat']:>4} {med:>9} {s['branches']:>9}")
    print(f"conflicting answers: {len(conflicts)}")
    res = {"dev_set": "benchmarks/conv_bab.py make (MNIST oval21-base-shaped net)", "timeout_s": args.timeout,
           "jobs": args.jobs, "blas_threads": 1, "wall_seconds": round(time.monotonic() - t0, 1),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared, loaded)",
           "load_average": os.getloadavg(), "summary": summary, "conflicts": conflicts, "rows": out}
    with atomic_write(args.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"wrote {args.out}")


def resnet_root(args):
    """sri_resnet_a rows (expected unsat): the root margin (the weakest group's best
    row) with CROWN intermediate bounds vs alpha-CROWN on every intermediate
    neuron (``alpha_mode="full"``; no step after ``--resnet-stop`` seconds, so
    the margin is what a 300 s instance could have at its root), then 50
    alpha-CROWN steps on the spec rows; seconds of each. Merged into the results
    file under ``sri_resnet_a_root``."""
    from threadpoolctl import threadpool_limits
    from certnn.bounds.net import analyze
    from certnn.bounds.split import split_bounds
    from certnn.io import atomic_write
    from certnn.verify.bab_graph import group_score, root_bounds
    from certnn.verify.vnncomp import load_instance, read_instances
    base = Path(os.environ["CERTNN_BENCHMARKS"]) / "vnncomp2022" / "sri_resnet_a"
    rows = read_instances(base / "instances.csv")
    out = []
    for i in (int(k) for k in args.resnet_rows.split(",")):
        r = rows[i]
        graph, _, cases = load_instance(r["onnx"], r["vnnlib"])
        region, spec = cases[0]
        net = analyze(graph)
        row = {"row": i, "vnnlib": r["rel"][1], "expected": r["expected"]}
        for method in ("crown", "alpha-crown"):
            with threadpool_limits(limits=1, user_api="blas"):
                t0 = time.monotonic()
                root = root_bounds(net, region, method, args.resnet_iters, alpha_stop=t0 + args.resnet_stop)
                t1 = time.monotonic()
                sb = split_bounds(net, region, spec.C[:1], spec.d[:1], root, {}, iters=50)
            row[method] = {"intermediate_seconds": round(t1 - t0, 1), "spec_seconds": round(time.monotonic() - t1, 1),
                           "margin": float(group_score(sb.lb, spec.groups)[0])}
            print(f"row {i} {method:<12} margin {row[method]['margin']:.4f}  intermediate "
                  f"{row[method]['intermediate_seconds']} s  spec {row[method]['spec_seconds']} s", flush=True)
        out.append(row)
        res = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
        res["sri_resnet_a_root"] = {"iters": args.resnet_iters, "alpha_stop_s": args.resnet_stop, "blas_threads": 1, "load_average": os.getloadavg(),
                                    "rows": out}
        with atomic_write(args.out, "w") as fh:
            json.dump(res, fh, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=("make", "run", "resnet-root"))
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "certnn-conv-bab-dev"),
                    help="the generated dev set (not committed)")
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--count", type=int, default=15)
    ap.add_argument("--train-images", type=int, default=20000)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--configs", default="before,after,after_refresh")
    ap.add_argument("--only", default=None)
    ap.add_argument("--resnet-rows", default="7,8")
    ap.add_argument("--resnet-iters", type=int, default=20)
    ap.add_argument("--resnet-stop", type=float, default=240.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "conv_bab.json"))
    args = ap.parse_args()
    {"make": make, "run": run_configs, "resnet-root": resnet_root}[args.cmd](args)


if __name__ == "__main__":
    main()
