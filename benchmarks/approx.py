"""Certified universal approximation: network size and certified sup error.

Cases: sin on [0, 2 pi] at delta 0.01 with the peer measured in the same run,
TorchLean's explicit one-hidden-layer width ceil(2 L (b - a)/eps) + 1 = 1258,
against curvature-placed interpolation; sin(x) cos(y) on [0, pi]^2 at
delta 0.05 (Kuhn-grid interpolation); Baader et al.'s interval-approximating
construction for sin(x) cos(y) at a coarser delta, with its interval property
tested on random boxes. Each network's certificate is re-derived by the
independent checker.

    .venv/bin/python benchmarks/approx.py [--out runs/approx] [--budget 600]

Prints a table and writes benchmarks/results/approx.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = [
    ("sin(x)", "[0, 2*pi]", 0.01, "explicit-width"),
    ("sin(x)", "[0, 2*pi]", 0.01, "interpolation"),
    ("sin(x)*cos(y)", "[0, pi]x[0, pi]", 0.05, "interpolation"),
    ("sin(x)*cos(y)", "[0, pi]x[0, pi]", 0.5, "baader"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "runs" / "approx"))
    ap.add_argument("--budget", type=float, default=600.0)
    ap.add_argument("--only", nargs="*", default=None, help="Run only these constructions (other rows are kept).")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    from certnn.approx.certify import approximate
    from certnn.approx.target import Target
    out = Path(args.out)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for expr, box, delta, con in CASES:
            if args.only and con not in args.only:
                continue
            name = f"{con}-{expr.replace('*', '_').replace('(', '').replace(')', '')}-{delta:g}"
            r = approximate(Target.parse(expr, box), delta, con, args.budget, out / name,
                            onnx=out / f"{name}.onnx")
            r["check"] = {k: r["check"][k] for k in ("ok", "seconds")} if "check" in r else None
            for k in ("checkpoint", "certificate", "onnx"):
                if k in r:
                    r[k] = str(Path(r[k]).relative_to(out))
            rows.append(r)
            print(json.dumps(r)[:300])
    path = ROOT / "benchmarks" / "results" / "approx.json"
    key = lambda r: (r["expression"], r["delta"], r["construction"])  # noqa: E731
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = [r for r in old if key(r) not in {key(x) for x in rows}] + rows
    order = [(str(Target.parse(e, b).expr), d, k) for e, b, d, k in CASES]
    rows.sort(key=lambda r: order.index(key(r)) if key(r) in order else len(order))
    ref = next(r["neurons"] for r in rows if r["construction"] == "explicit-width")
    print(f"\n{'target':16} {'delta':>6} {'construction':15} {'neurons':>8} {'vs 1258':>8} {'certified':>10} "
          f"{'measured':>10} {'boxes':>7} {'seconds':>8} evidence")
    for r in rows:
        print(f"{r['expression']:16} {r['delta']:6g} {r['construction']:15} {r['neurons']:8d} "
              f"{r['neurons'] / ref:8.3f} {r['certified_error']:10.3g} {r['measured_error']:10.3g} {r['boxes']:7d} "
              f"{r['seconds']:8.0f} {r['evidence']}")
        if "ibp_check" in r:
            c = r["ibp_check"]
            print(f"{'':16} interval property (IBP within delta of f's range) on {c['boxes']} random boxes: "
                  f"{c['passed']} pass, worst margin {c['worst_margin']:.3g}")
    path.write_text(json.dumps({"machine": "2 shared CPU cores, loaded (several other jobs)", "rows": rows,
                                "peer": "TorchLean explicit width ceil(2L(b-a)/eps)+1, built and certified in "
                                        "the same run"}, indent=1))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
