"""A local stand-in for VNN-COMP 2022's deeper mnist_fc networks (256x4 and 256x6).

    .venv/bin/python benchmarks/mnist_fc_deep.py [--dir DIR] [--timeout 60] [--jobs 1] [--nets 256x4,256x6]

The shared benchmarks hold only ``mnist-net_256x2.onnx`` of the mnist_fc
category; the 256x4 and 256x6 networks are in the held-out evaluation set. This
script builds networks of the same shape and format (784-256x4-10 and
784-256x6-10, ReLU, inputs in [0, 1] of shape (1, 784, 1), ONNX
Flatten-Gemm-Relu as the originals), trained normally on MNIST with torch (a
benchmark-only dependency; 3 Adam epochs, seed 0), and pairs each with the
category's own 30 VNNLIB properties (15 images at L-inf radius 0.03 and 0.05).
The answers are unknown (``expected`` empty); every ``sat`` answer is replayed
by the suite itself (real and binary32 semantics) before it is reported.

Then ``certnn vnncomp suite instances.csv --timeout-cap T --json`` (the command a
user runs) gives solved / sat / unsat / timeout counts and times. In VNN-COMP
2022, within 60 s on the real 256x4/256x6 networks (59 decided instances):
alpha,beta-CROWN 41, VeriNet 39, nnenum 27, MN-BaB 26 -- a different pair of
networks, so compare only the shape of the result, not the count.

Writes benchmarks/results/mnist_fc_deep.json (paths relative to the category
folder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "mnist_fc_deep.json"
INPUT_BOUND = re.compile(r"\(assert \((<=|>=) X_(\d+) ([-+.\deE]+)\)\)")   # one input's bound in a VNNLIB file


def bench_root() -> Path:
    return Path(os.environ.get("CERTNN_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))


def train_net(torch, depth: int, x, y, epochs: int = 3):
    nn = torch.nn
    layers, width = [nn.Flatten()], 784
    for _ in range(depth):
        layers += [nn.Linear(width, 256), nn.ReLU()]
        width = 256
    layers.append(nn.Linear(width, 10))
    net = nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def build_category(folder: Path, nets: list[str]) -> dict:
    import torch
    from certnn.data.mnist import load_mnist
    torch.manual_seed(0)
    torch.set_num_threads(1)
    xtr, ytr = load_mnist(split="train")
    xte, yte = load_mnist(split="test")
    xtr = (xtr.reshape(-1, 784, 1) / 255.0).astype(np.float32)
    xte = (xte.reshape(-1, 784, 1) / 255.0).astype(np.float32)
    src = bench_root() / "vnncomp2022" / "mnist_fc"
    props = sorted((src / "vnnlib").glob("prop_*.vnnlib"),
                   key=lambda p: (float(p.stem.split("_")[2]), int(p.stem.split("_")[1])))
    if not props:
        raise SystemExit(f"{src / 'vnnlib'}: no prop_*.vnnlib files (set CERTNN_BENCHMARKS)")
    (folder / "vnnlib").mkdir(parents=True, exist_ok=True)
    (folder / "onnx").mkdir(exist_ok=True)
    for p in props:
        (folder / "vnnlib" / p.name).write_bytes(p.read_bytes())
    info = {}
    for name in nets:
        depth = int(name.split("x")[1])
        t0 = time.monotonic()
        net = train_net(torch, depth, xtr, ytr.astype(np.int64))
        with torch.no_grad():
            acc = float((net(torch.tensor(xte)).argmax(1).numpy() == yte).mean())
        onnx_name = f"onnx/mnist-net_{name}.onnx"
        torch.onnx.export(net, torch.tensor(xte[:1]), str(folder / onnx_name), input_names=["0"],
                          opset_version=13, dynamo=False)
        info[name] = {"test_accuracy": acc, "train_seconds": round(time.monotonic() - t0, 1)}
    return info


def at_radius(text: str, eps_from: float, eps_to: float) -> str:
    """The same property at another L-inf radius: each pixel's image value is read
    back from its clipped bounds (``lo = max(0, x - eps)``, ``hi = min(1, x + eps)``)."""
    bounds: dict = {}
    for m in INPUT_BOUND.finditer(text):
        bounds.setdefault(int(m.group(2)), {})[m.group(1)] = float(m.group(3))

    def line(m):
        i, op = int(m.group(2)), m.group(1)
        lo, hi = bounds[i][">="], bounds[i]["<="]
        x = lo + eps_from if lo > 0 else hi - eps_from
        v = min(1.0, x + eps_to) if op == "<=" else max(0.0, x - eps_to)
        return f"(assert ({op} X_{i} {v!r}))"
    return INPUT_BOUND.sub(line, text)


def add_radius(folder: Path, radius: float) -> None:
    """prop_K_<radius>.vnnlib from the category's prop_K_0.03.vnnlib (other radii
    make instances of middling difficulty on the stand-in networks)."""
    for src in sorted((folder / "vnnlib").glob("prop_*_0.03.vnnlib")):
        dst = src.with_name(f"prop_{src.stem.split('_')[1]}_{radius:g}.vnnlib")
        if not dst.exists():
            dst.write_text(at_radius(src.read_text(), 0.03, radius))


def write_instances(folder: Path, nets: list[str], timeout: float, radii=(0.03, 0.05)) -> None:
    """instances.csv: every network with every property at the given radii, at ``timeout`` seconds."""
    props = sorted((p for p in (folder / "vnnlib").glob("prop_*.vnnlib")
                    if any(abs(float(p.stem.split("_")[2]) - r) < 1e-12 for r in radii)),
                   key=lambda p: (float(p.stem.split("_")[2]), int(p.stem.split("_")[1])))
    rows = ["onnx,vnnlib,timeout_s,expected"]
    rows += [f"onnx/mnist-net_{name}.onnx,vnnlib/{p.name},{timeout:g}," for name in nets for p in props]
    (folder / "instances.csv").write_text("\n".join(rows) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "certnn_mnist_fc_deep")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--nets", default="256x4,256x6")
    ap.add_argument("--limit", type=int, default=None, help="only the first K instances")
    ap.add_argument("--rebuild", action="store_true", help="retrain the networks even if the folder has them")
    ap.add_argument("--radii", default="0.03,0.05",
                    help="L-inf radii of the properties (the category's are 0.03 and 0.05; others are "
                         "derived from the 0.03 files)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default: %(default)s)")
    args = ap.parse_args()
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    folder = args.dir
    info_path = folder / "networks.json"
    known = json.loads(info_path.read_text())["info"] if info_path.exists() and not args.rebuild else {}
    if any(n not in known for n in nets):
        t0 = time.monotonic()
        known.update(build_category(folder, [n for n in nets if n not in known]))
        info_path.write_text(json.dumps({"info": known}))
        print(f"built {folder} in {time.monotonic() - t0:.0f} s: {known}")
    info = {n: known[n] for n in nets}
    radii = [float(r) for r in args.radii.split(",") if r.strip()]
    for r in radii:
        if r not in (0.03, 0.05):
            add_radius(folder, r)
    write_instances(folder, nets, args.timeout, radii)
    cmd = [sys.executable, "-m", "certnn", "vnncomp", "suite", str(folder / "instances.csv"), "--json",
           "--no-progress", "--jobs", str(args.jobs), "--timeout-cap", str(args.timeout)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.monotonic() - t0
    if p.returncode not in (0, 1) or not p.stdout.strip():
        raise SystemExit(f"suite failed (exit {p.returncode}): {p.stderr.strip()[-800:]}")
    suite = json.loads(p.stdout.strip().splitlines()[-1])
    per_net = {}
    for row in suite["rows"]:
        net = next(n for n in nets if n in row["name"])
        d = per_net.setdefault(net, {"sat": 0, "unsat": 0, "timeout": 0, "unknown": 0, "error": 0, "times": []})
        d[row["status"]] = d.get(row["status"], 0) + 1
        if row["status"] in ("sat", "unsat"):
            d["times"].append(row["seconds"])
        print(f"{row['name']:60s} {row['status']:8s} {row['seconds']:7.2f}s br {row.get('branches') or 0}")
    print(f"\n{'net':8s} {'acc':>6s} {'sat':>4s} {'unsat':>5s} {'timeout':>7s} {'unknown':>7s} {'median s':>8s}")
    for net, d in per_net.items():
        med = float(np.median(d["times"])) if d["times"] else float("nan")
        d["median_solved_seconds"] = round(med, 3)
        d["solved"] = d["sat"] + d["unsat"]
        d.pop("times")
        print(f"{net:8s} {info[net]['test_accuracy']:6.4f} {d['sat']:4d} {d['unsat']:5d} {d['timeout']:7d} "
              f"{d['unknown']:7d} {med:8.2f}")
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "shared 2-core development machine, loaded by other jobs"},
        "timeout_s": args.timeout, "radii": radii, "jobs": args.jobs, "suite_wall_seconds": round(wall, 1),
        "networks": info, "per_net": per_net,
        "suite": {k: suite.get(k) for k in ("instances", "solved", "wrong", "sat", "unsat", "timeout",
                                             "unknown", "error")},
        "rows": [{"name": r["name"], "status": r["status"], "seconds": r["seconds"],
                  "branches": r.get("branches")} for r in suite["rows"]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
