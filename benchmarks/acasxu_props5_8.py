"""ACAS Xu properties 5-8 (Katz et al., Reluplex, CAV 2017) on the shared
networks they are stated for, run through `certnn vnncomp suite` and cross-checked.

    .venv/bin/python benchmarks/acasxu_props5_8.py [--dir DIR] [--timeout 116] [--samples 20000]

VNN-COMP's ACAS Xu category adds properties 5-10 to properties 1-4; the shared
set (``$CERTNN_BENCHMARKS/vnncomp2022/acasxu``) has properties 1-4 and the
networks 1_x and 2_x only, so the held-out properties 9 and 10 (networks 3_3 and
4_5) cannot be built here. This script writes properties 5 (network 1_1), 6
(1_1; its two input boxes, theta > 0 and theta < 0, as ``prop_6a``/``prop_6b``), 7
(1_9) and 8 (2_9) from the paper's definitions in physical units, normalized as
the networks expect (means 19791.091, 0, 0, 650, 600; ranges 60261, 2 pi, 2 pi,
1100, 1200). The normalization is checked first: properties 1-4 built the same
way must equal the shared files' bounds (to 5e-9, their printed precision).

Then ``certnn vnncomp suite`` (a subprocess, as a user runs it, ``--timeout``
seconds each: VNN-COMP's 116 s), and per instance ``certnn vnncomp run --cert``:
every ``sat`` counterexample is replayed in onnxruntime (inside the box, the
property violated); every ``unsat`` certificate is re-checked by ``certnn check``,
and ``--samples`` points of the box through onnxruntime must show no violation.
No expected answers are given (the shared set has none for these); the answers
are only as good as these checks. Writes ``benchmarks/results/acasxu_props5_8.json``
(paths relative to the category folder).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vnncomp_conv1d import _cli, _session, cross_check_rows, suite_json  # noqa: E402  (benchmarks/ is the script's folder)

PI = math.pi                               # as VNN-COMP's generator takes it (the paper: 3.141592)
MEANS = (19791.091, 0.0, 0.0, 650.0, 600.0)
RANGES = (60261.0, 6.28318530718, 6.28318530718, 1100.0, 1200.0)
NAMES = ("rho", "theta", "psi", "v_own", "v_int")
OUTPUTS = ("COC", "weak left", "weak right", "strong left", "strong right")


def _minimal(k: int) -> str:
    return "(and " + " ".join(f"(<= Y_{k} Y_{j})" for j in range(5) if j != k) + ")"


def _not_minimal(k: int) -> str:
    return " ".join(f"(and (<= Y_{j} Y_{k}))" for j in range(5) if j != k)


# name: (network, box in physical units, unsafe set, what must hold)
PROPERTIES = {
    "prop_1": (None, [(55947.691, 60760), (-PI, PI), (-PI, PI), (1145, 1200), (0, 60)], None, None),
    "prop_3": (None, [(1500, 1800), (-0.06, 0.06), (3.10, PI), (980, 1200), (960, 1200)], None, None),
    "prop_5": ("1_1", [(250, 400), (0.2, 0.4), (-PI, -PI + 0.005), (100, 400), (0, 400)],
               f"(or {_not_minimal(4)})", "strong right has the minimal score"),
    "prop_6a": ("1_1", [(12000, 62000), (0.7, PI), (-PI, -PI + 0.005), (100, 1200), (0, 1200)],
                f"(or {_not_minimal(0)})", "COC has the minimal score (theta > 0 box)"),
    "prop_6b": ("1_1", [(12000, 62000), (-PI, -0.7), (-PI, -PI + 0.005), (100, 1200), (0, 1200)],
                f"(or {_not_minimal(0)})", "COC has the minimal score (theta < 0 box)"),
    "prop_7": ("1_9", [(0, 60760), (-PI, PI), (-PI, PI), (100, 1200), (0, 1200)],
               f"(or {_minimal(3)} {_minimal(4)})", "strong left and strong right are never minimal"),
    "prop_8": ("2_9", [(0, 60760), (-PI, -0.75 * PI), (-0.1, 0.1), (600, 1200), (600, 1200)],
               "(or " + " ".join(f"(and (<= Y_{j} Y_0) (<= Y_{j} Y_1))" for j in (2, 3, 4)) + ")",
               "COC or weak left has the minimal score"),
}


def normalized(box):
    return [((lo - m) / r, (hi - m) / r) for (lo, hi), m, r in zip(box, MEANS, RANGES)]


def vnnlib_text(name: str) -> str:
    _, box, unsafe, holds = PROPERTIES[name]
    lines = [f"; ACAS Xu {name.replace('_', ' ')} (Katz et al. 2017), normalized inputs",
             f"; safe when {holds}", ""]
    lines += [f"(declare-const X_{i} Real)" for i in range(5)] + [""]
    lines += [f"(declare-const Y_{j} Real)" for j in range(5)] + [""]
    for i, ((lo, hi), (plo, phi)) in enumerate(zip(normalized(box), box)):
        lines += [f"; {NAMES[i]} in [{plo:g}, {phi:g}]", f"(assert (>= X_{i} {lo!r}))", f"(assert (<= X_{i} {hi!r}))"]
    lines += ["", f"; unsafe: outputs {', '.join(f'Y_{j} {o}' for j, o in enumerate(OUTPUTS))}", f"(assert {unsafe})", ""]
    return "\n".join(lines)


def check_normalization(shared: Path) -> float:
    """The largest difference between properties 1 and 3 built here and the shared files."""
    worst = 0.0
    for name in ("prop_1", "prop_3"):
        text = (shared / "vnnlib" / f"{name}.vnnlib").read_text()
        for i, (lo, hi) in enumerate(normalized(PROPERTIES[name][1])):
            got_hi = float(re.search(rf"\(<= X_{i} (\S+?)\)", text).group(1))
            got_lo = float(re.search(rf"\(>= X_{i} (\S+?)\)", text).group(1))
            worst = max(worst, abs(got_lo - lo), abs(got_hi - hi))
    return worst


def build_category(folder: Path, shared: Path, timeout: float) -> list:
    (folder / "onnx").mkdir(parents=True, exist_ok=True)
    (folder / "vnnlib").mkdir(exist_ok=True)
    rows = []
    for name, (net, *_rest) in PROPERTIES.items():
        if net is None:
            continue
        onnx = f"onnx/ACASXU_run2a_{net}_batch_2000.onnx"
        if not (folder / onnx).exists():
            shutil.copyfile(shared / onnx, folder / onnx)
        (folder / "vnnlib" / f"{name}.vnnlib").write_text(vnnlib_text(name))
        rows.append(f"{onnx},vnnlib/{name}.vnnlib,{timeout:g},")
    (folder / "instances.csv").write_text("onnx,vnnlib,timeout_s,expected\n" + "\n".join(rows) + "\n")
    return rows


def _outputs(sess, xs):
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x.reshape(1, 1, 1, 5).astype(np.float32)})[0].reshape(1, -1)
                           for x in xs]).astype(np.float64)


def cross_check(folder: Path, row: dict, timeout: float, samples: int, rng) -> dict:
    from certnn.interop.vnnlib import load_vnnlib
    onnx, vnnlib = folder / row["onnx"], folder / row["vnnlib"]
    prop = load_vnnlib(vnnlib)
    (box, _), = prop.cases
    lo, hi = box.lo.reshape(-1), box.hi.reshape(-1)
    sess = _session(onnx)
    out = {}
    with tempfile.TemporaryDirectory() as td:
        res, cert = Path(td) / "r.txt", Path(td) / "c.json"
        t0 = time.monotonic()
        p = _cli("vnncomp", "run", str(onnx), str(vnnlib), "--timeout", str(timeout), "--out", str(res),
                 "--cert", str(cert))
        out["cert_run_seconds"] = round(time.monotonic() - t0, 3)
        if p.returncode != 0:
            out["cert_run_error"] = p.stderr.strip()[-300:]
            out["wrong"] = False
            return out
        text = res.read_text()
        status = text.split("\n", 1)[0].strip()
        out["cert_status"] = status
        if status == "sat":
            vals = dict((k, float(v)) for k, v in re.findall(r"\((X_\d+|Y_\d+) (\S+?)\)", text))
            x = np.array([vals[f"X_{i}"] for i in range(5)])
            y = _outputs(sess, x[None])[0]
            out["sat_in_box"] = bool(np.all(x >= lo) and np.all(x <= hi))
            out["sat_ort_violates"] = bool(prop.is_counterexample(x, y))
        if status == "unsat":
            out["certificate_accepted"] = _cli("check", str(cert), "--property", str(vnnlib)).returncode == 0
    if "unsat" in (status, row["status"]):
        xs = rng.uniform(lo, hi, (samples, 5))
        xs[:32] = np.where(rng.integers(0, 2, (32, 5)) > 0, hi, lo)          # corners
        ys = _outputs(sess, xs)
        out["sampled_violations"] = int(sum(prop.is_counterexample(a, b) for a, b in zip(xs, ys)))
    decided = {s for s in (status, row["status"]) if s in ("sat", "unsat")}
    out["wrong"] = bool(len(decided) > 1 or out.get("sampled_violations", 0) > 0
                        or (status == "sat" and not (out["sat_in_box"] and out["sat_ort_violates"]))
                        or (status == "unsat" and not out["certificate_accepted"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="category folder to write (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=116.0, help="per-instance timeout (seconds)")
    ap.add_argument("--samples", type=int, default=20000, help="sampled points per unsat box")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "acasxu_props5_8.json"))
    args = ap.parse_args()
    from certnn.io import atomic_write, benchmarks_root
    shared = benchmarks_root() / "vnncomp2022" / "acasxu"
    diff = check_normalization(shared)
    print(f"normalization: properties 1 and 3 within {diff:.1e} of the shared files")
    if diff > 5e-9:
        raise SystemExit("the normalization does not reproduce the shared properties 1 and 3")
    with tempfile.TemporaryDirectory() as td:
        folder = Path(args.dir) if args.dir else Path(td) / "acasxu_props5_8"
        build_category(folder, shared, args.timeout)
        suite, suite_wall = suite_json(folder / "instances.csv", "--jobs", str(args.jobs))
        rows = cross_check_rows(folder, suite, cross_check, args.timeout, args.samples, np.random.default_rng(0))
    summary = {k: suite[k] for k in ("instances", "solved", "sat", "unsat", "timeout", "unknown", "error",
                                     "total_seconds", "median_seconds", "wall_seconds")}
    result = {
        "benchmark": "acasxu_props5_8",
        "command": "python benchmarks/acasxu_props5_8.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "normalization_max_diff": diff, "timeout_s": args.timeout, "suite_wall_seconds": round(suite_wall, 2),
        "suite": summary,
        "cross_check": {"wrong": sum(r["wrong"] for r in rows),
                        "sat_replayed_in_onnxruntime": sum(bool(r.get("sat_ort_violates")) for r in rows),
                        "certified_unsat": sum(bool(r.get("certificate_accepted")) for r in rows),
                        "sampled_violations": sum(r.get("sampled_violations", 0) for r in rows),
                        "samples_per_box": args.samples},
        "rows": rows,
    }
    with atomic_write(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("suite", "cross_check")}, indent=1))
    return 0 if result["cross_check"]["wrong"] == 0 and summary["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
