"""Certified residual and condition bounds: never below the grid maximum or
any sampled value (every problem), re-derived by the independent checker, and
tampered certificates rejected; an ONNX model from torch with input
normalisation certified by the same function."""

import copy
import dataclasses

import numpy as np
import pytest

from certnn.ir import trace
from certnn.pinn import certificate as pc
from certnn.pinn.certify import certify
from certnn.pinn.checker import check_pinn_certificate
from certnn.verify.partition import leaves
from certnn.pinn.problems import PROBLEMS, get_problem
from certnn.pinn.residual import Residual
from certnn.pinn.train import make_model

GRID = 40


def _graph(problem, seed=0, hidden=(6, 6)):
    model, _ = make_model(problem, hidden=hidden, seed=seed)
    return trace(model, np.zeros((1, len(problem.coords))))[0]


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_certified_bounds_are_never_below_sampled_values(name):
    p = PROBLEMS[name]
    g = _graph(p, seed=len(name))
    res = certify(g, p, budget=1.5, grid=GRID, batch=256, progress=False).summary
    assert res["residual_bound"] >= res["grid_max"] > 0
    for c in p.conditions:
        assert res["conditions"][c.name]["bound"] >= res["conditions"][c.name]["grid_max"]
    r = Residual(g, p)
    rng = np.random.default_rng(0)
    lo, hi = np.array(p.lo), np.array(p.hi)
    pts = lo + (hi - lo) * rng.uniform(size=(3000, len(lo)))
    assert np.abs(r.values(pts)).max() <= res["residual_bound"]
    if "error" in res:                 # the maximum-principle bound covers the measured error
        assert res["error"]["bound"] >= res["error"]["measured"]


def test_box_bounds_hold_inside_each_box():
    p = get_problem("burgers")
    r = Residual(_graph(p, seed=5, hidden=(5, 5, 5)), p)
    rng = np.random.default_rng(1)
    lo = rng.uniform([0, -1], [0.9, 0.9], size=(64, 2))
    hi = lo + rng.uniform(0.001, 0.1, size=(64, 2))
    bound, scores = r.bounds(lo, hi)
    pts = lo[:, None] + (hi - lo)[:, None] * rng.uniform(size=(64, 40, 2))
    vals = np.abs(r.values(pts.reshape(-1, 2))).reshape(64, 40)
    assert np.all(vals.max(axis=1) <= bound) and scores.shape == (64, 2)


@pytest.fixture(scope="module")
def heat_cert(tmp_path_factory):
    p = get_problem("heat")
    g = _graph(p, seed=2, hidden=(5,))
    path = tmp_path_factory.mktemp("cert") / "heat.json"
    res = certify(g, p, budget=1.5, grid=GRID, batch=128, cert_path=path, progress=False)
    return g, pc.load(path), res.summary


def test_the_checker_accepts_the_producers_certificate(heat_cert):
    g, cert, summary = heat_cert
    assert summary["evidence"] == "certified" and summary["check"]["ok"]
    chk = check_pinn_certificate(cert, g)
    assert chk.ok and chk.evidence == "certified" and "maximum-principle-heat" in chk.assumptions
    assert chk.regions["residual"]["boxes"] == summary["boxes"]


def test_replayed_leaves_cover_the_root_box():
    splits = np.array([[0, 0], [1, 1], [2, 0], [4, 1]])
    lo, hi = leaves(np.array([0.0, 0.0]), np.array([1.0, 2.0]), splits)
    assert len(lo) == 5 and np.isclose(np.prod(hi - lo, axis=1).sum(), 2.0)
    rng = np.random.default_rng(0)
    for x in rng.uniform([0, 0], [1, 2], size=(200, 2)):
        assert np.any(np.all((lo <= x) & (x <= hi), axis=1))


def _tamper(cert, fn):
    c = copy.deepcopy(cert)
    fn(c)
    return c


def _region(c, name):
    return next(r for r in c.regions if r.name == name)


