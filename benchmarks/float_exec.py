"""Exact binary32 execution benchmark: ``certnn.run(graph, x, "binary32")`` on a
784-512-512-10 ReLU MLP at batch 256 against the NumPy float32 (BLAS) forward
pass with the same weights, measured in the same run (one BLAS thread and the
default), plus the numba fast path against the NumPy-loop fallback, and the
scalar reference kernel's ops/second (certnn.floats.kernel: add, sub, mul, div, sqrt, fma
on binary32 bit patterns, nearest-even and toward zero).

    .venv/bin/python benchmarks/float_exec.py [--quick]

Prints a table and writes benchmarks/results/float_exec.json. Target: the
binary32 run within 5x of the NumPy float32 forward pass.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"

from certnn import nn  # noqa: E402
from certnn.ir.compile import compile as compile_module  # noqa: E402
from certnn.floats import b32, b32_numba  # noqa: E402
from certnn.random import manual_seed  # noqa: E402
from certnn import run  # noqa: E402

TARGET_RATIO = 5.0


def timeit(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median_ms": statistics.median(ts) * 1e3, "min_ms": min(ts) * 1e3, "reps": reps}


def build(batch=256):
    manual_seed(0)
    m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                      nn.Linear(512, 10)).eval()
    x = np.random.default_rng(0).standard_normal((batch, 784)).astype(np.float32)
    g = compile_module(m, x).graph
    lin = [n for n in g.nodes if n.op == "linear"]
    layers = [(g.arrays[n.inputs[1]], g.arrays[n.inputs[2]]) for n in lin]
    return g, x, layers


def numpy_forward(x, layers):
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            np.maximum(h, 0, out=h)
    return h


def scalar_reference_row(n):
    """ops/second of the scalar reference kernel (certnn.floats.kernel: exact
    integer arithmetic and one rounding) on binary32 bit patterns of random
    normal operands, round-to-nearest-even and one directed mode."""
    from certnn.floats import kernel as K
    from certnn.floats.formats import BINARY32
    rng = np.random.default_rng(0)
    vals = rng.standard_normal(3 * n).astype(np.float32) * np.float32(100)
    bits = [int(v) for v in vals.view(np.uint32)]
    a, b, c = bits[:n], bits[n:2 * n], bits[2 * n:]
    pos = [x & 0x7FFFFFFF for x in a]
    ops = {
        "add": lambda rm: [K.add(BINARY32, x, y, rm) for x, y in zip(a, b)],
        "sub": lambda rm: [K.sub(BINARY32, x, y, rm) for x, y in zip(a, b)],
        "mul": lambda rm: [K.mul(BINARY32, x, y, rm) for x, y in zip(a, b)],
        "div": lambda rm: [K.div(BINARY32, x, y, rm) for x, y in zip(a, b)],
        "sqrt": lambda rm: [K.sqrt(BINARY32, x, rm) for x in pos],
        "fma": lambda rm: [K.fma(BINARY32, x, y, z, rm) for x, y, z in zip(a, b, c)],
    }
    out = {"format": "binary32", "operands": n, "operand_distribution": "100 * standard normal, as binary32"}
    for name, fn in ops.items():
        for label, rm in (("RNE", K.RNE), ("RTZ", K.RTZ)):
            fn(rm)                                    # warm-up
            t0 = time.perf_counter()
            fn(rm)
            out[f"{name}_{label}_ops_per_s"] = n / (time.perf_counter() - t0)
    # the same operations on NumPy float32 arrays, for scale
    A, B = vals[:n], vals[n:2 * n]
    t0 = time.perf_counter()
    for _ in range(10):
        A + B
    out["numpy_float32_vectorized_add_per_s"] = 10 * n / (time.perf_counter() - t0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args(argv)
    reps = 7 if args.quick else 21

    g, x, layers = build()
    rows = []
    res = {"platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
           "cpu_count": os.cpu_count(), "blas": [{k: i.get(k) for k in ("internal_api", "num_threads",
                                                                          "architecture")}
                                                 for i in threadpool_info() if i.get("user_api") == "blas"],
           "numba": b32_numba.AVAILABLE, "model": "784-512-512-10 ReLU MLP", "batch": 256}

    with threadpool_limits(limits=1, user_api="blas"):
        ref = numpy_forward(x, layers)
        blas1 = timeit(lambda: numpy_forward(x, layers), reps)
    blas_default = timeit(lambda: numpy_forward(x, layers), reps)
    rows.append(("numpy float32 (BLAS), 1 thread", blas1))
    rows.append(("numpy float32 (BLAS), default threads", blas_default))

    results = {}
    if b32_numba.AVAILABLE:
        with b32.settings(backend="numba", threads=1):
            y = run(g, x, "binary32")
            results["numba-1"] = y
            t = timeit(lambda: run(g, x, "binary32"), reps)
        rows.append(("certnn.run binary32, numba, 1 thread", t))
        res["binary32_numba_1thread"] = t
        ncpu = os.cpu_count() or 1
        if ncpu > 1:
            with b32.settings(backend="numba", threads=ncpu):
                results[f"numba-{ncpu}"] = run(g, x, "binary32")
                t = timeit(lambda: run(g, x, "binary32"), reps)
            rows.append((f"certnn.run binary32, numba, {ncpu} threads (rows split)", t))
            res["binary32_numba_threads"] = t
        with b32.settings(backend="numba", order="pairwise"):
            tp = timeit(lambda: run(g, x, "binary32", order="pairwise"), max(3, reps // 3), warmup=1)
        rows.append(("certnn.run binary32 pairwise, numba, 1 thread", tp))
        res["binary32_pairwise_numba"] = tp
    with b32.settings(backend="numpy"):
        results["numpy"] = run(g, x, "binary32")
        tn = timeit(lambda: run(g, x, "binary32"), max(3, reps // 3), warmup=1)
    rows.append(("certnn.run binary32, NumPy k-loop fallback", tn))
    res["binary32_numpy_loop"] = tn
    with threadpool_limits(limits=2, user_api="blas"):
        with b32.settings(backend="numpy"):
            results["numpy-blas2"] = run(g, x, "binary32")

    base = results.get("numba-1", results["numpy"])
    res["bit_identical_across_backends_threads"] = all(
        np.array_equal(v.view(np.uint32), base.view(np.uint32)) for v in results.values())
    res["max_abs_diff_vs_blas"] = float(np.max(np.abs(base - ref)))
    res["numpy_blas_1thread"] = blas1
    res["numpy_blas_default"] = blas_default
    best = res.get("binary32_numba_1thread", tn)["median_ms"]
    res["ratio_binary32_vs_blas_1thread"] = best / blas1["median_ms"]
    res["ratio_binary32_vs_blas_default"] = best / blas_default["median_ms"]
    res["ratio_target"] = TARGET_RATIO
    res["meets_target"] = res["ratio_binary32_vs_blas_1thread"] <= TARGET_RATIO
    if b32_numba.AVAILABLE:
        res["numba_speedup_over_numpy_loop"] = tn["median_ms"] / res["binary32_numba_1thread"]["median_ms"]

    # the first layer's product alone (the 256x784 by 784x512 case)
    A = x
    B = np.ascontiguousarray(layers[0][0].T)
    with threadpool_limits(limits=1, user_api="blas"):
        mm_blas = timeit(lambda: A @ B, reps)
    mm = {"blas_1thread": mm_blas}
    if b32_numba.AVAILABLE:
        mm["numba_sequential"] = timeit(lambda: b32.matmul2d(A, B, "sequential", "numba"), reps)
        mm["ratio"] = mm["numba_sequential"]["median_ms"] / mm_blas["median_ms"]
    res["matmul_256x784x512"] = mm

    res["scalar_reference_kernel"] = scalar_reference_row(20000 if args.quick else 100000)

    print(f"784-512-512-10 ReLU MLP, batch 256 ({res['blas']})")
    print(f"{'path':58s} {'median ms':>10s} {'min ms':>9s} {'x BLAS1':>8s}")
    for name, t in rows:
        print(f"{name:58s} {t['median_ms']:10.2f} {t['min_ms']:9.2f} "
              f"{t['median_ms'] / blas1['median_ms']:8.2f}")
    print(f"binary32 / BLAS (1 thread): {res['ratio_binary32_vs_blas_1thread']:.2f}x "
          f"(target <= {TARGET_RATIO}x: {'met' if res['meets_target'] else 'NOT met'}); "
          f"vs BLAS default threads: {res['ratio_binary32_vs_blas_default']:.2f}x")
    print(f"bit-identical across backends / threads: {res['bit_identical_across_backends_threads']}; "
          f"max |binary32 - BLAS| = {res['max_abs_diff_vs_blas']:.3g}")
    if "ratio" in mm:
        print(f"256x784 @ 784x512: numba {mm['numba_sequential']['median_ms']:.2f} ms, "
              f"BLAS 1 thread {mm_blas['median_ms']:.2f} ms ({mm['ratio']:.2f}x)")
    sk = res["scalar_reference_kernel"]
    print("scalar reference kernel (certnn.floats.kernel, binary32), ops/s: " + ", ".join(
        f"{k[:-len('_ops_per_s')]} {v:,.0f}" for k, v in sk.items() if k.endswith("_ops_per_s")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    from certnn.io import atomic_write
    with atomic_write(RESULTS / "float_exec.json", "w") as f:
        f.write(json.dumps(res, indent=2, default=float) + "\n")
    print(f"wrote {RESULTS / 'float_exec.json'}")
    return res


if __name__ == "__main__":
    main()
