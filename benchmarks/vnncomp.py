"""VNN-COMP 2022 categories (test, acasxu, mnist_fc, sri_resnet_a) through `certnn vnncomp`'s
suite runner: per category instances, solved, wrong (sat vs expected unsat or
the reverse), timeout, unknown, total and median seconds.

    .venv/bin/python benchmarks/vnncomp.py [--categories test,acasxu,mnist_fc]
        [--timeout-cap S] [--jobs N] [--limit K] [--only I,J,...] [--certify]

Instances come from $CERTNN_BENCHMARKS/vnncomp2022/<category>/instances.csv
(``--only``: a subset by row index, for development runs; the result records
which rows ran). Paths in the results are relative to the category folder.
Prints a table and writes benchmarks/results/vnncomp.json (atomically; the
categories run are merged into an existing file). ``--certify`` runs the
certifiable mode (plain CROWN input splitting, or ReLU splitting with re-derivable
bounds and no LP leaves; each unsat's certificate written
and re-checked by the independent checker) and counts the certified answers.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CATEGORIES = ("test", "acasxu", "mnist_fc", "sri_resnet_a")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--timeout-cap", type=float, default=None, help="cap each instance's timeout (seconds)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--only", default=None, help="comma-separated row indices of instances.csv to run")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vnncomp.json"))
    ap.add_argument("--certify", action="store_true",
                    help="certifiable mode: write and re-check a certificate for every input- or ReLU-split unsat "
                         "(results go under 'certified_categories')")
    ap.add_argument("--bab", action="append", default=[], metavar="KEY=VALUE",
                    help="a graph search setting (GraphBabOptions), repeatable; recorded as graph_options")
    args = ap.parse_args()
    from certnn.io import atomic_write, benchmarks_root, portable
    from certnn.verify.bab_graph import GraphBabOptions
    try:
        bab = GraphBabOptions.from_pairs(args.bab) if args.bab else None
    except ValueError as e:
        ap.error(f"--bab: {e}")
    from certnn.verify.vnncomp import run_suite
    base = benchmarks_root() / "vnncomp2022"
    cats = [c.strip() for c in args.categories.split(",") if c.strip()]
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    key = "certified_categories" if args.certify else "categories"
    results.setdefault(key, {})
    for cat in cats:
        csv = base / cat / "instances.csv"
        t0 = time.monotonic()

        def progress(row, cat=cat):
            cert = ""
            if "certified" in row:
                c = row.get("certificate") or {}
                cert = (f"  certified ({c.get('leaves')} leaves, checked in {c.get('check_seconds')} s)"
                        if row["certified"] else f"  not certified: {c.get('reason')}")
            print(f"  {cat:<9} {row['name']:<45} {row['status']:<8} {row.get('seconds', 0):7.2f} s "
                  f"(expected {row.get('expected') or '-'}){cert}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            only = None if args.only is None else [int(i) for i in args.only.split(",") if i.strip()]
            res = run_suite(csv, jobs=args.jobs, limit=args.limit, timeout_cap=args.timeout_cap, progress=progress,
                            cert_dir=tmp if args.certify else None, only=only, graph_options=bab)
        for row in res["rows"]:
            if isinstance(row.get("certificate"), dict) and row["certificate"].get("written"):
                row["certificate"]["written"] = Path(row["certificate"]["written"]).name
        res["csv"] = f"vnncomp2022/{cat}/instances.csv"
        res["only"] = only
        res["timeout_cap"] = args.timeout_cap
        res["wall_seconds"] = round(time.monotonic() - t0, 3)
        results[key][cat] = portable(res)       # paths relative to $CERTNN_BENCHMARKS
        results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "jobs": args.jobs}
        with atomic_write(out, "w") as f:
            json.dump(results, f, indent=1)
    print()
    print(f"{'category':<10} {'inst':>5} {'solved':>7} {'wrong':>6} {'timeout':>8} {'unknown':>8} {'error':>6} "
          f"{'total s':>9} {'median s':>9}")
    for cat, r in results[key].items():
        print(f"{cat:<10} {r['instances']:>5} {r['solved']:>7} {r['wrong']:>6} {r['timeout']:>8} {r['unknown']:>8} "
              f"{r['error']:>6} {r['total_seconds']:>9.1f} {r['median_seconds']:>9.2f}"
              + (f"   certified {r['certified']} of {r['unsat']} unsat" if "certified" in r else ""))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
