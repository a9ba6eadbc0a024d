"""Box-partition certificate views (PINN residual, approximation): the checker is
re-run while the page is built, a tampered certificate is shown as no claim, the
certified-bound map is never below the sampled map, and both views render in
headless Chromium."""

import json
import shutil

import numpy as np
import pytest

from certnn import nn
from certnn.approx.certify import certify_network
from certnn.approx.target import Target
from certnn.ir import trace
from certnn.ir.serialize import save
from certnn.pinn.certify import certify
from certnn.pinn.problems import get_problem
from certnn.pinn.train import make_model
from certnn.random import manual_seed
from certnn.widgets.page import page
from certnn.widgets.partition import bound_raster
from certnn.widgets.report import views_of


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A heat-equation PINN certificate (2-D) and an approximation certificate of sin on [0, 3] (1-D)."""
    d = tmp_path_factory.mktemp("partition")
    p = get_problem("heat")
    model, _ = make_model(p, hidden=(5,), seed=2)
    g = trace(model, np.zeros((1, 2)))[0]
    gp, _ = save(g, d / "heat-net.json")
    pinn = certify(g, p, budget=1.5, grid=40, batch=128, cert_path=d / "heat.cert.json", model_path=gp,
                   progress=False)
    assert pinn.summary["evidence"] == "certified"
    manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 6), nn.Tanh(), nn.Linear(6, 1)).to(np.float64)
    ga = trace(net, np.zeros((1, 1)))[0]
    ap, _ = save(ga, d / "sin-net.json")
    res = certify_network(ga, Target.parse("sin(x)", "[0, 3]"), 10.0, budget=1.0, cert_path=d / "sin.cert.json",
                          model_path=ap)
    assert res["evidence"] == "certified"
    return d


def _tampered(src, dst_dir, edit):
    dst_dir.mkdir()
    for f in src.parent.glob(src.stem.split(".")[0] + "*"):
        shutil.copy(f, dst_dir / f.name)
    doc = json.loads(src.read_text())
    edit(doc)
    (dst_dir / src.name).write_text(json.dumps(doc))
    return dst_dir / src.name


def test_a_tampered_partition_certificate_is_shown_as_no_claim(certs, tmp_path):
    (good,) = views_of(certs / "heat.cert.json")
    assert [e.level for e in good.evidence] == ["certified", "tested"] and "Proved (checker)" in good.body
    bound, sampled = (np.array(good.data[k], float) for k in ("bound", "sampled"))
    assert bound.shape == sampled.shape == (64, 64) and np.all(bound >= sampled)   # the bound map bounds the samples
    for f in good.data["faces"]:          # and each face's steps bound |u - g| sampled on the face
        x, x0, x1 = (np.asarray(f[k])[:, None] if k == "x" else np.asarray(f[k]) for k in ("x", "x0", "x1"))
        covering = np.where((x0 <= x) & (x <= x1), np.asarray(f["bounds"]), -np.inf).max(axis=1)
        assert np.all(covering >= np.asarray(f["err"])), f["name"]
    cases = {"pinn": (certs / "heat.cert.json",                  # a residual claim below its leaves' bounds
                      lambda d: d["regions"][0].__setitem__("claim", d["regions"][0]["claim"] / 2)),
             "approx": (certs / "sin.cert.json", lambda d: d.__setitem__("claim", d["claim"] / 1e3))}
    for name, (src, edit) in cases.items():
        (v,) = views_of(_tampered(src, tmp_path / name, edit))
        assert [e.level for e in v.evidence] == ["none", "tested"], name
        assert 'data-ok="false"' in v.body and "No claim" in v.body and "Proved" not in v.body, name
        assert v.data["ok"] is False and "REJECTED" in v.body, name


def test_the_bound_raster_takes_the_largest_leaf_meeting_each_pixel():
    lo, hi = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]), np.array([[0.5, 1.0], [1.0, 0.5], [1.0, 1.0]])
    r = bound_raster(lo, hi, np.array([1.0, 2.0, 3.0]), [0, 0], [1, 1], n=4)
    # row 0 is the top (second coordinate high); the pixels on the shared edges meet both sides
    assert r.tolist() == [[1, 3, 3, 3], [1, 3, 3, 3], [1, 3, 3, 3], [1, 2, 2, 2]]


def test_partition_views_in_the_browser(certs, open_page, tmp_path, shots_dir):
    views = views_of(certs / "heat.cert.json") + views_of(certs / "sin.cert.json", {"anchor": "approx"})
    path = tmp_path / "partition.html"
    path.write_text(page("partition certificates", views))
    loaded = open_page(path)
    pinn, approx = loaded.page.locator("#pinn"), loaded.page.locator("#approx")
    assert pinn.locator(".verdict").get_attribute("data-ok") == "true"
    assert pinn.locator(".leaf-outlines rect.leaf").count() == views[0].data["leaves"]
    assert pinn.locator(".partition-bound .hm-cell").count() == pinn.locator(".partition-sampled .hm-cell").count() \
        == 64 * 64
    assert pinn.locator(".partition-faces .partition-1d").count() == len(views[0].data["faces"]) == 3
    assert approx.locator(".partition-1d").count() == 1 and approx.locator(".verdict.ok").count() == 1
    assert loaded.page.locator(".render-error").count() == 0 and loaded.errors == []
    for sid in ("pinn", "approx"):
        loaded.page.locator(f"#{sid}").screenshot(path=str(shots_dir / f"{sid}-certificate.png"))
