"""Certificates of every kind for the claim and tamper tests, and the edits a
tamperer makes (array hashes recomputed after every edit)."""

import json
import math
import random
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from certnn import run
from certnn.ir.serialize import array_digest
from certnn.spec import LinearSpec, Region
from certnn.verify.certificate import load_certificate, make_certificate, save_certificate
from certnn.verify.checker import check_certificate

from ._models import mlp_graph, robust_setup

ROBUST = {  # kind: (activation, norm, eps, method, semantics)
    "crown": ("relu", "inf", 0.02, "crown", "real"),
    "alpha-crown": ("relu", "inf", 0.03, "alpha-crown", "real"),
    "binary32": ("relu", "inf", 0.02, "crown", "binary32"),
    "l2": ("relu", "2", 0.05, "crown", "real"),
    "tanh": ("tanh", "inf", 0.02, "alpha-crown", "real"),
    "sigmoid": ("sigmoid", "inf", 0.02, "crown", "binary32-any-order"),
}
BAB = {"bab-input": ("input", 1, (2, 8, 8, 2), 0.002), "bab-relu": ("relu", 6, (3, 10, 10, 2), 0.02),
       "bab-graph": ("graph", 2, None, 0.5)}    # a residual conv net, per-group parts on the root's bounds
KINDS = sorted(ROBUST) + sorted(BAB)


# ------------------------------------------------------------------------------ the originals

def _robust(kind, folder):
    from certnn.bounds import compute_bounds
    act, norm, eps, method, sem = ROBUST[kind]
    g, _ = mlp_graph(seed=5, sizes=(4, 8, 8, 3), activation=act)
    region, spec = robust_setup(g, n=3, eps=eps, seed=2, norm=norm)
    kw = {"iters": 5} if method == "alpha-crown" else {}
    c = make_certificate(g, region, spec, compute_bounds(g, region, spec, method=method, semantics=sem, **kw),
                         semantics=sem)
    assert c.claimed.all(), kind
    save_certificate(c, folder / "cert.json")
    return g


def _bab(kind, folder):
    from certnn.verify.bab import verify_case
    from certnn.verify.bab_certificate import write_bab_certificate
    mode, seed, dims, margin = BAB[kind]
    if mode == "graph":
        from .test_bab_graph import _case
        g, region, spec = _case(seed, margin)
        v = verify_case(g, region, spec, 30, certifiable=True)
        assert v.status == "unsat" and any(p.split for p in v.proofs[0]), (kind, v.stats)
        write_bab_certificate(folder / "cert.json", g, [(region, spec)], v.proofs)
        return g
    g, _ = mlp_graph(100 + seed, dims)
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-1, 0, (1, dims[0]))
    hi = lo + rng.uniform(0.5, 1.0, (1, dims[0]))
    y = np.asarray(run(g, rng.uniform(lo, hi, (20000, dims[0])), semantics="real"), np.float64)
    m = (y[:, 0] - y[:, 1]).min()
    spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-(m - margin * (abs(m) + 0.1))]]), np.array([0]))
    region = Region.box(lo, hi)
    v = verify_case(g, region, spec, timeout=30, method_hint=mode, certifiable=True)
    assert v.status == "unsat", (kind, v.stats)
    write_bab_certificate(folder / "cert.json", g, [(region, spec)], v.proofs)
    return g


def check(kind, folder, g) -> dict:
    """The checker's report (to_dict) on the certificate in ``folder``."""
    if kind in BAB:
        from certnn.verify.bab_checker import check_bab_certificate
        return check_bab_certificate(folder / "cert.json", g).to_dict()
    return check_certificate(folder / "cert.json", graph=g).to_dict()


@lru_cache(maxsize=None)
def original(kind):
    """(files {name: bytes}, graph, report, loaded certificate or None) of one kind."""
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        g = (_bab if kind in BAB else _robust)(kind, folder)
        report = check(kind, folder, g)
        assert report["ok"], (kind, report)
        cert = None if kind in BAB else load_certificate(folder / "cert.json")
        return {p.name: p.read_bytes() for p in folder.iterdir()}, g, report, cert


# ------------------------------------------------------------------------------ edits

STRINGS = ["robustness", "linear", "unsafe-set", "box", "ball", "inf", "2", "1", "real", "binary32",
           "binary32-any-order", "spec", "*", "lower", "upper", "both", "relu", "input", ""]


def _paths(x, path=()):
    if path:
        yield path
    items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
    for k, v in items:
        yield from _paths(v, path + (k,))


