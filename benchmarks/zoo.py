"""Model zoo benchmark: every zoo model trained for real by its recipe
(``certnn zoo train NAME --json``: metric, wall time, per-epoch time), its
training step timed against the same architecture in PyTorch CPU with the same
batch (benchmarks/zoo_twins.py; both on one thread, steps interleaved so
machine load hits both alike), and for the CNN, ResNet and ViT the fraction of
test images that IBP and CROWN verify robust at small L-inf radii.

    .venv/bin/python benchmarks/zoo.py [--models cnn,vit] [--skip-train] [--steps 5] [--epochs N]

Results are merged into benchmarks/results/zoo.json model by model (a run of
some models keeps the others' entries) and, for verification, radius by radius
(a run at some radii keeps the other radii's rows, so radii can run in parallel). Checkpoints go to
benchmarks/results/zoo-checkpoints/ (not committed). PyTorch figures are
skipped with a note when torch is not importable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CKPT = RESULTS / "zoo-checkpoints"
TARGETS = {  # the targets: (metric, comparison, value)
    "cnn": ("test_accuracy", ">=", 0.992), "resnet": ("test_accuracy", ">=", 0.993),
    "vit": ("test_accuracy", ">=", 0.975), "lstm": ("test_accuracy", ">=", 0.98),
    "gpt-adder": ("exact_match", ">=", 1.0), "fno": ("test_rel_l2", "<=", 0.02),
}
RATIO_TARGET = {"cnn": 1.2}          # the others: 1.5
VERIFY = {"cnn": 50, "resnet": 30, "vit": 20}      # test images per radius (CROWN is slow on a loaded machine)
RADII = (0.001, 0.004)


def train(name: str, epochs: int | None = None) -> dict:
    """Run the zoo recipe through the CLI (``epochs`` overrides the recipe's, and is
    recorded); return its JSON line plus the command's wall time."""
    cmd = [sys.executable, "-m", "certnn", "zoo", "train", name, "--json", "--no-progress", "--out", str(CKPT / name)]
    cmd += ["--epochs", str(epochs)] if epochs else []
    t0, cpu0 = time.perf_counter(), _children_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"certnn zoo train {name} failed:\n{r.stderr[-2000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["command_wall_s"] = time.perf_counter() - t0
    # CPU seconds of the training process: what the run costs on an idle core, whatever the machine's load
    res["command_cpu_s"] = _children_cpu() - cpu0
    if epochs:
        from certnn.zoo import entry
        res["recipe_epochs_overridden"] = {"recipe": entry(name).recipe.epochs, "ran": epochs}
    res.pop("checkpoint", None)          # a machine path
    return res


def _children_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def step_batch(name: str, rng):
    """(model config, inputs, targets, loss kind) of one training batch of the recipe."""
    from certnn import zoo
    e = zoo.entry(name)
    r, cfg = e.recipe, dict(e.recipe.model)
    if e.trainer == "language_model":
        L = r.data.get("block_size", 128)
        cfg["vocab_size"] = 100
        if cfg["arch"] == "gpt":
            cfg["block_size"] = L
        return cfg, rng.integers(0, 100, (r.batch_size, L)), rng.integers(0, 100, (r.batch_size, L)), 100
    if e.trainer == "adder":
        cfg.update(vocab_size=10, block_size=6)
        return cfg, rng.integers(0, 10, (r.batch_size, 6)), rng.integers(0, 10, (r.batch_size, 6)), 10
    if e.trainer == "fno":
        n = r.data.get("resolution", 256)
        return cfg, rng.random((r.batch_size, n, 2)).astype(np.float32), \
            rng.random((r.batch_size, n)).astype(np.float32), None
    x = rng.random((r.batch_size,) + zoo.input_shape(cfg)).astype(np.float32)
    return cfg, x, rng.integers(0, 10, r.batch_size), 0


