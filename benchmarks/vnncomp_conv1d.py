"""A generated VNN-COMP category of 1-D convolutional networks, run end to end
through `certnn vnncomp suite` and cross-checked.

    .venv/bin/python benchmarks/vnncomp_conv1d.py [--dir DIR] [--timeout 30] [--samples 20000]
    .venv/bin/python benchmarks/vnncomp_conv1d.py --large [--timeout 30]

Builds (deterministic, offline, a few seconds; torch is a benchmark-only
dependency here) two time-series classifiers on a synthetic 3-class signal task
(sine / square / triangle waves of random frequency, phase and amplitude plus
noise, length 32):

* ``conv1d_a.onnx``: Conv1d(1->8, k5, stride 2, pad 2) - ReLU -
  Conv1d(8->8, k3, stride 2, pad 2, dilation 2, groups 2) - ReLU - Flatten -
  Linear(64->16) - ReLU - Linear(16->3);
* ``conv1d_b.onnx.gz`` (gzipped, as VNN-COMP 2023+ ships): Conv1d(1->8, k5,
  pad 2) - BatchNorm1d - ReLU - AvgPool1d(2) - Conv1d(8->8, k3, stride 2,
  pad 1) - ReLU - Flatten - Linear(64->3);

each trained for 500 Adam steps, and per network 4 test signals x 5
L-inf radii as VNNLIB properties (the unsafe set: some other class scores at
least the true one; every other property gzipped as ``.vnnlib.gz``), plus
``instances.csv``. Then:

1. ``certnn vnncomp suite instances.csv --json`` (a subprocess, the command line
   as a user runs it): solved / sat / unsat / timeout / unknown and times.
2. Per instance ``certnn vnncomp run --out R --cert C`` (certifiable mode):
   every ``sat`` counterexample is replayed in onnxruntime (inside the box, the
   printed outputs agree, the property violated); every ``unsat`` certificate
   is re-checked by ``certnn check C --property P``; and for every ``unsat``
   (of either run) ``--samples`` points of the box (uniform, plus corners)
   through onnxruntime must show no violation. A disagreement between the two
   runs' decided answers counts as wrong.

The peer is onnxruntime (agreement on every counterexample) and dense sampling
(no unsafe point in any box proved unsat). Writes
benchmarks/results/vnncomp_conv1d.json (paths relative to the category folder).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LENGTH, CLASSES = 32, 3
EPSILONS = (0.01, 0.05, 0.1, 0.2, 0.3)
SIGNALS = 4


# ---------------------------------------------------------------- the category

def signals(rng, n):
    """n noisy waves of length LENGTH and their classes (0 sine, 1 square, 2 triangle)."""
    t = np.arange(LENGTH) / LENGTH
    y = rng.integers(0, CLASSES, n)
    f = rng.uniform(1.0, 3.0, (n, 1))
    ph = rng.uniform(0, 2 * np.pi, (n, 1))
    a = rng.uniform(0.5, 1.0, (n, 1))
    u = 2 * np.pi * f * t + ph
    waves = np.stack([np.sin(u), np.sign(np.sin(u)), 2 / np.pi * np.arcsin(np.sin(u))], 1)
    x = a * waves[np.arange(n), y] + rng.normal(0, 0.1, (n, LENGTH))
    return x[:, None, :].astype(np.float32), y


def networks(torch):
    nn = torch.nn
    a = nn.Sequential(nn.Conv1d(1, 8, 5, stride=2, padding=2), nn.ReLU(),
                      nn.Conv1d(8, 8, 3, stride=2, padding=2, dilation=2, groups=2), nn.ReLU(),
                      nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, CLASSES))
    b = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.AvgPool1d(2),
                      nn.Conv1d(8, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, CLASSES))
    return {"conv1d_a.onnx": a, "conv1d_b.onnx.gz": b}


def train(torch, net, x, y, steps=500):
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)
    g = torch.Generator().manual_seed(0)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (128,), generator=g)
        loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()


def vnnlib_text(x, label, eps) -> str:
    """An L-inf box around x and the unsafe set: some other class >= the true one."""
    lines = [f"; 1-D CNN robustness: class {label}, L-inf radius {eps}"]
    lines += [f"(declare-const X_{i} Real)" for i in range(x.size)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(CLASSES)]
    for i, v in enumerate(x.reshape(-1)):
        lines.append(f"(assert (<= X_{i} {float(v) + eps!r}))")
        lines.append(f"(assert (>= X_{i} {float(v) - eps!r}))")
    others = " ".join(f"(and (>= Y_{j} Y_{label}))" for j in range(CLASSES) if j != label)
    lines.append(f"(assert (or {others}))")
    return "\n".join(lines) + "\n"


def build_category(folder: Path, timeout: float) -> dict:
    """Write the networks, properties and instances.csv into ``folder``; returns
    what was built (test accuracies)."""
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    xtr, ytr = signals(rng, 4096)
    xte, yte = signals(rng, 512)
    folder.mkdir(parents=True, exist_ok=True)
    rows, info = [], {}
    for name, net in networks(torch).items():
        train(torch, net, xtr, ytr)
        with torch.no_grad():
            pred = net(torch.tensor(xte)).argmax(1).numpy()
        info[name] = {"test_accuracy": float((pred == yte).mean())}
        path = folder / name
        raw = folder / "tmp.onnx"
        torch.onnx.export(net, torch.tensor(xte[:1]), str(raw), input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
        data = raw.read_bytes()
        raw.unlink()
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        picked = [i for i in range(len(yte)) if pred[i] == yte[i]][:SIGNALS]
        for k, i in enumerate(picked):
            for e, eps in enumerate(EPSILONS):
                stem = f"{name.split('.')[0]}_sig{k}_eps{eps}"
                vname = stem + (".vnnlib.gz" if (k + e) % 2 else ".vnnlib")
                text = vnnlib_text(xte[i], int(yte[i]), eps).encode()
                (folder / vname).write_bytes(gzip.compress(text, mtime=0) if vname.endswith(".gz") else text)
                rows.append(f"{name},{vname},{timeout:g}")
    (folder / "instances.csv").write_text("\n".join(rows) + "\n")
    return info


# ---------------------------------------------------------------- the cross-checks

def _cli(*args, timeout=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "certnn", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def suite_json(csv: Path, *extra) -> tuple:
    """``certnn vnncomp suite CSV --json`` as a user runs it: (its JSON, wall seconds)."""
    t0 = time.monotonic()
    p = _cli("vnncomp", "suite", str(csv), "--json", "--no-progress", *extra)
    wall = time.monotonic() - t0
    if p.returncode not in (0, 1) or not p.stdout.strip():
        raise SystemExit(f"suite failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1]), wall


def cross_check_rows(folder: Path, suite: dict, check, timeout: float, samples: int, rng) -> list:
    """``check(folder, row, timeout, samples, rng)`` on every suite row, merged into the
    row and printed as it completes."""
    out = []
    for row in suite["rows"]:
        c = check(folder, row, timeout, samples, rng)
        out.append(dict(row, **c))
        print(f"{row['name']:38s} suite {row['status']:8s} {row['seconds']:7.2f}s br {row.get('branches') or 0:5d}  "
              f"cert-run {c.get('cert_status', 'error'):8s} {c.get('cert_run_seconds', 0):7.2f}s  "
              f"cert {'-' if 'certificate_accepted' not in c else c['certificate_accepted']!s:5s} "
              f"sampled violations {c.get('sampled_violations', '-')}  wrong {c['wrong']}", flush=True)
    return out


def _session(path: Path):
    import onnxruntime as ort
    data = path.read_bytes()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(gzip.decompress(data) if path.name.endswith(".gz") else data, so,
                                providers=["CPUExecutionProvider"])


def _ort(sess, x):
    """Outputs (n, classes) of the rows x (n, LENGTH), one row per call (the export's batch is 1)."""
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: r.reshape(1, 1, LENGTH).astype(np.float32)})[0] for r in x])