def _new_value(v, r: random.Random):
    if isinstance(v, bool):
        return r.choice([not v, 0, None])
    if isinstance(v, (int, float)):
        return r.choice([v * r.choice([0.5, 2, 5, -1, 1 + 1e-9]), v + r.choice([1, -1, 0.01, 1000]), 0, 1,
                         1e308, math.nan, math.inf, str(v), None])
    if isinstance(v, str):
        return r.choice(STRINGS + [v + "x", None, 0])
    if v is None:
        return r.choice([0.05, "x", [], 1])
    if isinstance(v, list):
        if not v:
            return r.choice([[0], None])
        w = list(v)
        i = r.randrange(len(w))
        op = r.choice(["drop", "dup", "reverse", "empty", "swap"])
        if op == "drop":
            del w[i]
        elif op == "dup":
            w.insert(i, w[i])
        elif op == "reverse":
            w.reverse()
        elif op == "swap":
            j = r.randrange(len(w))
            w[i], w[j] = w[j], w[i]
        else:
            w = []
        return w
    w = dict(v)
    if w and r.random() < 0.7:
        del w[r.choice(sorted(w))]
        return w
    return r.choice([None, {}])


def edit_json(path: Path, r: random.Random) -> str:
    doc = json.loads(path.read_text())
    where = r.choice(list(_paths(doc)))
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    parent[where[-1]] = _new_value(parent[where[-1]], r)
    path.write_text(json.dumps(doc))
    return f"{path.name}:{'.'.join(map(str, where))}"


def edit_array(json_path: Path, r: random.Random, npz: Path | None = None) -> str:
    """Edit one element (or all) of one array of ``npz`` (default: the JSON's sibling),
    then recompute the manifest hashes."""
    parts = npz is not None
    npz = json_path.with_suffix(".npz") if npz is None else npz
    with np.load(npz) as z:
        arrays = {k: z[k].copy() for k in z.files}
    name = r.choice(sorted(arrays))
    a = arrays[name]
    flat = a.reshape(-1)
    if flat.size:
        j, k = r.randrange(flat.size), r.randrange(flat.size)
        op = r.choice(["scale", "shift", "copy", "fill", "ulp", "swap"])
        if a.dtype.kind != "f":
            flat[j] = r.choice([flat[j] + 1, flat[j] - 1, 0, -flat[j], flat[k]])
        elif op == "scale":
            flat[j] *= r.choice([0.0, -1.0, 0.5, 2.0, 5.0, 1 + 1e-9])
        elif op == "shift":
            flat[j] += r.choice([1e-9, -1e-9, 1e-3, -1e-3, 0.5, -0.5, 1000.0])
        elif op == "copy":
            flat[j] = flat[k]
        elif op == "fill":
            flat[:] = flat[j]
        elif op == "ulp":
            flat[j] = np.nextafter(flat[j], r.choice([np.inf, -np.inf]))
        else:
            flat[j], flat[k] = flat[k], flat[j]
    np.savez(npz, **arrays)
    (rehash_parts if parts else rehash)(json_path)
    return f"{npz.name}:{name}"


def rehash_parts(json_path: Path) -> None:
    """Recompute the manifests of a BaB certificate's per-case array files."""
    doc = json.loads(json_path.read_text())
    for case in doc.get("cases") or []:
        if not (isinstance(case, dict) and isinstance(case.get("manifest"), dict)
                and isinstance(case.get("arrays"), str)):
            continue
        npz = json_path.parent / case["arrays"]
        if not npz.is_file():
            continue
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
        for name, meta in case["manifest"].items():
            if name in arrays and isinstance(meta, dict):
                meta.update(sha256=array_digest(arrays[name]), dtype=arrays[name].dtype.str,
                            shape=list(arrays[name].shape))
    json_path.write_text(json.dumps(doc))


def rehash(json_path: Path) -> None:
    """Recompute every manifest entry (hash, dtype, shape) from the arrays on disk (what a tamperer does)."""
    doc = json.loads(json_path.read_text())
    with np.load(json_path.with_suffix(".npz")) as z:
        arrays = {k: z[k] for k in z.files}
    for name, meta in (doc.get("arrays") or {}).items() if isinstance(doc.get("arrays"), dict) else ():
        if name in arrays and isinstance(meta, dict):
            meta.update(sha256=array_digest(arrays[name]), dtype=arrays[name].dtype.str,
                        shape=list(arrays[name].shape))
    json_path.write_text(json.dumps(doc))