def time_steps(name: str, steps: int) -> dict:
    """Median seconds per training step (forward, backward, optimizer) of certnn
    (compiled when the recipe allows) and of the torch twin, interleaved."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    import zoo_twins
    from certnn import Tensor, zoo
    from certnn import functional as F
    from certnn.zoo.train import make_optimizer, runner
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    cfg, x, y, vocab = step_batch(name, rng)
    recipe = zoo.entry(name).recipe
    model = zoo.build(cfg)
    run = runner(model, x, recipe.compiled)
    opt = make_optimizer(recipe, model.parameters())
    tm = zoo_twins.build(cfg)
    topt = torch.optim.AdamW(tm.parameters(), lr=1e-3) if recipe.optimizer == "adamw" else \
        torch.optim.Adam(tm.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def certnn_step():
        out = run(Tensor(x))
        loss = (F.mse(out, y) if vocab is None else F.cross_entropy(out, y) if vocab == 0
                else F.cross_entropy(F.reshape(out, (-1, vocab)), y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def torch_step():
        out = tm(tx)
        tf = torch.nn.functional
        loss = (tf.mse_loss(out, ty) if vocab is None else tf.cross_entropy(out, ty) if vocab == 0
                else tf.cross_entropy(out.reshape(-1, vocab), ty.reshape(-1)))
        topt.zero_grad()
        loss.backward()
        topt.step()

    def timed(step):
        w, c = time.perf_counter(), time.process_time()
        step()
        return time.perf_counter() - w, time.process_time() - c

    cs, ts = [], []
    with threadpool_limits(1, "blas"):
        # the thread counts each side runs with, as recorded (both must be 1)
        threads = {"certnn_blas": {p["internal_api"]: p["num_threads"] for p in threadpool_info()
                                   if p["user_api"] == "blas"}, "torch": torch.get_num_threads()}
        certnn_step(), torch_step()                      # warm-up (tracing, allocations)
        for _ in range(steps):
            cs.append(timed(certnn_step))
            ts.append(timed(torch_step))
    (c, c_cpu), (t, t_cpu) = np.median(cs, axis=0).tolist(), np.median(ts, axis=0).tolist()
    # CPU seconds of the process: less sensitive than wall time to other jobs on the machine
    return {"batch_size": recipe.batch_size, "steps": steps, "certnn_step_s": c, "torch_step_s": t, "ratio": c / t,
            "certnn_step_cpu_s": c_cpu, "torch_step_cpu_s": t_cpu, "ratio_cpu": c_cpu / t_cpu,
            "target_ratio": RATIO_TARGET.get(name, 1.5), "compiled": run is not model, "threads": threads,
            "load_average": os.getloadavg()[0],
            "torch_params": int(sum(p.numel() * (2 if p.is_complex() else 1) for p in tm.parameters()))}


def verify(name: str, radii=RADII, n: int | None = None) -> list[dict]:
    """Verified accuracy (IBP, CROWN) of the trained checkpoint at ``radii`` on the
    first ``n`` test images (default VERIFY[name])."""
    from certnn.data.mnist import mnist_arrays
    from certnn.interop.checkpoint import load_graph
    from certnn.ir.passes import unfuse
    from certnn.verify.checker import SUPPORTED as CHECKER_OPS
    from certnn.verify.robustness import verify_robustness
    from certnn.zoo import input_shape, load_checkpoint
    _, meta = load_checkpoint(CKPT / name)
    g = load_graph(CKPT / name)
    n = n or VERIFY[name]
    x, y = mnist_arrays(input_shape(meta["config"]), None, "test")
    # CROWN results are certified (certificates re-derived by the independent checker)
    # where the checker takes every op of the graph; otherwise they are computed only
    checkable = {nd.op for nd in unfuse(g).nodes if not nd.is_source} <= set(CHECKER_OPS)
    rows = []
    for eps in radii:
        for method in ("ibp", "crown"):
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                certify = checkable and method == "crown"
                rep = verify_robustness(g, x[:n], y[:n], eps, method=method, attack=method == "crown",
                                        batch=min(n, 10 if name == "vit" else 50), out_dir=tmp if certify else None)
            s = rep.summary()
            rows.append({"eps": eps, "method": method, "n": n, "clean_accuracy": s["clean_accuracy"],
                         "verified_accuracy": s["verified_accuracy"], "pgd_accuracy": s["pgd_accuracy"],
                         "certified_accuracy": s["certified_accuracy"], "checker": s["checker"],
                         "seconds": time.perf_counter() - t0, "evidence": "certified" if certify else "computed"})
            print(f"  {name} eps {eps} {method}: verified {s['verified_accuracy']:.2f} "
                  f"(clean {s['clean_accuracy']:.2f}, pgd {s['pgd_accuracy']}"
                  + (f", certified {s['certified_accuracy']:.2f}: {s['checker']}" if certify else "") + ")", flush=True)
    return rows


def main():
    from certnn.io import atomic_write
    from certnn.zoo import ZOO
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(ZOO), help="comma-separated zoo names")
    ap.add_argument("--skip-train", action="store_true", help="keep the stored training results and checkpoints")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--skip-verify", action="store_true")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per framework")
    ap.add_argument("--radii", default=None, help="comma-separated L-inf radii for the verification "
                    f"(default {','.join(map(str, RADII))})")
    ap.add_argument("--verify-n", type=int, default=None, help="test images to verify (default per model)")
    ap.add_argument("--table", action="store_true", help="print the stored results as a markdown table; run nothing")
    ap.add_argument("--epochs", type=int, default=None,
                    help="override the recipes' epochs (a shorter run; recorded in the results)")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    out = RESULTS / "zoo.json"
    if args.table:
        print(markdown_table(_load(out)))
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    for name in args.models.split(","):
        row = _load(out)["models"].get(name, {})
        row.pop("error", None)                 # an earlier run's
        radii, fresh = None, []
        try:
            if not args.skip_train:
                print(f"training {name} ...", flush=True)
                row["train"] = train(name, args.epochs)
                row["train"]["load_average"] = os.getloadavg()[0]
            if have_torch and not args.skip_timing:
                row["step_time"] = time_steps(name, args.steps)
            elif not have_torch:
                row["step_time"] = {"note": "torch not installed: PyTorch comparison skipped"}
            if name in VERIFY and not args.skip_verify:
                radii = tuple(float(r) for r in args.radii.split(",")) if args.radii else RADII
                fresh = verify(name, radii, args.verify_n)
        except (Exception, SystemExit) as e:  # noqa: BLE001 - one model's failure must not lose the others
            row["error"] = f"{type(e).__name__}: {e}"[:2000]
            print(f"{name}: {row['error']}", flush=True)
        if name in TARGETS and "train" in row:
            metric, cmp, value = TARGETS[name]
            got = row["train"]["value"]
            row["target"] = {"metric": metric, "target": f"{cmp} {value}",
                             "met": bool(got >= value if cmp == ">=" else got <= value)}
        doc = _load(out)                # re-read: another run may have stored other models meanwhile
        if fresh:                       # ... or other radii of this one: keep those, replace these
            stored = doc["models"].get(name, {}).get("verified", [])
            row["verified"] = sorted([v for v in stored if v["eps"] not in radii] + fresh,
                                     key=lambda v: (v["eps"], v["method"] != "ibp"))
        doc["models"][name] = row
        doc.update({"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__})
        with atomic_write(out, "w") as f:      # a unique temporary file: concurrent runs do not clash
            f.write(json.dumps(doc, indent=1))
        _print_row(name, row)
    print(f"wrote {out.relative_to(ROOT)}")


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"models": {}}


def markdown_table(doc: dict) -> str:
    """The stored results, one row per model (blank where a figure was not measured)."""
    lines = ["| model | metric | value | target | wall (s) | s/epoch | step certnn / torch (s) | ratio | CPU-time ratio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in doc["models"].items():
        t, s, tg = row.get("train", {}), row.get("step_time", {}), row.get("target", {})
        over = t.get("recipe_epochs_overridden")
        value = f"{t['value']:.4f}" + (f" ({over['ran']} of {over['recipe']} epochs)" if over else "") if t else ""
        target = f"{tg['target']} {'met' if tg['met'] else 'NOT met'}" if tg else ""
        step = f"{s['certnn_step_s']:.3f} / {s['torch_step_s']:.3f}" if "ratio" in s else ""
        ratio = f"{s['ratio']:.2f} (target {s['target_ratio']})" if "ratio" in s else ""
        cpu = f"{s['ratio_cpu']:.2f}" if "ratio_cpu" in s else ""
        lines.append(f"| {name} | {t.get('metric', '')} | {value} | {target} | "
                     f"{t['wall_seconds']:.0f} | {t['train_seconds_per_epoch']:.0f} | {step} | {ratio} | {cpu} |" if t else
                     f"| {name} | | | | | | {step} | {ratio} | {cpu} |")
    lms = [(n, row["train"]) for n, row in doc["models"].items() if "baselines" in row.get("train", {})]
    if lms:
        lines += ["", "| model | params | steps x tokens | val bits/char | unigram | bigram | wall (s) | CPU (s) |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {n} | {t['params']:,} | {t['steps']} x {t['tokens_per_step']} | {t['value']:.3f} | "
                  f"{t['baselines']['unigram_bits_per_char']:.3f} | {t['baselines']['bigram_bits_per_char']:.3f} | "
                  f"{t['wall_seconds']:.0f} | {t.get('command_cpu_s', float('nan')):.0f} |" for n, t in lms]
    ver = [(n, v) for n, row in doc["models"].items() for v in row.get("verified", [])]
    if ver:
        lines += ["", "| model | eps | method | n | clean | verified | PGD | seconds |", "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {n} | {v['eps']} | {v['method']} | {v['n']} | {v['clean_accuracy']:.2f} | "
                  f"{v['verified_accuracy']:.2f} | {v['pgd_accuracy']} | {v['seconds']:.0f} |" for n, v in ver]
    return "\n".join(lines)


def _print_row(name, row):
    t, s = row.get("train", {}), row.get("step_time", {})
    line = f"{name:10}"
    if t:
        line += f" {t['metric']} {t['value']:.4f}  wall {t['wall_seconds']:.0f} s  s/epoch {t['train_seconds_per_epoch']:.0f}"
    if "ratio" in s:
        line += f"  step {s['certnn_step_s']:.3f} s vs torch {s['torch_step_s']:.3f} s: x{s['ratio']:.2f}"
        line += f" (CPU time x{s['ratio_cpu']:.2f})" if "ratio_cpu" in s else ""
    print(line, flush=True)


if __name__ == "__main__":
    main()
