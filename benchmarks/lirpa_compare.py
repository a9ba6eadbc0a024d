"""certnn's IBP, CROWN and alpha-CROWN side by side with auto_LiRPA: same weights,
same inputs, one process, one thread each.

    .venv/bin/python benchmarks/lirpa_compare.py [--images 20] [--eps 0.01] [--models conv,mlp128,mlp256x2,resnet]
        [--alpha-iters 20] [--train-images 10000]

Models (as in the issue): the conv net Conv(1->16, 4x4, s2, p1)-ReLU-Conv(16->32,
4x4, s2, p1)-ReLU-Linear(1568->100)-ReLU-Linear(100->10), the MLPs 784-128-10 and
784-256-256-10 (trained here with torch for one epoch on the first
``--train-images`` MNIST training images, seed 0), and the ResNet of VNN-COMP
2022's sri_resnet_a (its ONNX, over the boxes of its first ``--resnet-images``
instances, each with the instance's own spec rows' labels taken from the box
centre). MNIST inputs: the first ``--images`` test images, L-inf ball of radius
``--eps`` clipped to [0, 1]. The robustness spec (label minus each other class)
is folded into the bound (``C``). alpha-CROWN runs in both
tools' default mode: the output rows' slopes only, intermediate bounds fixed
(certnn ``alpha_mode="spec"``, auto_LiRPA ``fix_interm_bounds``).

auto_LiRPA and torch are benchmark-only dependencies (the ``bench`` extra).
When auto_LiRPA cannot be imported (the PyPI release 0.3 does not import with
torch 2.13 and numpy 2), its columns are null and the reason is recorded;
certnn's figures are still measured. Prints a table and writes
benchmarks/results/lirpa_compare.json (paths relative to the data roots).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESNET = "vnncomp2022/sri_resnet_a/onnx/resnet_3b2_bn_mixup_adv_4.0_bs128_lr-1.onnx"


def torch_models():
    import torch.nn as tnn
    return {
        "conv": lambda: tnn.Sequential(tnn.Conv2d(1, 16, 4, 2, 1), tnn.ReLU(), tnn.Conv2d(16, 32, 4, 2, 1), tnn.ReLU(),
                                       tnn.Flatten(), tnn.Linear(1568, 100), tnn.ReLU(), tnn.Linear(100, 10)),
        "mlp128": lambda: tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 128), tnn.ReLU(), tnn.Linear(128, 10)),
        "mlp256x2": lambda: tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 256),
                                           tnn.ReLU(), tnn.Linear(256, 10)),
    }


def train(model, x, y, seed=0):
    """One epoch of Adam (batch 64) in torch: weights that look like a trained net's."""
    import torch
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    for i in range(0, len(x), 64):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt[i:i + 64]), yt[i:i + 64]).backward()
        opt.step()
    return model.eval().double()


def lirpa_or_reason():
    try:
        import auto_LiRPA  # noqa: F401
        return auto_LiRPA, None
    except Exception as e:  # an import that fails for any reason is recorded, not fatal
        return None, f"{type(e).__name__}: {e}"


def time_certnn(graph, region, spec, method, iters, batched):
    from certnn.bounds import compute_bounds
    from certnn.bounds.net import analyze
    net = analyze(graph)
    kw = {"iters": iters, "alpha_mode": "spec"} if method == "alpha-crown" else {}
    t0 = time.perf_counter()
    if batched:
        lb = compute_bounds(net, region, spec, method=method, **kw).lb
    else:
        lb = np.concatenate([compute_bounds(net, region.rows(slice(i, i + 1)), spec.rows(slice(i, i + 1)),
                                            method=method, **kw).lb for i in range(region.n)])
    return (time.perf_counter() - t0) / region.n, lb


