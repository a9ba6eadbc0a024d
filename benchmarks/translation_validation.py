"""Cost of translation validation on every compile: for each model, the time to
trace it (the named peer: what every compile pays anyway), to run the passes,
and to validate them (certnn.ir.validate), median of several runs.

    .venv/bin/python benchmarks/translation_validation.py [--repeat 7]

Prints a table and writes benchmarks/results/translation_validation.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(module, x, repeat: int) -> dict:
    from certnn.ir import trace
    from certnn.ir.passes import DEFAULT_PASSES
    from certnn.ir.validate import check_step
    times = {"trace": [], "passes": [], "validate": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        g, _ = trace(module, x)
        times["trace"].append(time.perf_counter() - t0)
        run, check = 0.0, 0.0
        for p in DEFAULT_PASSES:
            t0 = time.perf_counter()
            new = p(g)
            t1 = time.perf_counter()
            check_step(g, new, p.__name__)
            check += time.perf_counter() - t1
            run += t1 - t0
            g = new
        times["passes"].append(run)
        times["validate"].append(check)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return {"nodes": len(g.nodes), **{f"{k}_ms": round(v, 3) for k, v in med.items()},
            "validate_over_trace": round(med["validate"] / med["trace"], 4)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    from tests.zoo_models import build_all
    rows = []
    for name, module, x in build_all():
        rows.append({"model": name, **measure(module, x, args.repeat)})
    print(f"{'model':<16} {'nodes':>5} {'trace ms':>9} {'passes ms':>10} {'validate ms':>12} {'validate/trace':>15}")
    for r in rows:
        print(f"{r['model']:<16} {r['nodes']:>5} {r['trace_ms']:>9.2f} {r['passes_ms']:>10.2f} "
              f"{r['validate_ms']:>12.3f} {r['validate_over_trace']:>15.4f}")
    worst = max(r["validate_over_trace"] for r in rows)
    print(f"validation costs at most {worst:.2%} of tracing (machine shared, timings noisy)")
    out = ROOT / "benchmarks" / "results" / "translation_validation.json"
    out.write_text(json.dumps({"peer": "tracing the same model (certnn.ir.trace)", "repeat": args.repeat,
                               "rows": rows, "worst_validate_over_trace": worst}, indent=1) + "\n")


if __name__ == "__main__":
    main()