def _read_result(path: Path):
    lines = path.read_text().split("\n", 1)
    if lines[0].strip() != "sat":
        return lines[0].strip(), None
    vals = {}
    for tok in lines[1].replace("(", " ").replace(")", " ").split("\n"):
        parts = tok.split()
        for name, v in zip(parts[::2], parts[1::2]):
            vals[name] = float(v)
    x = np.array([vals[f"X_{i}"] for i in range(LENGTH)])
    y = np.array([vals[f"Y_{j}"] for j in range(CLASSES)])
    return "sat", (x, y)


def cross_check(folder: Path, row: dict, timeout: float, samples: int, rng) -> dict:
    from certnn.interop.vnnlib import load_vnnlib
    onnx, vnnlib = folder / row["onnx"], folder / row["vnnlib"]
    prop = load_vnnlib(vnnlib)
    (box, spec), = prop.cases
    lo, hi = box.lo.reshape(-1), box.hi.reshape(-1)
    sess = _session(onnx)
    out = {"suite_status": row["status"]}
    with tempfile.TemporaryDirectory() as td:
        res, cert = Path(td) / "r.txt", Path(td) / "c.json"
        t0 = time.monotonic()
        p = _cli("vnncomp", "run", str(onnx), str(vnnlib), "--timeout", str(timeout), "--out", str(res),
                 "--cert", str(cert))
        out["cert_run_seconds"] = round(time.monotonic() - t0, 3)
        if p.returncode != 0:
            out["cert_run_error"] = p.stderr.strip()[-300:]
            return out
        status, cex = _read_result(res)
        out["cert_status"] = status
        if status == "sat":
            x, y = cex
            y_ort = _ort(sess, x[None])[0].astype(np.float64)
            out["sat_in_box"] = bool(np.all(x >= lo) and np.all(x <= hi))
            out["sat_ort_max_abs_diff"] = float(np.max(np.abs(y_ort - y)))
            out["sat_ort_violates"] = bool(prop.is_counterexample(x, y_ort))
        if status == "unsat":
            c = _cli("check", str(cert), "--property", str(vnnlib))
            out["certificate_accepted"] = c.returncode == 0
    if "unsat" in (status, row["status"]):
        n = samples
        xs = rng.uniform(lo, hi, (n, lo.size))
        xs[: min(n, 64)] = np.where(rng.integers(0, 2, (min(n, 64), lo.size)) > 0, hi, lo)  # corners
        ys = _ort(sess, xs).astype(np.float64)
        out["sampled_violations"] = int(sum(prop.is_counterexample(a, b) for a, b in zip(xs, ys)))
        out["sampled_points"] = n
    decided = {s for s in (status, row["status"]) if s in ("sat", "unsat")}
    out["wrong"] = (len(decided) > 1 or ("unsat" in decided and out.get("sampled_violations", 0) > 0)
                    or (status == "sat" and not (out["sat_in_box"] and out["sat_ort_violates"]
                                                 and out["sat_ort_max_abs_diff"] < 1e-4))
                    or (status == "unsat" and not out["certificate_accepted"]))
    return out


