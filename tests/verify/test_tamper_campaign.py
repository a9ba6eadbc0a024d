"""The tamper campaign: random edits to any JSON field and any array of certificates
of every kind (CROWN, alpha-CROWN, binary32, L2, tanh, sigmoid, BaB input split,
BaB ReLU split), array hashes recomputed after every edit so that the integrity
check cannot be what saves the day. Each edited certificate must be refused
(a CertnnError, or a rejection) or its checker report must state a claim no
stronger than the original's:

* the same model (graph hash) and the same or fewer examples;
* the same or a smaller region: a box ``lo..hi`` inside the original's (for a
  ball, the checked clipped ``center -+ eps``: a clip bound that clips nothing
  may change without changing the set) and, for a ball, the same center
  (digest), the same or a smaller unit ball (L1 inside L2 inside L-inf) and a
  radius no larger; for BaB, every case's box inside the original's;
* the same labels (robustness), or no labels at all: a spec reported as
  "linear" claims only its rows, named by the digest of the C, d, groups the
  checker read (it says nothing about classes); for BaB, the same unsafe sets;
* the semantics the report names is the one the file names (the field selects
  the checker's arithmetic: a binary32 claim is re-derived with the binary32
  error budget subtracted, so whatever semantics an accepted report names was
  re-derived; tests/verify/test_claims.py shows a relabelled claim rejected).
"""

import json
import math
import random
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certnn import run
from certnn.errors import CertnnError
from certnn.ir.serialize import array_digest
from certnn.spec import LinearSpec, Region
from certnn.verify.certificate import load_certificate, make_certificate, save_certificate
from certnn.verify.checker import check_certificate
from certnn.verify.claim import digest

from ._models import mlp_graph, robust_setup

ROBUST = {  # kind: (activation, norm, eps, method, semantics)
    "crown": ("relu", "inf", 0.02, "crown", "real"),
    "alpha-crown": ("relu", "inf", 0.03, "alpha-crown", "real"),
    "binary32": ("relu", "inf", 0.02, "crown", "binary32"),
    "l2": ("relu", "2", 0.05, "crown", "real"),
    "tanh": ("tanh", "inf", 0.02, "alpha-crown", "real"),
    "sigmoid": ("sigmoid", "inf", 0.02, "crown", "binary32-any-order"),
}
BAB = {"bab-input": ("input", 1, (2, 8, 8, 2), 0.002), "bab-relu": ("relu", 6, (3, 10, 10, 2), 0.02)}
KINDS = sorted(ROBUST) + sorted(BAB)
NESTED = {"1": 0, "2": 1, "inf": 2}


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


def _check(kind, folder, g) -> dict:
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
        report = _check(kind, folder, g)
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


def edit_array(json_path: Path, r: random.Random) -> str:
    npz = json_path.with_suffix(".npz")
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
    rehash(json_path)
    return f"{npz.name}:{name}"


def rehash(json_path: Path) -> None:
    """Recompute every manifest hash from the arrays on disk (what a tamperer does)."""
    doc = json.loads(json_path.read_text())
    with np.load(json_path.with_suffix(".npz")) as z:
        arrays = {k: z[k] for k in z.files}
    for name, meta in (doc.get("arrays") or {}).items() if isinstance(doc.get("arrays"), dict) else ():
        if name in arrays and isinstance(meta, dict):
            meta["sha256"] = array_digest(arrays[name])
    json_path.write_text(json.dumps(doc))


# ------------------------------------------------------------------------------ the claim order

def assert_no_stronger(kind, new: dict, folder: Path, what: str):
    files, g, orig, cert = original(kind)
    if kind in BAB:
        assert new["semantics"] == "real" and len(new["property"]["cases"]) == len(orig["property"]["cases"]), what
        for a, b in zip(new["property"]["cases"], orig["property"]["cases"]):
            assert a["unsafe"] == b["unsafe"], f"{what}: accepted another unsafe set"
            assert np.all(np.asarray(a["lo"]) >= b["lo"]) and np.all(np.asarray(a["hi"]) <= b["hi"]), \
                f"{what}: accepted a larger box"
        return
    assert new["graph_hash"] == orig["graph_hash"], what
    ex = np.flatnonzero(new["per_example"])
    assert set(ex) <= set(np.flatnonzero(orig["per_example"])), f"{what}: claims more examples"
    assert new["semantics"] == json.loads((folder / "cert.json").read_text())["semantics"], what
    r, o = new["region"], orig["region"]
    # the region is the box lo..hi (the clipped center -+ eps, checked), intersected with the ball
    mut = load_certificate(folder / "cert.json")
    assert np.all(mut.region.lo[ex] >= cert.region.lo[ex]) and np.all(mut.region.hi[ex] <= cert.region.hi[ex]), \
        f"{what}: accepted a larger box"
    if r["kind"] == "ball":
        # same center; the unit balls nest: L1 inside L2 inside L-inf
        assert NESTED[r["norm"]] <= NESTED[o["norm"]] and r["center_sha256"] == o["center_sha256"], \
            f"{what}: another ball"
        assert r["eps"] <= o["eps"], f"{what}: accepted a larger radius"
    else:   # a box: the original's region must be the box (L-inf)
        assert r["lo_sha256"] == digest(mut.region.lo) and r["hi_sha256"] == digest(mut.region.hi), what
        assert o["norm"] == "inf", f"{what}: a box claimed for an L{o['norm']} ball's certificate"
    s, os_ = new["spec"], orig["spec"]
    if s["kind"] == "robustness":
        assert [s["labels"][i] for i in ex] == [os_["labels"][i] for i in ex], f"{what}: other labels"
    else:   # no labels claimed; the rows it names are the rows it checked
        assert "labels" not in s and s["sha256"] == digest(mut.spec.C, mut.spec.d, mut.spec.groups), what
        assert "classified" not in new["claim"], f"{what}: a linear spec worded as robustness"


def tamper_and_check(kind, seed, edits):
    files, g, _, _ = original(kind)
    r = random.Random(seed)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        leaves = folder / "cert.case0.leaves.json"
        done = []
        for _ in range(edits):
            target = r.choice(["json", "leaf-json", "leaf-array"] if kind in BAB else ["json", "array"])
            if target == "json":
                done.append(edit_json(folder / "cert.json", r))
            elif target == "leaf-json":
                done.append(edit_json(leaves, r))
                rehash(leaves)
            else:
                done.append(edit_array(leaves if kind in BAB else folder / "cert.json", r))
        what = f"{kind}, seed {seed}: {'; '.join(done)}"
        try:
            report = _check(kind, folder, g)
        except CertnnError:            # a clear error naming the file (any other exception fails)
            return "refused"
        if not report["ok"]:
            assert report.get("claim") is None, what
            return "rejected"
        assert_no_stronger(kind, report, folder, what)
        return "accepted"


@settings(max_examples=160, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2 ** 32 - 1), edits=st.integers(1, 2))
def test_tampered_certificates_are_refused_or_claim_no_more(kind, seed, edits):
    tamper_and_check(kind, seed, edits)


def test_the_originals_are_accepted_and_state_their_claim():
    for kind in KINDS:
        _, _, report, _ = original(kind)
        assert report["ok"] and report["claim"], kind
        if kind in BAB:
            assert "avoids the unsafe set" in report["claim"] and report["property"]["cases"]
        else:
            assert report["spec"]["kind"] == "robustness" and report["region"]["kind"] == "ball"
            assert f"L{'∞' if ROBUST[kind][1] == 'inf' else ROBUST[kind][1]} distance" in report["claim"]
