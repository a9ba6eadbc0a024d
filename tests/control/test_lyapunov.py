"""Neural Lyapunov functions: training lowers TorchLean's loss; certification on a box
is re-derived by the independent checker; tampering and failures are caught."""

import json
import shutil

import numpy as np
import pytest

from certnn.control.lyapunov import SYSTEMS, certify, save_certificate, train
from certnn.control.lyapunov_checker import LyapunovCertificateError, check_lyapunov


@pytest.fixture(scope="module")
def trained():
    return train(SYSTEMS["vanderpol"], steps=300, batch=256, hidden_v=24, hidden_u=8, lr=1e-2, margin=0.02)


def test_training_lowers_the_loss(trained):
    assert trained.history[-1][1] < 0.2 * trained.history[0][1]


def test_certified_box_is_rechecked(trained, tmp_path):
    s = SYSTEMS["vanderpol"]
    res = certify(s, trained.V, trained.controller, lo=[0.3, -0.6], hi=[0.6, -0.3], time_limit=60)
    assert res.certified and res.stats["certified_leaves"] > 0
    path = save_certificate(res, trained.V, trained.controller, tmp_path / "c.json")
    chk = check_lyapunov(path)
    assert chk.ok and chk.evidence == "certified" and chk.accepted_leaves == chk.leaves


def _edit(path, tmp_path, change):
    for f in path.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    p = tmp_path / path.name
    doc = json.loads(p.read_text())
    with np.load(tmp_path / doc["array_file"]) as z:
        a = {k: z[k].copy() for k in z.files}
    change(a, doc, tmp_path)
    from certnn.ir.serialize import array_digest
    np.savez(tmp_path / doc["array_file"], **a)
    doc["arrays"] = {k: {"dtype": v.dtype.str, "shape": list(v.shape), "sha256": array_digest(v)} for k, v in a.items()}
    p.write_text(json.dumps(doc))
    return p


def test_failures_and_tampering(trained, tmp_path):
    s = SYSTEMS["vanderpol"]
    # near the origin with a ball too small for this quick V: not everything certifies
    res = certify(s, trained.V, trained.controller, lo=[-0.3, -0.3], hi=[0.3, 0.3], radius="0.1",
                  min_width=1e-2, time_limit=60)
    src = tmp_path / "src"
    src.mkdir()
    path = save_certificate(res, trained.V, trained.controller, src / "c.json")
    assert res.stats["ball_leaves"] > 0
    chk = check_lyapunov(path)
    assert chk.ok == res.certified
    # a leaf inside the ball relabelled as certified, or a split moved out of its box
    (tmp_path / "a").mkdir()

    def relabel(a, d, t):
        a["kind"][np.flatnonzero(a["kind"] == 2)[0]] = 1
    assert not check_lyapunov(_edit(path, tmp_path / "a", relabel)).ok
    (tmp_path / "b").mkdir()
    moved = _edit(path, tmp_path / "b", lambda a, d, t: a["split_at"].__setitem__(0, 5.0))
    with pytest.raises(LyapunovCertificateError, match="outside its box"):
        check_lyapunov(moved)
    (tmp_path / "c").mkdir()
    radius = _edit(path, tmp_path / "c", lambda a, d, t: d.update(radius="0.3"))
    assert check_lyapunov(radius).ok == res.certified          # a larger ball only weakens the claim
    (tmp_path / "d").mkdir()
    smaller = _edit(path, tmp_path / "d", lambda a, d, t: d.update(radius="0.01"))
    assert not check_lyapunov(smaller).ok                      # the ball leaves are no longer inside it


def test_an_untrained_function_has_counterexamples():
    t = train(SYSTEMS["vanderpol"], steps=1, hidden_v=8, hidden_u=4, seed=3)
    res = certify(SYSTEMS["vanderpol"], t.V, t.controller, min_width=0.05, time_limit=60)
    assert not res.certified and res.counterexamples
    x = np.array(res.counterexamples[0]["x"])
    assert np.dot(x, x) >= 0.01