# ---------------------------------------------------------------- the larger net (--large)

LARGE_RADII = (1e-4, 1e-3, 1e-2)


def large(timeouts, out_path):
    """The larger 1-D CNN the docs report on: 2x256 input, Conv1d(2->32, k7) - ReLU -
    MaxPool1d(2) - Conv1d(32->64, k5, s2) - BatchNorm1d - ReLU - Conv1d(64->64, k3, s2) -
    ReLU - GlobalAveragePool - Linear(64->3), random weights (seed 0), one input, three
    L-inf radii; each property run as ``certnn vnncomp run`` (a fresh process, as a user
    runs it) at each timeout. Records the answer, the wall time and how far past its
    timeout each run went (the bound's deadline is checked between nodes)."""
    import torch
    from certnn.io import atomic_write
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Conv1d(2, 32, 7), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(32, 64, 5, stride=2),
                        nn.BatchNorm1d(64), nn.ReLU(), nn.Conv1d(64, 64, 3, stride=2), nn.ReLU(),
                        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, CLASSES)).eval()
    with torch.no_grad():
        net[4].running_mean.uniform_(-0.1, 0.1)
        net[4].running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 2, 256)
    label = int(net(x).argmax())
    rows = []
    with tempfile.TemporaryDirectory() as td:
        folder = Path(td)
        torch.onnx.export(net, x, str(folder / "large.onnx"), input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
        for eps in LARGE_RADII:
            (folder / f"r{eps}.vnnlib").write_text(vnnlib_text(x.numpy()[0], label, eps))
            for t in timeouts:
                t0 = time.monotonic()
                p = _cli("vnncomp", "run", str(folder / "large.onnx"), str(folder / f"r{eps}.vnnlib"),
                         "--timeout", str(t), "--out", str(folder / "r.txt"))
                wall = time.monotonic() - t0
                status = (folder / "r.txt").read_text().split("\n", 1)[0].strip() if p.returncode == 0 else "error"
                rows.append({"eps": eps, "timeout_s": t, "status": status, "wall_s": round(wall, 2),
                             "past_timeout_s": round(max(0.0, wall - t), 2)})
                print(f"large 1-D CNN eps {eps:g} timeout {t:g} s: {status:8s} {wall:6.1f} s", flush=True)
    result = {"benchmark": "vnncomp_conv1d --large", "command": "python benchmarks/vnncomp_conv1d.py " +
              " ".join(sys.argv[1:]), "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                                  "load_average": os.getloadavg()},
              "note": "wall time of a fresh `certnn vnncomp run` process, start-up (imports) included", "rows": rows}
    with atomic_write(out_path, "w") as f:
        json.dump(result, f, indent=1)
    return 0 if all(r["status"] != "error" for r in rows) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="category folder to write (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-instance timeout (seconds)")
    ap.add_argument("--samples", type=int, default=20000, help="sampled points per unsat box")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vnncomp_conv1d.json"))
    ap.add_argument("--large", action="store_true",
                    help="instead: the larger 1-D CNN's three properties at timeouts 8 and --timeout "
                         "(writes benchmarks/results/vnncomp_conv1d_large.json)")
    args = ap.parse_args()
    if args.large:
        return large((8.0, args.timeout), ROOT / "benchmarks" / "results" / "vnncomp_conv1d_large.json")
    from certnn.io import atomic_write
    with tempfile.TemporaryDirectory() as td:
        folder = Path(args.dir) if args.dir else Path(td) / "conv1d"
        t0 = time.monotonic()
        nets = build_category(folder, args.timeout)
        build_s = time.monotonic() - t0
        suite, suite_wall = suite_json(folder / "instances.csv")
        checks = cross_check_rows(folder, suite, cross_check, args.timeout, args.samples, np.random.default_rng(1))
        files = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
                 for f in sorted(folder.iterdir()) if f.is_file()}
    summary = {k: suite[k] for k in ("instances", "solved", "wrong", "sat", "unsat", "timeout", "unknown", "error",
                                     "total_seconds", "median_seconds", "wall_seconds")}
    cert_unsat = [c for c in checks if c.get("cert_status") == "unsat"]
    result = {
        "benchmark": "vnncomp_conv1d",
        "command": "python benchmarks/vnncomp_conv1d.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "note": "shared 2-core development machine, loaded by other jobs; suite with --jobs 1"},
        "timeout_s": args.timeout, "build_seconds": round(build_s, 2), "suite_wall_seconds": round(suite_wall, 2),
        "networks": nets, "suite": summary,
        "cross_check": {
            "wrong": sum(c["wrong"] for c in checks),
            "sat_replayed_in_onnxruntime": sum(bool(c.get("sat_ort_violates")) for c in checks),
            "sat": sum(c.get("cert_status") == "sat" for c in checks),
            "certified_unsat": sum(bool(c.get("certificate_accepted")) for c in cert_unsat),
            "cert_mode_unsat": len(cert_unsat),
            "unsat_boxes_sampled": sum("sampled_violations" in c for c in checks),
            "sampled_violations": sum(c.get("sampled_violations", 0) for c in checks),
            "samples_per_box": args.samples},
        "files_sha256": files,
        "rows": checks,
    }
    with atomic_write(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("suite", "cross_check")}, indent=1))
    return 0 if result["cross_check"]["wrong"] == 0 and summary["wrong"] == 0 and summary["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
