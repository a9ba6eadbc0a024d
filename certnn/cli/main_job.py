"""The main job behind ``make run``: train the 784-128-10 MNIST MLP, save the
checkpoint, print a summary table; bound its binary32 error; certify it on the
first 1,000 test images at eps 0.01 and 0.02 (L-inf), writing certificates that
the independent checker re-checks; decide the VNN-COMP ``test`` instances with
the complete verifier, certificates included (when the benchmarks are present)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

import click
from ..zoo.train import TrainConfig, train_mnist


def run_main_job(data=None, out="runs/mnist-mlp", epochs: int = 5) -> dict:
    console = Console()
    console.rule("certnn main job: train the MNIST MLP 784-128-10")
    cfg = TrainConfig(arch="mlp", hidden=[128], epochs=epochs)
    res = train_mnist(cfg, data_dir=data, out=out, progress=console.is_terminal, log=console.print)
    table = Table(title="MNIST MLP 784-128-ReLU-10")
    for col in ("metric", "value"):
        table.add_column(col)
    table.add_row("test accuracy", f"{res['test_accuracy'] * 100:.2f} %")
    table.add_row("train accuracy (last epoch)", f"{res['train_accuracy'] * 100:.2f} %")
    table.add_row("epochs", str(res["epochs"]))
    table.add_row("parameters", f"{res['params']:,}")
    table.add_row("wall time", f"{res['wall_seconds']:.1f} s")
    table.add_row("checkpoint", str(out))
    console.print(table)

    console.rule("binary32 execution vs real semantics on the 10,000 test images")
    from ..interop.checkpoint import load_graph
    from ..error_budget.report import budget_summary
    from ..data.mnist import mnist_arrays
    graph = load_graph(out)
    x, _ = mnist_arrays((784,), data, "test")
    budget = budget_summary(graph, x)
    bound, measured = budget["max_bound"], budget["max_measured_at_images"]
    t2 = Table(title="|f_binary32(x) - f_real(x)| on the logits")
    for col in ("quantity", "value"):
        t2.add_column(col)
    t2.add_row("largest sound bound (error budget)", f"{bound:.3e}")
    t2.add_row("largest measured error", f"{measured:.3e}")
    t2.add_row("bound / measured", f"{bound / measured:.1f}x")
    t2.add_row("bound holds at every image", str(budget["bound_holds_at_images"]))
    t2.add_row("evidence", "checked; assumes hardware-float32-elementwise-ieee, ieee754-binary64-rn")
    console.print(t2)
    res["error_budget"] = {"max_bound": bound, "max_measured": measured}
    _save_json(Path(out) / "error-budget.json", budget)
    res["verification"] = _certify(console, graph, x, out, data)
    res["vnncomp_test"] = _vnncomp_test(console, out)
    return res


def _save_json(path, doc) -> None:
    import json

    from ..io import atomic_write
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1)


def _vnncomp_test(console, out) -> dict | None:
    """The five VNN-COMP sanity instances, in certifiable mode (every input-split
    unsat answer written as a certificate and re-checked)."""
    from pathlib import Path

    from ..io import benchmarks_root
    from ..verify.vnncomp import run_suite
    csv_path = benchmarks_root() / "vnncomp2022" / "test" / "instances.csv"
    console.rule("complete verification: the VNN-COMP 2022 test instances")
    if not csv_path.exists():
        console.print(f"skipped: {csv_path} not found (set CERTNN_BENCHMARKS)")
        return None
    res = run_suite(csv_path, cert_dir=Path(out) / "vnncomp-certificates")
    t = Table(title="certnn vnncomp suite (certifiable mode)")
    for col in ("instance", "expected", "answer", "certified", "seconds"):
        t.add_column(col, justify="right" if col == "seconds" else "left")
    for r in res["rows"]:
        t.add_row(r["name"], r.get("expected") or "-", r["status"],
                  "yes" if r.get("certified") else "-", f"{r['seconds']:.2f}")
    console.print(t)
    console.print(f"solved {res['solved']}/{res['instances']}, wrong {res['wrong']}, "
                  f"certified unsat {res['certified']}")
    return {k: res[k] for k in ("instances", "solved", "wrong", "certified")}


def _certify(console, graph, x, out, data, n: int = 1000, epsilons=(0.01, 0.02)) -> list:
    """Certify the first ``n`` test images (CROWN, real and binary32 semantics)
    and re-check every certificate with the independent checker."""
    from pathlib import Path

    from ..data.mnist import load_mnist
    from ..data.mnist import download_allowed
    from ..verify.robustness import verify_robustness
    console.rule(f"robustness of the MLP on the first {n:,} test images (L-inf, CROWN)")
    _, labels = load_mnist(data, "test", download=download_allowed())
    x, y = x[:n], labels[:n].astype("int64")
    rows = []
    for eps in epsilons:
        for sem in ("real", "binary32"):
            folder = Path(out) / "certificates" / f"eps{eps:g}-{sem}"
            rep = verify_robustness(graph, x, y, eps, "inf", "crown", sem, out_dir=folder,
                                    model_path=Path(out).resolve())
            rows.append(rep.summary() | {"rejected": len(rep.check_failures)})
    # one column per (eps, semantics): fits an 80-column terminal
    t = Table(title="certified robustness (certificates re-checked by certnn.verify.checker)")
    t.add_column("")
    for s in rows:
        t.add_column(f"eps {s['eps']:g}\n{s['semantics']}", justify="right")
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    for label, fmt in (("clean accuracy", lambda s: pct(s["clean_accuracy"])),
                       ("PGD accuracy", lambda s: pct(s["pgd_accuracy"])),
                       ("verified (CROWN)", lambda s: pct(s["verified_accuracy"])),
                       ("certified (checker)", lambda s: pct(s["certified_accuracy"])),
                       ("checker rejections", lambda s: str(s["rejected"])),
                       ("bounds ms/example", lambda s: f"{s['ms_per_example']['bounds']:.3f}"),
                       ("checker ms/example", lambda s: f"{s['ms_per_example']['check']:.3f}")):
        t.add_row(label, *[fmt(s) for s in rows])
    console.print(t)
    console.print(f"certificates: {Path(out) / 'certificates'}/eps*-*/ (re-check one with `certnn check FILE`)")
    return rows


# ---- main job ----------------------------------------------------------------------------------
@click.command("main")
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--out", default="runs/mnist-mlp", show_default=True, help="Checkpoint folder.")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(min=1))
def main_job_cmd(data, out, epochs):
    """The main job (`make run`): train the MNIST MLP, save it, print a summary."""
    from ..io import output_folder
    output_folder(out, "checkpoint folder (--out)")
    run_main_job(data=data, out=out, epochs=epochs)
