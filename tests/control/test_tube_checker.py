"""The independent tube checker: a produced tube is accepted; every kind of tampering
(the arrays changed *and* their manifest recomputed) is rejected by re-derivation."""

import json
import shutil

import numpy as np
import pytest

from certnn.control.problem import load_problem
from certnn.control.reach import decide
from certnn.control.tube import TubeError, save_tube
from certnn.control.tube_checker import check_tube
from certnn.ir.serialize import array_digest

from ._problems import short_pendulum, toy


@pytest.fixture(scope="module")
def tubes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tubes")
    out = {}
    for name, folder in (("pendulum", short_pendulum(tmp)), ("toy", toy(tmp, steps=6, unsafe_b=-0.7))):
        p = load_problem(folder)
        r = decide(p, p.scenarios[0].name)
        assert r.verdict == "verified"
        out[name] = save_tube(r.tube, tmp / f"{name}.json"), r.seconds, p
    return out


def _tamper(src, tmp_path, change):
    """Copy a tube, apply ``change(arrays, doc)`` and rewrite the manifest consistently."""
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".npz"), dst.with_suffix(".npz"))
    doc = json.loads(dst.read_text())
    with np.load(dst.with_suffix(".npz")) as z:
        arrays = {k: z[k].copy() for k in z.files}
    change(arrays, doc)
    np.savez(dst.with_suffix(".npz"), **arrays)
    doc["arrays"] = {k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)}
                     for k, a in arrays.items()}
    dst.write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize("name", ["pendulum", "toy"])
def test_produced_tubes_are_accepted_faster_than_produced(tubes, name):
    path, producer_seconds, _ = tubes[name]
    res = check_tube(path)                       # the problem folder named in the tube
    assert res.ok, res.reasons
    assert res.evidence == "certified" and res.margin > 0 and "arb-ball-arithmetic" in res.assumptions
    assert res.seconds < 3 * producer_seconds + 1


def _shrink_step(a, doc):
    k = a["state.q"].size // 2                 # a middle step: its new noise symbols shrink
    q0, q1 = a["state.q"][k - 1], a["state.q"][k]
    a["state.e"][k, :, :, q0:q1] *= 0.5


def _move_set(a, doc):
    k = a["state.q"].size // 2
    a["state.c"][k:, :, 0, 0] += 1e-3           # move a state set (and the rest after it)


def _narrow_claim(a, doc):
    a["claim.r_hi"][1] -= 0.5 * (a["claim.r_hi"][1] - a["claim.r_lo"][1])


def _small_box(a, doc):
    a["claim.hi"][2] = a["claim.lo"][2] + 0.25 * (a["claim.hi"][2] - a["claim.lo"][2])


def _drop_piece(a, doc):
    a["piece.hi"][0, np.argmax(a["piece.hi"][0] - a["piece.lo"][0])] -= 1e-3


def _apriori(a, doc):
    if a["apriori.lo"].shape[1]:
        mid = (a["apriori.lo"] + a["apriori.hi"]) / 2
        a["apriori.lo"], a["apriori.hi"] = mid - 1e-9, mid + 1e-9
    else:                                       # discrete plant: shrink the last set instead
        a["state.lo"][-1] = a["state.hi"][-1] = 0.0
        a["state.e"][-1] *= 0.9


def _anchor(a, doc):
    k = next(key for key in a if key.startswith("anchor.") and key.endswith(".hi"))
    a[k][:] = a[k.replace(".hi", ".lo")]        # a CROWN anchor squeezed to a point


@pytest.mark.parametrize("change, word", [(_shrink_step, "contain"), (_move_set, "contain"),
                                          (_narrow_claim, "controller claim"), (_small_box, "claim's box"),
                                          (_drop_piece, "pieces"), (_apriori, ""), (_anchor, "controller claim")])
@pytest.mark.parametrize("name", ["pendulum", "toy"])
def test_tampering_is_rejected(tubes, tmp_path, name, change, word):
    path, _, problem = tubes[name]
    res = check_tube(_tamper(path, tmp_path, change), problem)
    assert not res.ok and res.evidence is None
    assert any(word in r for r in res.reasons), res.reasons


def test_another_problem_or_broken_files(tubes, tmp_path):
    path, _, problem = tubes["toy"]
    bad = _tamper(path, tmp_path, lambda a, d: d["problem"].update(digest="0" * 64))
    assert any("another problem" in r for r in check_tube(bad, problem).reasons)
    (tmp_path / "x.json").write_text(path.read_text())
    shutil.copy(path.with_suffix(".npz"), tmp_path / "x.npz")
    with np.load(tmp_path / "x.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["margin"] = arrays["margin"] + 1.0              # manifest not updated: an accident
    np.savez(tmp_path / "x.npz", **arrays)
    doc = json.loads((tmp_path / "x.json").read_text())
    doc["array_file"] = "x.npz"
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(TubeError, match="SHA-256"):
        check_tube(tmp_path / "x.json", problem)
    with pytest.raises(TubeError, match="field 'version'"):
        (tmp_path / "y.json").write_text(json.dumps({**doc, "version": 7}))
        check_tube(tmp_path / "y.json", problem)
