"""Certified universal approximation: constructions, certificates, checker."""

import copy
import math

import numpy as np
import pytest
import sympy

from certnn.approx import certificate as ac
from certnn.approx.certify import approximate, certify_network, ibp_check
from certnn.approx.checker import check_approx_certificate
from certnn.approx.constructions import baader, explicit_width, interpolation
from certnn.approx.error import sup_error
from certnn.approx.target import Target
from certnn.errors import CertnnError
from certnn.ir import trace

SIN = Target.parse("sin(x)", "[0, 2*pi]")


def _graph(c, d):
    return trace(c.model, np.zeros((1, d)))[0]


def test_parser_accepts_math_and_refuses_python():
    t = Target.parse("sin(x)*cos(y) + exp(-x**2)/2", "[0,3.14]x[0,3.14]")
    assert t.dim == 2 and t.expr.has(sympy.exp)
    for bad in ["__import__('os')", "x.real", "lambda: 1", "open(x)", "x; y"]:
        with pytest.raises(CertnnError):
            Target.parse(bad, "[0,1]")
    with pytest.raises(CertnnError, match="box"):
        Target.parse("x", "[1,0]")
    with pytest.raises(CertnnError, match="dimension"):
        Target.parse("x*y", "[0,1]")


def test_sound_lipschitz_and_range():
    assert 1.0 <= SIN.lipschitz() <= 1.0 + 1e-9
    lo, hi = SIN.range()
    assert lo <= -1.0 and hi >= 1.0 and hi - lo < 2.01


def test_explicit_width_is_torchleans_and_within_eps():
    c = explicit_width(SIN, 0.01)
    assert c.neurons == c.info["width"] == math.ceil(2 * 1.0 * 2 * math.pi / 0.01) + 1 == 1258
    x = np.linspace(0, 2 * math.pi, 20001)[:, None]
    from certnn.ir import evaluate
    y = evaluate(_graph(c, 1), {"x": x})[0][0].reshape(-1)
    assert np.abs(y - np.sin(x[:, 0])).max() <= 0.01


def test_interpolation_certifies_sin_with_a_tenth_of_the_neurons(tmp_path):
    res = approximate(SIN, 0.01, "interpolation", budget=60, out=tmp_path / "n")
    assert res["neurons"] <= 1258 // 10 and res["evidence"] == "certified"
    assert res["measured_error"] <= res["certified_error"] <= 0.01
    assert check_approx_certificate(tmp_path / "n" / "certificate.json").ok


def test_box_bounds_hold_inside_each_box():
    t = Target.parse("sin(x)*cos(y)", "[0,3.14]x[0,3.14]")
    c = interpolation(t, 0.2)
    g = _graph(c, 2)
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 3, size=(50, 2))
    hi = lo + rng.uniform(0.01, 0.14, size=(50, 2))
    b, _ = sup_error(g, t, lo, hi)
    pts = lo[:, None] + (hi - lo)[:, None] * rng.uniform(size=(50, 200, 2))
    from certnn.ir import evaluate
    y = evaluate(g, {"x": pts.reshape(-1, 2)})[0][0].reshape(50, 200)
    err = np.abs(y - np.sin(pts[..., 0]) * np.cos(pts[..., 1]))
    assert np.all(err.max(axis=1) <= b)


def test_baader_network_interval_property_and_certificate():
    t = Target.parse("x*y", "[0,1]x[0,1]")
    c = baader(t, 0.5)
    g = _graph(c, 2)
    chk = ibp_check(g, t, 0.5, boxes=20)
    assert chk["passed"] == chk["boxes"]
    res = certify_network(g, t, 0.5, budget=10)
    assert res["within_delta"] and res["certified_error"] >= res["measured_error"]


@pytest.fixture(scope="module")
def small_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("approx")
    res = approximate(Target.parse("exp(x)", "[0,1]"), 0.02, "interpolation", budget=30, out=d / "n")
    from certnn.interop.models import load_model
    return load_model(d / "n"), ac.load(d / "n" / "certificate.json"), res


def _bad(cert, fn):
    c = copy.deepcopy(cert)
    fn(c)
    return c


TAMPER = {
    "lower a leaf": lambda c: c.bounds.__setitem__(0, 0.0),
    "claim above delta": lambda c: setattr(c, "claim", c.delta * 2),
    "drop a split": lambda c: setattr(c, "splits", c.splits[:-1]),
    "move the box": lambda c: c.hi.__setitem__(0, 2.0),
    "another function": lambda c: setattr(c, "expression", "exp(x) + 0.1"),
}


@pytest.mark.parametrize("how", sorted(TAMPER))
def test_tampered_approximation_certificates_are_rejected(small_cert, how):
    g, cert, res = small_cert
    assert res["evidence"] == "certified" and check_approx_certificate(cert, g).ok
    assert not check_approx_certificate(_bad(cert, TAMPER[how]), g).ok


def test_network_is_loadable_and_exports_to_onnx(small_cert, tmp_path):
    g, _, _ = small_cert
    ort = pytest.importorskip("onnxruntime")
    from certnn.interop.onnx_export import save_onnx
    save_onnx(g, tmp_path / "n.onnx")
    sess = ort.InferenceSession(str(tmp_path / "n.onnx"))
    x = np.linspace(0, 1, 7)[:, None].astype(g.inputs[0].dtype)
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert np.abs(y.reshape(-1) - np.exp(x[:, 0])).max() <= 0.02
