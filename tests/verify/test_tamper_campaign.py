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
import random
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certnn.errors import CertnnError
from certnn.verify.certificate import load_certificate
from certnn.verify.claim import digest

from ._certs import BAB, KINDS, ROBUST, check, edit_array, edit_json, original, rehash

NESTED = {"1": 0, "2": 1, "inf": 2}


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
            target = r.choice(["json", "parts-array"] if kind == "bab-graph" else
                              ["json", "leaf-json", "leaf-array"] if kind in BAB else ["json", "array"])
            if target == "json":
                done.append(edit_json(folder / "cert.json", r))
            elif target == "parts-array":
                done.append(edit_array(folder / "cert.json", r, folder / "cert.case0.parts.npz"))
            elif target == "leaf-json":
                done.append(edit_json(leaves, r))
                rehash(leaves)
            else:
                done.append(edit_array(leaves if kind in BAB else folder / "cert.json", r))
        what = f"{kind}, seed {seed}: {'; '.join(done)}"
        try:
            report = check(kind, folder, g)
        except CertnnError:            # a clear error naming the file (any other exception fails)
            return "refused"
        if not report["ok"]:
            assert report.get("claim") is None, what
            return "rejected"
        assert_no_stronger(kind, report, folder, what)
        return "accepted"


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
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
