"""Certified PINN residual and error bounds on the built-in problems.

For each problem: the trained checkpoint (``--models DIR``/<problem>; trained
first with the problem's default settings when missing and ``--train`` is
given), certified with adaptive branching within the time budget (Burgers:
``--budget-burgers`` seconds, the issue's 30 minutes by default; the others
``--budget``). Reported per problem: the certified sup |residual| beside the
maximum on a 1000 x 1000 grid and their ratio, boxes, seconds; the IC/BC
bounds; for heat and Poisson the maximum-principle error bound beside the
measured error; for Burgers the relative L2 error to the Cole-Hopf
reference. The peer measured in the same run is interval propagation of the
same derivative graph on the same final boxes (the IBP baseline of dCROWN);
dCROWN's own published Burgers figures (Eiras et al., ICML 2024: grid max
about 0.13, dCROWN 13.0, LiRPA 178, IBP 2780 within 1e4 s) are quoted, not
re-run (it is not installed here).

    .venv/bin/python benchmarks/pinn.py --models runs/pinn [--train] [--problems burgers heat]

Prints a table and writes benchmarks/results/pinn.json (paths relative to the
models folder; rows of problems not run this time are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DCROWN = {"grid_max": 0.13, "dcrown": 13.0, "lirpa": 178.0, "ibp": 2780.0, "seconds": 1e4,
          "source": "Eiras et al., Efficient error certification for physics-informed neural networks, ICML 2024"}


def run(problem_name: str, models: Path, budget: float, train: bool, grid: int) -> dict:
    from certnn.interop.models import load_model
    from certnn.pinn.certify import certify, plot
    from certnn.pinn.problems import get_problem
    from certnn.pinn.residual import Residual
    from certnn.pinn.train import train as train_pinn
    p = get_problem(problem_name)
    ck = models / p.name
    info = {}
    if not (ck / "checkpoint.json").exists():
        if not train:
            raise SystemExit(f"{ck}: no checkpoint (pass --train to train one)")
        info = train_pinn(p, ck, progress=False, log=print)
    meta = json.loads((ck / "checkpoint.json").read_text())
    graph = load_model(ck)
    t0 = time.perf_counter()
    res = certify(graph, p, budget=budget, grid=grid, cert_path=models / f"{p.name}.cert.json", model_path=ck,
                  progress=False, log=print)
    s = dict(res.summary)
    plot(res, p, models / f"{p.name}.png")
    lo, hi = res.tree.lo[res.tree.leaves], res.tree.hi[res.tree.leaves]
    peer = Residual(graph, p)       # in chunks: all of Burgers' ~1e6 leaves at once need > 20 GB
    s["peer_ibp_same_boxes"] = max(float(np.max(peer.interval_bounds(lo[a:a + 8192], hi[a:a + 8192])))
                                   for a in range(0, len(lo), 8192))
    s["wall_seconds"] = time.perf_counter() - t0
    s["train"] = {k: meta["info"].get(k) for k in ("loss", "steps", "train_seconds", "settings")}
    s["train"].update({k: info[k] for k in ("train_seconds",) if k in info})
    s["check"] = {k: s["check"][k] for k in ("ok", "evidence", "seconds", "reasons")}
    for k in ("certificate",):
        s[k] = str(Path(s[k]).relative_to(models))
    s["model"] = p.name
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=str(ROOT / "runs" / "pinn"))
    ap.add_argument("--problems", nargs="*", default=["burgers", "heat", "poisson", "allen-cahn"])
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--budget-burgers", type=float, default=1800.0)
    ap.add_argument("--grid", type=int, default=1000)
    ap.add_argument("--train", action="store_true")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    models = Path(args.models)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name in args.problems:
            budget = args.budget_burgers if name == "burgers" else args.budget
            rows.append(run(name, models, budget, args.train, args.grid))
            print(json.dumps(rows[-1])[:400])
    print(f"\n{'problem':11} {'certified':>10} {'grid max':>10} {'ratio':>6} {'boxes':>8} {'seconds':>8} "
          f"{'IBP same boxes':>14} {'IC/BC ratio':>11} {'error cert/meas':>18} {'rel L2':>8}")
    for s in rows:
        cond = max(c["bound"] / c["grid_max"] for c in s["conditions"].values())
        err = f"{s['error']['bound']:.2e}/{s['error']['measured']:.2e}" if "error" in s else "-"
        l2 = f"{s['relative_l2']:.2e}" if "relative_l2" in s else "-"
        print(f"{s['problem']:11} {s['residual_bound']:10.4g} {s['grid_max']:10.4g} {s['ratio']:6.2f} "
              f"{s['boxes']:8d} {s['residual_seconds']:8.0f} {s['peer_ibp_same_boxes'] / s['residual_bound']:13.0f}x "
              f"{cond:11.2f} {err:>18} {l2:>8}")
    print(f"\ndCROWN on its own Burgers net (published, not re-run): grid max {DCROWN['grid_max']}, "
          f"dCROWN {DCROWN['dcrown']} ({DCROWN['dcrown'] / DCROWN['grid_max']:.0f}x), LiRPA {DCROWN['lirpa']}, "
          f"IBP {DCROWN['ibp']} in {DCROWN['seconds']:.0e} s")
    out = ROOT / "benchmarks" / "results" / "pinn.json"
    old = json.loads(out.read_text())["rows"] if out.exists() else []     # keep rows of problems not re-run
    run_now = {r["problem"] for r in rows}
    rows = [r for r in old if r["problem"] not in run_now] + rows
    out.write_text(json.dumps({"machine": "2 shared CPU cores, loaded (several other jobs)", "rows": rows,
                               "dcrown_published": DCROWN}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
