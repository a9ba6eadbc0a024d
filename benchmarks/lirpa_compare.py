"""certnn's IBP, CROWN and alpha-CROWN side by side with auto_LiRPA: same weights,
same inputs, one process, one thread each.

    .venv/bin/python benchmarks/lirpa_compare.py [--images 20] [--eps 0.01] [--models conv,mlp128,mlp256x2,resnet]
        [--methods ibp,crown,alpha-crown] [--modes single,batch] [--alpha-iters 20] [--train-images 10000]
        [--repeat 1]

Models (as in the issue): the conv net Conv(1->16, 4x4, s2, p1)-ReLU-Conv(16->32,
4x4, s2, p1)-ReLU-Linear(1568->100)-ReLU-Linear(100->10), the MLPs 784-128-10 and
784-256-256-10 (trained here with torch for one epoch on the first
``--train-images`` MNIST training images, seed 0), and the ResNet of VNN-COMP
2022's sri_resnet_a (its ONNX, over the boxes of its first ``--resnet-images``
instances, each with the instance's own spec rows' labels taken from the box
centre). MNIST inputs: the first ``--images`` test images, L-inf ball of radius
``--eps`` clipped to [0, 1]. The robustness spec (label minus each other class)
is folded into the bound (``C``). alpha-CROWN runs in the same mode in both
tools: CROWN's intermediate bounds, then the output rows' slopes only (certnn
``alpha_mode="spec"``; auto_LiRPA ``fix_intermediate_layer_bounds`` with the CROWN
pass's intermediate bounds passed in, both on the clock).

auto_LiRPA and torch are benchmark-only dependencies (the ``bench`` extra).
auto_LiRPA's PyPI release 0.3 (``pip install --no-deps auto-lirpa``) does not
import on torch 2.13 and numpy 2 as it is: :func:`lirpa_shims` supplies the three
names it misses (documented there; recorded in the result). When it still
cannot be imported its columns are null and the reason is recorded; certnn's
figures are still measured. The process runs with :mod:`certnn.allocator`'s malloc
thresholds, as the ``certnn`` command does; both tools share them. alpha-CROWN runs 20 steps of size 0.5 (auto_LiRPA
0.3's default) in both tools. Prints a table and writes
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
LIRPA_LR = 0.5
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


def lirpa_shims() -> list[str]:
    """Make auto_LiRPA 0.3 (its only PyPI release, 2022, installed with
    ``pip install --no-deps auto-lirpa``) import and trace on torch 2.13 and
    numpy 2. Its undeclared dependencies ``appdirs`` and ``tqdm`` come from the
    ``bench`` extra; three names it uses are gone, and each shim supplies the same
    behaviour, only for this benchmark process. Returns the shims applied.

    * ``numpy.lib.arraysetops.isin`` (numpy 2 moved it): ``numpy.isin``;
    * ``torch.onnx.symbolic_helper._set_opset_version`` (moved in torch 2.x): sets
      the TorchScript exporter's opset global, as the old function did;
    * ``torch._C.Node.__getitem__`` (attribute access by subscript, removed): the
      typed getter the node names for that attribute (``n.kindOf(k)``);
    * ``BoundedModule._named_members`` (overrides torch's with the 1.x signature;
      torch 2 passes ``remove_duplicate``): the same walk, the keyword accepted
      (0.3's walk already drops duplicates).
"""
    import types
    import torch
    applied = []

    def module(name, **attrs):
        if name not in sys.modules:
            try:
                __import__(name)
                return
            except ImportError:
                m = types.ModuleType(name)
                m.__dict__.update(attrs)
                sys.modules[name] = m
                applied.append(name)
    module("numpy.lib.arraysetops", isin=np.isin)
    import torch.onnx.symbolic_helper as helper
    if not hasattr(helper, "_set_opset_version"):
        from torch.onnx._internal.torchscript_exporter._globals import GLOBALS
        helper._set_opset_version = lambda v: setattr(GLOBALS, "export_onnx_opset_version", v)
        applied.append("torch.onnx.symbolic_helper._set_opset_version")
    if not hasattr(torch._C.Node, "__getitem__"):
        torch._C.Node.__getitem__ = lambda self, k: getattr(self, self.kindOf(k))(k)
        applied.append("torch._C.Node.__getitem__")
    from auto_LiRPA.bound_general import BoundedModule
    walk = BoundedModule._named_members
    if "remove_duplicate" not in walk.__code__.co_varnames:
        BoundedModule._named_members = lambda self, fn, prefix="", recurse=True, remove_duplicate=True: \
            walk(self, fn, prefix, recurse)
        applied.append("auto_LiRPA.BoundedModule._named_members(remove_duplicate=...)")
    return applied


def lirpa_or_reason():
    try:
        shims = lirpa_shims()
        import auto_LiRPA  # noqa: F401
        auto_LiRPA.certnn_shims = shims
        return auto_LiRPA, None
    except Exception as e:  # an import that fails for any reason is recorded, not fatal
        return None, f"{type(e).__name__}: {e}"


def time_certnn(graph, region, spec, method, iters, batched):
    from certnn.bounds import compute_bounds
    from certnn.bounds.net import analyze
    net = analyze(graph)
    net.constants()      # the weights, prepared off the clock as auto_LiRPA's BoundedModule is
    # auto_LiRPA 0.3's defaults: step 0.5 decaying by 0.98, output rows only
    kw = {"iters": iters, "alpha_mode": "spec", "lr": LIRPA_LR} if method == "alpha-crown" else {}
    t0 = time.perf_counter()
    if batched:
        lb = compute_bounds(net, region, spec, method=method, **kw).lb
    else:
        lb = np.concatenate([compute_bounds(net, region.rows(slice(i, i + 1)), spec.rows(slice(i, i + 1)),
                                            method=method, **kw).lb for i in range(region.n)])
    return (time.perf_counter() - t0) / region.n, lb


def time_lirpa(lirpa, model, x, region, C, method, iters, batched):
    """auto_LiRPA's bound of the same rows over the same boxes (``region.lo/hi``).
    Single alpha-CROWN calls get one BoundedModule per example, built before the
    clock starts: 0.3 keeps a call's sparse slopes on the module and its next call on
    another input fails an assertion. The default dtype is float64 meanwhile (the
    models and inputs are; 0.3 creates some buffers in the default dtype)."""
    import torch
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _time_lirpa(model, x, region, C, method, iters, batched)
    finally:
        torch.set_default_dtype(default)


def _time_lirpa(model, x, region, C, method, iters, batched):
    import torch
    from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm
    xt = torch.tensor(x)
    name = {"ibp": "IBP", "crown": "CROWN", "alpha-crown": "alpha-CROWN"}[method]

    def module():
        # alpha-CROWN with the intermediate bounds passed in: 0.3's sparse slopes (stored for
        # the neurons unstable at set-up only) then fail on a later example's other unstable
        # set (a shape error in operators/activation.py); dense slopes give the same bounds
        opts = {"sparse_features_alpha": False} if method == "alpha-crown" else None
        bm = BoundedModule(model, xt[:1], bound_opts=opts, device="cpu")
        if method == "alpha-crown":
            bm.set_bound_opts({"optimize_bound_args": {"iteration": iters, "lr_alpha": LIRPA_LR,
                                                       "fix_intermediate_layer_bounds": True}})
        return bm
    one = module()
    bms = [module() for _ in x] if method == "alpha-crown" and not batched else [one] * len(x)
    Ct = torch.tensor(C)
    ptb = lambda lo, hi: PerturbationLpNorm(norm=float("inf"), x_L=lo, x_U=hi)  # noqa: E731
    lo, hi = torch.tensor(region.lo), torch.tensor(region.hi)
    def bound(bm, x, C):
        if method != "alpha-crown":
            return bm.compute_bounds(x=x, C=C, method=name, bound_upper=False)[0]
        # the output rows' slopes only: 0.3's fix_intermediate_layer_bounds keeps only the
        # intermediate bounds the caller passes (as alpha,beta-CROWN passes its root's);
        # without them every step recomputes them all with their own slopes (joint
        # optimization). So CROWN first, as certnn's "spec" mode does, on the clock
        bm.compute_bounds(x=x, C=C, method="CROWN", bound_upper=False)
        fixed = {n.name: [n.lower, n.upper] for n in bm._modules.values()
                 if n.name != bm.final_name and getattr(n, "lower", None) is not None
                 and getattr(n, "upper", None) is not None and getattr(n, "perturbation", None) is None}
        return bm.compute_bounds(x=x, C=C, method=name, bound_upper=False, intermediate_layer_bounds=fixed)[0]
    t0 = time.perf_counter()
    if batched:
        lb = bound(one, (BoundedTensor(xt, ptb(lo, hi)),), Ct)
    else:
        lb = torch.cat([bound(bms[i], (BoundedTensor(xt[i:i + 1], ptb(lo[i:i + 1], hi[i:i + 1])),), Ct[i:i + 1])
                        for i in range(len(x))])
    return (time.perf_counter() - t0) / len(x), lb.detach().numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--models", default="conv,mlp128,mlp256x2,resnet")
    ap.add_argument("--methods", default="ibp,crown,alpha-crown")
    ap.add_argument("--modes", default="single,batch", help="single calls per example, one batched call, or both")
    ap.add_argument("--alpha-iters", type=int, default=20)
    ap.add_argument("--train-images", type=int, default=10000)
    ap.add_argument("--resnet-images", type=int, default=3, help="inputs for the (slow) ResNet rows")
    ap.add_argument("--repeat", type=int, default=1,
                    help="time each cell this many times, the two tools alternating, and keep each tool's fastest "
                         "(on a loaded machine the least disturbed; every repetition starts cold: a fresh Net, "
                         "a fresh BoundedModule)")
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
    from certnn import allocator
    tuned = allocator.tune()      # as the certnn command does; one process, so auto_LiRPA's torch shares it
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
            from certnn.interop.torch_export import to_torch
            model = to_torch(graph).double().eval()        # the same weights, as a torch module
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
            for batched in [m == "batch" for m in args.modes.split(",")]:
                t_c = t_l = lb_l = lirpa_error = None
                with threadpool_limits(limits=1):
                    for _ in range(max(1, args.repeat)):
                        t, lb_c = time_certnn(graph, region, spec, method, args.alpha_iters, batched)
                        t_c = t if t_c is None else min(t_c, t)
                        if lirpa is not None and model is not None and lirpa_error is None:
                            try:
                                t, lb_l = time_lirpa(lirpa, model, xs, region, spec.C, method, args.alpha_iters,
                                                     batched)
                                t_l = t if t_l is None else min(t_l, t)
                            except Exception as e:   # recorded per row: the other rows still compare
                                lirpa_error = _where(e)
                                t_l = lb_l = None
                diff = None if lb_l is None else float(np.max(np.abs(lb_c - lb_l) / (1 + np.abs(lb_l))))
                row = {"model": name, "method": method, "batched": batched, "certnn_ms": 1e3 * t_c,
                       "auto_lirpa_ms": None if t_l is None else 1e3 * t_l,
                       "ratio": None if t_l is None else t_c / t_l, "max_rel_diff": diff,
                       # > 0: certnn's lower bounds are tighter on average (alpha-CROWN's optimizers differ)
                       "mean_lb_gain": None if lb_l is None else float(np.mean(lb_c - lb_l)),
                       "certnn_verified": int(np.sum(np.all(lb_c > 0, axis=1))),
                       "auto_lirpa_verified": None if lb_l is None else int(np.sum(np.all(lb_l > 0, axis=1))),
                       "auto_lirpa_error": lirpa_error, "repeat": max(1, args.repeat)}
                rows.append(row)
                fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
                print(f"{name:<9} {method:<12} {'batch' if batched else 'single':<6} certnn {t_c * 1e3:9.2f} ms  "
                      f"auto_LiRPA {fmt(row['auto_lirpa_ms'], '9.2f')} ms  ratio {fmt(row['ratio'], '6.2f')}  "
                      f"diff {fmt(diff, '.1e')}  verified {row['certnn_verified']}/{fmt(row['auto_lirpa_verified'], 'd')}",
                      flush=True)
                _write(args, lirpa, why, rows, torch, tuned)
    _write(args, lirpa, why, rows, torch, tuned)
    print(f"wrote {args.out}")


def _where(e: Exception) -> str:
    """An exception in one line: its type, message and the frame that raised it."""
    import traceback
    frame = traceback.extract_tb(e.__traceback__)[-1]
    where = f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno}"
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]} ({where}: {frame.line})"


def _write(args, lirpa, why, rows, torch, tuned):
    """The results so far (rewritten after every row: a long run leaves what it measured)."""
    from certnn.io import atomic_write
    doc = {"images": args.images, "eps": args.eps, "alpha_iters": args.alpha_iters, "threads": 1,
           "auto_lirpa": None if lirpa is None else getattr(lirpa, "__version__", "?"), "auto_lirpa_missing": why,
           "auto_lirpa_shims": None if lirpa is None else lirpa.certnn_shims,
           "data": "mnist (CERTNN_DATA); resnet: " + RESNET + " (CERTNN_BENCHMARKS)",
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__},
           # certnn.allocator's malloc thresholds, in effect for both tools (one process)
           "malloc_tuned": tuned,
           "rows": rows}
    out = Path(args.out)
    if out.exists():            # keep the rows (model, method, mode) this run did not measure
        key = lambda r: (r["model"], r["method"], r["batched"])  # noqa: E731
        ran = {key(r) for r in rows}
        doc["rows"] = [r for r in json.loads(out.read_text()).get("rows", []) if key(r) not in ran] + rows
    with atomic_write(args.out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