TAMPERINGS = {
    "lower leaf bound": lambda c: _region(c, "residual").bounds.__setitem__(0, 0.0),
    "lower region claim": lambda c: setattr(_region(c, "residual"), "claim", _region(c, "residual").claim / 2),
    "drop a split": lambda c: setattr(_region(c, "residual"), "splits", _region(c, "residual").splits[:-1]),
    "split a non-leaf": lambda c: _region(c, "residual").splits.__setitem__((-1, 0), 0),
    "bad coordinate": lambda c: _region(c, "residual").splits.__setitem__((0, 1), 7),
    "shrink the domain": lambda c: _region(c, "residual").lo.__setitem__(0, 0.25),
    "drop a condition": lambda c: c.regions.pop(),
    "lower the boundary claim": lambda c: [setattr(r, "claim", 0.0) or r.bounds.__setitem__(slice(None), 0.0)
                                           for r in c.regions if r.kind == "condition"],
    "lower the error claim": lambda c: c.error.__setitem__("bound", c.error["bound"] / 10),
    "another problem": lambda c: setattr(c, "problem_hash", "0" * 64),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_tampered_certificates_are_rejected(heat_cert, how):
    g, cert, _ = heat_cert
    chk = check_pinn_certificate(_tamper(cert, TAMPERINGS[how]), g)
    assert not chk.ok and chk.reasons


def test_another_model_is_rejected(heat_cert):
    g, cert, _ = heat_cert
    g2 = g.copy()
    k = next(n.id for n in g2.params)
    g2.arrays[k] = g2.arrays[k] * 1.001
    chk = check_pinn_certificate(cert, g2)
    assert not chk.ok and "graph hash" in chk.reasons[0]


def test_corrupt_files_raise_a_clear_error(heat_cert, tmp_path):
    _, cert, _ = heat_cert
    path = tmp_path / "c.json"
    pc.save(_tamper(cert, lambda c: None), path)
    npz = tmp_path / "c.npz"
    data = dict(np.load(npz))
    data["region.0.bounds"] = data["region.0.bounds"] * 0.5
    np.savez(npz, **data)
    with pytest.raises(pc.PinnCertificateError, match="digest"):
        pc.load(path)
    path.write_text("{}")
    with pytest.raises(pc.PinnCertificateError, match="certificate is malformed"):
        pc.load(path)


def test_onnx_pinn_with_input_normalisation(tmp_path):
    """A torch tanh MLP taking (x, t) with (x - mu) / sd in front, exported to
    ONNX, loads and is certified (inputs in the model's order)."""
    torch = pytest.importorskip("torch")
    from certnn.interop.models import load_model

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mu", torch.tensor([0.0, 0.5]))
            self.register_buffer("sd", torch.tensor([0.6, 0.3]))
            self.body = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

        def forward(self, x):
            return self.body((x - self.mu) / self.sd)

    torch.manual_seed(0)
    path = tmp_path / "pinn.onnx"
    torch.onnx.export(Net(), torch.zeros(1, 2), str(path), input_names=["x"], output_names=["u"],
                      dynamic_axes={"x": {0: "n"}, "u": {0: "n"}}, dynamo=False)
    g = load_model(path)
    assert {n.op for n in g.nodes} >= {"sub", "div", "linear", "tanh"}
    p = get_problem("burgers")
    res = certify(g, p, inputs="x,t", budget=1.0, grid=GRID, batch=128, cert_path=tmp_path / "c.json",
                  model_path=path, progress=False).summary
    assert res["evidence"] == "certified" and res["inputs"] == ["x", "t"]
    assert res["residual_bound"] >= res["grid_max"]
    assert check_pinn_certificate(tmp_path / "c.json").ok      # the model found from the certificate


def test_bad_input_order_is_refused():
    p = get_problem("heat")
    from certnn.errors import CertnnError
    with pytest.raises(CertnnError, match="--inputs"):
        Residual(_graph(p), p, "t,y")
    with pytest.raises(CertnnError, match="shape"):
        Residual(_graph(get_problem("burgers")), dataclasses.replace(p, coords=("t", "x", "y"),
                                                                     lo=(0, 0, 0), hi=(1, 1, 1)))