def time_lirpa(lirpa, model, x, eps, C, method, iters, batched):
    import torch
    from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm
    xt = torch.tensor(x)
    bm = BoundedModule(model, xt[:1], device="cpu")
    name = {"ibp": "IBP", "crown": "CROWN", "alpha-crown": "alpha-CROWN"}[method]
    if method == "alpha-crown":
        bm.set_bound_opts({"optimize_bound_args": {"iteration": iters}})
    Ct = torch.tensor(C)
    ptb = lambda lo, hi: PerturbationLpNorm(norm=float("inf"), eps=eps, x_L=lo, x_U=hi)  # noqa: E731
    lo, hi = torch.clamp(xt - eps, 0, 1), torch.clamp(xt + eps, 0, 1)
    t0 = time.perf_counter()
    if batched:
        lb = bm.compute_bounds(x=(BoundedTensor(xt, ptb(lo, hi)),), C=Ct, method=name, bound_upper=False)[0]
    else:
        lb = torch.cat([bm.compute_bounds(x=(BoundedTensor(xt[i:i + 1], ptb(lo[i:i + 1], hi[i:i + 1])),),
                                          C=Ct[i:i + 1], method=name, bound_upper=False)[0] for i in range(len(x))])
    return (time.perf_counter() - t0) / len(x), lb.detach().numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--models", default="conv,mlp128,mlp256x2,resnet")
    ap.add_argument("--methods", default="ibp,crown,alpha-crown")
    ap.add_argument("--alpha-iters", type=int, default=20)
    ap.add_argument("--train-images", type=int, default=10000)
    ap.add_argument("--resnet-images", type=int, default=3, help="inputs for the (slow) ResNet rows")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lirpa_compare.json"))
    args = ap.parse_args()
    os.environ.setdefault("CERTNN_DATA", str(ROOT.parent / "shared" / "data"))
    os.environ.setdefault("CERTNN_BENCHMARKS", str(ROOT.parent / "shared" / "benchmarks"))
    import torch
    from threadpoolctl import threadpool_limits
    from certnn.data.mnist import load_mnist
    from certnn.interop.torch_import import from_torch
    from certnn.spec.linear import LinearSpec
    from certnn.spec.region import Region
    torch.set_num_threads(1)
    lirpa, why = lirpa_or_reason()
    xtr, ytr = load_mnist(os.environ["CERTNN_DATA"], "train")
    xte, _ = load_mnist(os.environ["CERTNN_DATA"], "test")
    xtr = (xtr[:args.train_images].reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    ytr = ytr[:args.train_images].astype(np.int64)
    x = (xte[:args.images].reshape(-1, 1, 28, 28) / 255.0).astype(np.float64)
    rows, methods = [], args.methods.split(",")
    for name in args.models.split(","):
        if name == "resnet":
            from certnn.interop.models import load_onnx_model
            from certnn.verify.vnncomp import load_instance, read_instances
            base = Path(os.environ["CERTNN_BENCHMARKS"]) / "vnncomp2022" / "sri_resnet_a"
            rows_ = read_instances(base / "instances.csv")[:args.resnet_images]
            graph = load_onnx_model(base.parent.parent / RESNET)
            # the CIFAR images the category's properties are about: the centres of their boxes
            boxes = [load_instance(r["onnx"], r["vnnlib"])[2][0][0] for r in rows_]
            xs = np.concatenate([(b.lo + b.hi) / 2 for b in boxes])
            model = None                                   # auto_LiRPA would need the ONNX converted to torch
        else:
            model = train(torch_models()[name](), xtr, ytr)
            graph = from_torch(model.float(), torch.zeros(1, 1, 28, 28))
            model = model.double()
            xs = x
        with torch.no_grad():
            from certnn.ir.run import run
            logits = np.asarray(run(graph, xs, semantics="real")).reshape(len(xs), -1)
        labels = logits.argmax(1)
        spec = LinearSpec.robustness(labels, logits.shape[1])
        if name == "resnet":     # the properties' own boxes (inputs normalized inside the box)
            region = Region.box(np.concatenate([b.lo for b in boxes]), np.concatenate([b.hi for b in boxes]))
        else:
            region = Region.ball(xs, args.eps, "inf", domain=(0.0, 1.0))
        for method in methods:
            for batched in (False, True):
                with threadpool_limits(limits=1):
                    t_c, lb_c = time_certnn(graph, region, spec, method, args.alpha_iters, batched)
                    t_l = lb_l = None
                    if lirpa is not None and model is not None:
                        t_l, lb_l = time_lirpa(lirpa, model, xs, args.eps, spec.C, method, args.alpha_iters, batched)
                diff = None if lb_l is None else float(np.max(np.abs(lb_c - lb_l) / (1 + np.abs(lb_l))))
                row = {"model": name, "method": method, "batched": batched, "certnn_ms": 1e3 * t_c,
                       "auto_lirpa_ms": None if t_l is None else 1e3 * t_l,
                       "ratio": None if t_l is None else t_c / t_l, "max_rel_diff": diff,
                       "certnn_verified": int(np.sum(np.all(lb_c > 0, axis=1))),
                       "auto_lirpa_verified": None if lb_l is None else int(np.sum(np.all(lb_l > 0, axis=1)))}
                rows.append(row)
                fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
                print(f"{name:<9} {method:<12} {'batch' if batched else 'single':<6} certnn {t_c * 1e3:9.2f} ms  "
                      f"auto_LiRPA {fmt(row['auto_lirpa_ms'], '9.2f')} ms  ratio {fmt(row['ratio'], '6.2f')}  "
                      f"diff {fmt(diff, '.1e')}  verified {row['certnn_verified']}/{fmt(row['auto_lirpa_verified'], 'd')}",
                      flush=True)
                _write(args, lirpa, why, rows, torch)
    _write(args, lirpa, why, rows, torch)
    print(f"wrote {args.out}")


def _write(args, lirpa, why, rows, torch):
    """The results so far (rewritten after every row: a long run leaves what it measured)."""
    from certnn.io import atomic_write
    doc = {"images": args.images, "eps": args.eps, "alpha_iters": args.alpha_iters, "threads": 1,
           "auto_lirpa": None if lirpa is None else getattr(lirpa, "__version__", "?"), "auto_lirpa_missing": why,
           "data": "mnist (CERTNN_DATA); resnet: " + RESNET + " (CERTNN_BENCHMARKS)",
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__},
           "rows": rows}
    out = Path(args.out)
    if out.exists():            # keep the rows of models this run did not measure
        ran = {r["model"] for r in rows}
        doc["rows"] = [r for r in json.loads(out.read_text()).get("rows", []) if r["model"] not in ran] + rows
    with atomic_write(args.out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
