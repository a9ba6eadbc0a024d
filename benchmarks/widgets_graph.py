"""How the graph view scales: for the zoo's ResNet and character GPT at their shipped
configs, the zoo's GPT made deeper (its own constructor, ``n_layer`` from
``--gpt-layers``) until it has thousands of nodes, synthetic transformer-style
graphs of growing size, and the VNN-COMP sri_resnet_a ONNX model when the
benchmarks are present: the time to build the page in Python, to render it in
headless Chromium (the renderer's own time, and the wall time from opening the
file to the page being ready), and to search an op and select the first match
(until the next frame is painted). Zoo models are built untrained (their
constructors' initialisation): the graph does not depend on the weights. Peer:
the render time of the smallest graph (ratios say how the cost grows with the
node count); the issue's target is under 2 s for thousands of nodes. Best of
``--repeat`` loads.

    .venv/bin/python benchmarks/widgets_graph.py [--repeat 3] [--blocks 10 40 100 200] [--gpt-layers 50 100]

Needs Debian's chromium (``$CERTNN_CHROMIUM`` or on the PATH) and playwright.
Prints a table and writes benchmarks/results/widgets_graph.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEARCH = """async (op) => { const g = certnn.graphs[0], t = performance.now();
    const n = g.search('op:' + op); const m = g.section.querySelector('.cg-node.match');
    if (m) g.select(m.dataset.id, true);
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    return [performance.now() - t, n]; }"""


@functools.cache
def _vocab_size() -> int:
    from certnn.zoo.text import stdlib_corpus
    return stdlib_corpus().vocab_size          # what `certnn zoo train chargpt` gives the model


def zoo_graph(name: str, **overrides):
    """The traced graph of zoo model ``name`` at its recipe's config (``overrides`` changed), untrained;
    a GPT gets the stdlib corpus's vocabulary and the recipe's context length, as its trainer does."""
    import numpy as np

    from certnn.ir.trace import trace
    from certnn.random import manual_seed
    from certnn.zoo import ZOO, build, input_shape
    recipe = ZOO[name].recipe
    cfg = {**recipe.model, **overrides}
    if cfg["arch"] == "gpt":
        cfg.update(vocab_size=_vocab_size(), block_size=recipe.data["block_size"])
        x = np.zeros((1, cfg["block_size"]), np.int64)
    else:
        x = np.zeros((1, *input_shape(cfg)), np.float32)
    manual_seed(0)
    graph, _ = trace(build(cfg).eval(), x)
    return graph


def measure(browser, g, op: str, repeat: int, folder: Path) -> dict:
    from certnn.widgets.graph import graph_view
    t0 = time.perf_counter()
    path = graph_view(g).save(folder / "g.html")
    build = time.perf_counter() - t0
    mount, load, search, found = [], [], [], 0
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=60000)
        load.append(1000 * (time.perf_counter() - t0))
        mount.append(page.evaluate("window.certnnTimings.mount_ms"))
        ms, found = page.evaluate(SEARCH, op)
        search.append(ms)
        page.close()
    return {"nodes": len(g.nodes), "build_s": round(build, 3), "render_ms": round(min(mount), 1),
            "load_ms": round(min(load), 1), "search_select_ms": round(min(search), 1), "matches": found, "op": op,
            "html_bytes": path.stat().st_size}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blocks", type=int, nargs="+", default=[10, 40, 100, 200])
    ap.add_argument("--gpt-layers", type=int, nargs="*", default=[50, 100],
                    help="n_layer of the deeper zoo GPTs (the chargpt config otherwise)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.widgets._run import transformer
    chromium = os.environ.get("CERTNN_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        sys.exit("chromium not found (apt-get install chromium, or set CERTNN_CHROMIUM)")
    from certnn.zoo import ZOO
    gpt = ZOO["chargpt"].recipe.model
    cases = [("zoo resnet", lambda: zoo_graph("resnet"), "conv2d", ZOO["resnet"].recipe.model),
             ("zoo chargpt", lambda: zoo_graph("chargpt"), "matmul", gpt)]
    cases += [(f"zoo chargpt, n_layer {n}", lambda n=n: zoo_graph("chargpt", n_layer=n), "matmul",
               gpt | {"n_layer": n}) for n in args.gpt_layers]
    cases += [(f"transformer x{b} (synthetic)", lambda b=b: transformer(b), "matmul", {"blocks": b, "d": 4})
              for b in args.blocks]
    from certnn.io import benchmarks_root
    onnx = benchmarks_root() / "vnncomp2022" / "sri_resnet_a" / "onnx"
    resnets = sorted(onnx.glob("*.onnx")) if onnx.exists() else []
    if resnets:
        from certnn.interop.models import load_model
        cases.append((f"sri_resnet_a ({resnets[0].name})", lambda: load_model(resnets[0]), "conv2d",
                      {"onnx": str(resnets[0].relative_to(benchmarks_root()))}))
    rows = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as d:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for name, make, op, config in cases:
            rows.append({"model": name, "config": config} | measure(browser, make(), op, args.repeat, Path(d)))
            print(f"{name}: {rows[-1]['nodes']} nodes", file=sys.stderr)
        browser.close()
    peer = min(rows, key=lambda r: r["nodes"])["render_ms"]
    print(f"{'model':34s} {'nodes':>6s} {'build s':>8s} {'render ms':>10s} {'x smallest':>10s} {'load ms':>8s} "
          f"{'search+select ms':>17s}")
    for r in rows:
        r["render_vs_smallest"] = round(r["render_ms"] / peer, 2)
        print(f"{r['model']:34s} {r['nodes']:6d} {r['build_s']:8.2f} {r['render_ms']:10.0f} "
              f"{r['render_vs_smallest']:10.2f} {r['load_ms']:8.0f} {r['search_select_ms']:17.0f}")
    out = ROOT / "benchmarks" / "results" / "widgets_graph.json"
    out.write_text(json.dumps({"peer": "render time of the smallest graph", "target": "under 2 s (issue #18)",
                               "repeat": args.repeat, "load_average": os.getloadavg()[0], "rows": rows}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
