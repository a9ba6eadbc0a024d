"""Neural controllers: closed-loop reachability on the shared ARCH-COMP problems and
certified neural Lyapunov functions.

Per scenario of $CERTNN_BENCHMARKS/controllers/*: the verdict against the expected
one, the producer's time, the tightest margin; for verified scenarios the tube is
written, re-checked by the independent tube checker (accepted? time against the
producer's), and the final reach set is compared with the spread of 10,000
simulated trajectories (width ratio per state). Then the Lyapunov runs: train,
certify on [-1, 1]^2 minus the ball of radius 0.1, re-check.

    .venv/bin/python benchmarks/control.py [--sims 10000] [--lyapunov-steps 1500] [--skip-lyapunov]

Published figures of the peers named in issue #12 are printed beside ours (they
are not measured in this run: neither JuliaReach nor POLAR is installed here).
Writes benchmarks/results/control.json (problem paths relative to $CERTNN_BENCHMARKS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEERS = {   # published figures (issue #12): not measured in this run
    ("Mountain_Car", "verification"): "POLAR (sig16x16): verified in 4.13 s",
    ("ACC", "verification"): "JuliaReach (ARCH-COMP 2024): verified",
    ("InvertedPendulum", "verification"): "JuliaReach (ARCH-COMP 2024): verified",
    ("InvertedPendulum", "falsification"): "JuliaReach (ARCH-COMP 2024): falsified",
}


def spread_ratio(problem, scenario, tube, sims: int, seed: int = 0):
    from certnn.control.simulate import Loop, corners_and_samples, simulate
    rng = np.random.default_rng(seed)
    x0 = scenario.inner_points(corners_and_samples(scenario.lo, scenario.hi, sims, rng))[:max(sims, 1)]
    tr = simulate(Loop.of(problem, scenario), x0)
    spread = np.ptp(tr.states[:, -1], axis=0)
    lo, hi = tube.states[-1].range()
    width = hi.max(0) - lo.min(0)
    ratio = np.where(spread > 0, width / np.where(spread > 0, spread, 1.0), np.nan)
    return width, spread, ratio


def reach_rows(bench: Path, sims: int):
    from certnn.control.problem import load_problem
    from certnn.control.reach import decide
    from certnn.control.tube import save_tube
    from certnn.control.tube_checker import check_tube
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for folder in sorted(p.parent for p in (bench / "controllers").rglob("spec.json")):
        problem = load_problem(folder)
        for s in problem.scenarios:
            r = decide(problem, s.name)
            row = {"problem": problem.name, "scenario": s.name, "path": str(folder.relative_to(bench)),
                   "verdict": r.verdict, "expected": s.expected, "wrong": r.wrong, "seconds": round(r.seconds, 2),
                   "margin": r.margin, "evidence": r.evidence, "pieces": r.pieces,
                   "peer": PEERS.get((problem.name, s.name), "")}
            if r.counterexample:
                row["counterexample"] = r.counterexample
            if r.tube is not None:
                path = save_tube(r.tube, tmp / f"{problem.name}-{s.name}.json")
                chk = check_tube(path, problem)
                row.update(checker_accepted=chk.ok, checker_seconds=round(chk.seconds, 2),
                           checker_over_producer=round(chk.seconds / r.seconds, 3), checker_margin=chk.margin)
                if chk.ok:
                    row["evidence"] = "certified"
                width, spread, ratio = spread_ratio(problem, s, r.tube, sims)
                row.update(states=list(problem.states), final_width=width.tolist(), sim_spread=spread.tolist(),
                           width_ratio=[None if np.isnan(x) else round(float(x), 3) for x in ratio],
                           max_width_ratio=round(float(np.nanmax(ratio)), 3), simulations=sims)
            rows.append(row)
            print(_reach_line(row), flush=True)
    return rows


def _reach_line(r):
    m = "-" if r["margin"] is None else f"{r['margin']:.4g}"
    s = f"{r['problem'] + '/' + r['scenario']:<34} {r['verdict']:<10} {r['seconds']:7.2f} s  margin {m:>9}"
    if "checker_seconds" in r:
        s += f"  checker {'ok' if r['checker_accepted'] else 'REJECTED'} {r['checker_seconds']:.2f} s " \
             f"({r['checker_over_producer']:.2f}x)  width/spread max {r['max_width_ratio']:.2f}"
    return s + ("  WRONG" if r["wrong"] else "") + (f"   [{r['peer']}]" if r["peer"] else "")


def lyapunov_rows(steps: int):
    from certnn.control.lyapunov import SYSTEMS, certify, save_certificate, train
    from certnn.control.lyapunov_checker import check_lyapunov
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for name in ("vanderpol", "pendulum"):
        s = SYSTEMS[name]
        tr = train(s, steps=steps)
        res = certify(s, tr.V, tr.controller)
        path = save_certificate(res, tr.V, tr.controller, tmp / name / "lyapunov.json")
        chk = check_lyapunov(path)
        row = {"system": name, "train_steps": steps, "train_seconds": round(tr.seconds, 2),
               "final_loss": tr.history[-1][1], "region": [res.lo.tolist(), res.hi.tolist()], "radius": res.radius,
               "certified": res.certified, "certify_seconds": round(res.seconds, 2), **res.stats,
               "checker_accepted": chk.ok, "checker_seconds": round(chk.seconds, 2),
               "counterexamples": res.counterexamples[:5]}
        rows.append(row)
        print(f"{name:<10} trained {row['train_seconds']:6.1f} s (loss {row['final_loss']:.3g})  certified "
              f"{row['certified']} in {row['certify_seconds']:6.1f} s, {row['leaves']} leaves  checker "
              f"{'ok' if chk.ok else 'REJECTED'} {row['checker_seconds']:.1f} s", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=10_000)
    ap.add_argument("--lyapunov-steps", type=int, default=1500)
    ap.add_argument("--skip-lyapunov", action="store_true")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    bench = Path(os.environ.get("CERTNN_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))
    t0 = time.perf_counter()
    rows = reach_rows(bench, args.sims)
    lyap = [] if args.skip_lyapunov else lyapunov_rows(args.lyapunov_steps)
    summary = {"scenarios": len(rows), "wrong": sum(r["wrong"] for r in rows),
               "verified": sum(r["verdict"] == "verified" for r in rows),
               "falsified": sum(r["verdict"] == "falsified" for r in rows),
               "unknown": sum(r["verdict"] == "unknown" for r in rows),
               "max_seconds": max(r["seconds"] for r in rows),
               "all_tubes_accepted": all(r.get("checker_accepted", True) for r in rows),
               "total_seconds": round(time.perf_counter() - t0, 1),
               "machine": "2 cores shared with other work (timings noisy; ratios from the same run)"}
    print(json.dumps(summary))
    out = ROOT / "benchmarks" / "results" / "control.json"
    out.write_text(json.dumps({"summary": summary, "reach": rows, "lyapunov": lyap}, indent=1))


if __name__ == "__main__":
    main()
