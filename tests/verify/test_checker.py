"""The independent checker: golden toy claims, tampering, other graphs/regions, sound
lower bounds under random mutations, binary32 semantics, producer integration, CLI."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certnn.spec.region import Region
from certnn.bounds.result import Bounds
from certnn.spec.linear import LinearSpec
from certnn.ir.passes import unfuse
from certnn.ir.serialize import array_digest
from certnn.ops import get_op
from certnn.verify import checker as checker_mod
from certnn.verify.certificate import CertificateError, load_certificate, make_certificate, save_certificate
from certnn.verify.checker import _conv_t, check_certificate

from ._models import (conv_bn_graph, conv_gap_graph, conv_maxpool_graph, conv_resize_graph, mlp_graph, outputs, robust_setup, sample_region, toy_graph, toy_region,
                      toy_spec)

TOY_Z = (np.array([[-2.0, -3.0]]), np.array([[4.0, 6.0]]))   # z = W1 x over the box, exact


def toy_cert(d, sign=1.0, alphas=None, anchors=None):
    """A certificate built by hand (no producer): exact anchors, given slopes."""
    g = toy_graph()
    b = Bounds(np.ones((1, 1)), None, "hand", unfuse(g), {"v2/pre0": anchors or TOY_Z}, alphas or {})
    return make_certificate(g, toy_region(), toy_spec(d, sign), b), g


# ---------------------------------------------------------------- golden toy

def test_toy_crown_lower_bound_is_minus_three():
    ok, g = toy_cert(3.0001)
    r = check_certificate(ok, graph=g)
    assert r.accepted.tolist() == [True] and r.ok and r.evidence == ["certified"]
    assert abs(r.lower[0, 0] - 1e-4) < 1e-9                   # y >= -3 exactly, up to rounding
    assert set(r.assumptions) >= {"ieee754-binary64-rn", "blas-float64-dot-gamma-n"}
    bad, _ = toy_cert(2.999)
    r = check_certificate(bad, graph=g)
    assert r.accepted.tolist() == [False] and not r.ok and "spec" in r.reasons[0]


def test_toy_slopes_decide_the_upper_bound():
    """-y >= -2 needs the slope 1/3 on z2 (alpha-CROWN); the default slope gives -3."""
    alphas = {("spec", "v2"): np.array([[[1.0, 1.0 / 3.0]]])}
    good, g = toy_cert(2.0001, sign=-1.0, alphas=alphas)
    assert check_certificate(good, graph=g).ok
    default, _ = toy_cert(2.0001, sign=-1.0)
    r = check_certificate(default, graph=g)
    assert not r.ok and r.lower[0, 0] < -0.9
    outside, _ = toy_cert(3.5, sign=-1.0, alphas={("spec", "v2"): np.array([[[1.0, 1.5]]])})
    r = check_certificate(outside, graph=g)
    assert not r.ok and "outside [0, 1]" in r.reasons[0]


def test_anchors_too_tight_are_rejected_naming_the_node():
    c, g = toy_cert(3.0001, anchors=(np.array([[-1.9, -3.0]]), np.array([[4.0, 6.0]])))
    r = check_certificate(c, graph=g)
    assert not r.ok and "anchor v2/pre0" in r.reasons[0] and "element 0" in r.reasons[0]
    loose, _ = toy_cert(3.0001, anchors=(np.array([[-2.5, -3.5]]), np.array([[4.0, 9.0]])))  # same default slopes
    assert check_certificate(loose, graph=g).ok              # looser claims are still true


def test_other_graph_region_or_spec_is_rejected():
    c, g = toy_cert(3.0001)
    g2 = toy_graph()
    g2.arrays["2.weight"] = np.array([[1, -0.5]], np.float32)
    r = check_certificate(c, graph=g2)
    assert not r.ok and "another graph" in r.reasons[0]
    other = Region.box([[-1.0, -2.0]], [[2.5, 1.0]])
    r = check_certificate(c, graph=g, expected_region=other)
    assert not r.ok and "another region" in r.reasons[0]
    r = check_certificate(c, graph=g, expected_spec=toy_spec(3.5))
    assert not r.ok and "another spec" in r.reasons[0]
    assert check_certificate(c, graph=g, expected_region=toy_region(), expected_spec=toy_spec(3.0001)).ok


def test_unsupported_ops_are_rejected_never_accepted():
    g, _ = mlp_graph(activation="gelu")
    region, spec = robust_setup(g, n=2, eps=1e-6)
    b = Bounds(np.ones((2, 2)), None, "hand", unfuse(g), {}, {})
    r = check_certificate(make_certificate(g, region, spec, b), graph=g)
    assert not r.accepted.any() and "unsupported op gelu" in r.reasons[0]


# ---------------------------------------------------------------- hand-made anchors on an MLP

def ibp_anchors(g, region):
    """IBP with the op table's sound interval rules, for every relu input."""
    gu = unfuse(g)
    box = {}
    for n in gu.nodes:
        if n.op == "input":
            box[n.id] = (region.lo, region.hi)
        elif n.is_source:
            a = np.asarray(gu.arrays[n.id], np.float64)
            box[n.id] = (a, a)
        else:
            ins = [box[i] for i in n.inputs]
            box[n.id] = get_op(n.op).interval([a for a, _ in ins], [b for _, b in ins], **n.attrs)
    relu_in = [n.inputs[0] for n in gu.nodes if n.op == "relu"]
    return {k: box[k] for k in relu_in}, box[gu.outputs[0]]


def test_hand_built_mlp_certificate_with_interval_anchors():
    g, _ = mlp_graph(seed=3)
    region = Region.ball(np.random.default_rng(1).uniform(0, 1, (4, 6)), 0.02, "inf")
    anchors, (ylo, yhi) = ibp_anchors(g, region)
    spec = LinearSpec.output_box(ylo - 1e-6, yhi + 1e-6)      # true: IBP is sound
    b = Bounds(np.zeros(spec.d.shape), None, "ibp", unfuse(g), anchors, {})
    c = make_certificate(g, region, spec, b)
    c.claimed[:] = True
    r = check_certificate(c, graph=g)
    assert r.ok and r.accepted.all()
    # the checker's CROWN is at least as tight as IBP on the output box rows (up to rounding)
    assert np.all(r.lower >= 1e-6 - 1e-9)


# ---------------------------------------------------------------- mutations

def _mutate_file(path, key, idx, how, amount):
    npz = path.with_suffix(".npz")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    a = arrays[key].astype(np.float64) if arrays[key].dtype.kind == "f" else arrays[key].copy()
    flat = a.reshape(-1)
    j = idx % flat.size
    if how == "scale":
        flat[j] *= amount
    elif how == "shift":
        flat[j] += amount
    elif how == "set":
        flat[j] = amount if a.dtype.kind == "f" else int(amount)
    else:
        flat[j] = np.nextafter(flat[j], np.inf if amount > 0 else -np.inf)
    arrays[key] = a
    np.savez(npz, **arrays)
    doc = json.loads(path.read_text())
    doc["arrays"][key] = {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)}
    path.write_text(json.dumps(doc))


def _violations(spec, y):
    """Row values (N, S, K) at sampled outputs y (N, S, out), and which samples hit the unsafe set."""
    vals = np.einsum("nko,nso->nsk", spec.C, y) + spec.d[:, None]
    bad = np.zeros(vals.shape[:2], bool)
    for grp in range(spec.n_groups):
        bad |= np.all(vals[:, :, spec.groups == grp] <= 0, axis=2)
    return vals, bad


_BASE = {}


def _base(name, tmp):
    """Valid, tight certificates: the toy (hand made) and a small MLP (CROWN)."""
    if name not in _BASE:
        if name == "toy":
            c, g = toy_cert(3.0001, alphas={("spec", "v2"): np.array([[[1.0, 1.0]]])})
        elif name == "mlp":
            from certnn.bounds import crown
            g, _ = mlp_graph(seed=5, sizes=(3, 6, 5, 3))
            region, spec = robust_setup(g, n=2, eps=0.05, seed=2)
            c = make_certificate(g, region, spec, crown(g, region, spec))
        else:  # tanh: tangent points optimized by alpha-CROWN, checked as proposals
            from certnn.bounds import crown
            g, _ = mlp_graph(seed=5, sizes=(3, 6, 5, 3), activation="tanh")
            region, spec = robust_setup(g, n=2, eps=0.1, seed=2)
            c = make_certificate(g, region, spec, crown(g, region, spec, method="alpha-crown", iters=5))
            assert c.claimed.all() and any(g_.op == "tanh" for g_ in unfuse(g).nodes)
        _BASE[name] = (c, g)
    c, g = _BASE[name]
    path = save_certificate(c, Path(tmp) / f"{name}.json")
    return path, g


@settings(max_examples=90, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["toy", "mlp", "tanh"]), pick=st.integers(0, 10 ** 6), idx=st.integers(0, 10 ** 6),
       how=st.sampled_from(["scale", "shift", "set", "ulp"]),
       amount=st.one_of(st.floats(-3, 3), st.sampled_from([0.0, 1.0, -1.0, 1e-3, -1e-3, 2.0])))
def test_mutated_certificates_never_certify_false_claims(tmp_path, name, pick, idx, how, amount):
    path, g = _base(name, tmp_path)
    keys = sorted(json.loads(path.read_text())["arrays"])
    key = keys[pick % len(keys)]
    _mutate_file(path, key, idx, how, amount)
    try:
        cert = load_certificate(path)
        r = check_certificate(cert, graph=g)
    except CertificateError:
        return                                   # malformed after the change: rejected
    if not r.accepted.any():
        return
    x = sample_region(cert.region, 400, np.random.default_rng(idx))
    n, k = x.shape[:2]
    y = outputs(g, x.reshape((n * k,) + x.shape[2:])).reshape(n, k, -1)
    vals, bad = _violations(cert.spec, y)
    for i in np.flatnonzero(r.accepted):
        # the claim holds at every sample, and the sound lower bounds are below every sample
        assert not bad[i].any(), f"accepted a false claim after mutating {key}"
        assert np.all(r.lower[i] <= vals[i].min(axis=0) + 1e-9)


# ---------------------------------------------------------------- binary32

def test_binary32_semantics_subtracts_the_error_budget():
    c, g = toy_cert(3 + 1e-9)
    real = check_certificate(c, graph=g)
    assert real.ok
    for sem in ("binary32", "binary32-any-order"):
        c.semantics = sem
        r = check_certificate(c, graph=g)
        assert not r.ok and r.lower[0, 0] < real.lower[0, 0] - 1e-7
        assert "hardware-float32-elementwise-ieee" in r.assumptions
    c2, _ = toy_cert(3.01)
    c2.semantics = "binary32-any-order"
    assert check_certificate(c2, graph=g).ok


# ---------------------------------------------------------------- conv transpose

@pytest.mark.parametrize("attrs,xs,ws", [
    (dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1), (2, 3, 5, 6), (4, 3, 3, 2)),
    (dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1), (1, 2, 7, 8), (3, 2, 3, 3)),
    (dict(stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=2), (2, 4, 6, 7), (6, 2, 2, 3)),
    (dict(stride=(3, 2), padding=(0, 1), dilation=(2, 1), groups=1), (1, 1, 9, 9), (2, 1, 2, 2)),
])
def test_conv_transpose_is_the_adjoint_of_the_op(attrs, xs, ws):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=xs), rng.normal(size=ws)
    y = get_op("conv2d").real(x, w, **attrs)
    a = rng.normal(size=(3,) + y.shape)                          # 3 rows of coefficients
    lhs = np.einsum("knchw,nchw->k", a, y)
    at = _conv_t(a.reshape((3 * xs[0],) + y.shape[1:]), w, xs[1:], **attrs).reshape((3,) + xs)
    rhs = np.einsum("knchw,nchw->k", at, x)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- producer integration

crown_mod = pytest.importorskip("certnn.bounds.crown")


def _claims_hold(g, cert, r, k=300):
    x = sample_region(cert.region, k, np.random.default_rng(0))
    n = x.shape[0]
    y = outputs(g, x.reshape((n * k,) + x.shape[2:])).reshape(n, k, -1)
    assert not _violations(cert.spec, y)[1][r.accepted].any()


def _check_producer_certificate(g, method, norm, eps, n=6, seed=4):
    """The producer's certificate is accepted, and the checker re-derives its bounds
    up to rounding (never much looser)."""
    region, spec = robust_setup(g, n=n, eps=eps, norm=norm, seed=seed)
    b = crown_mod.crown(g, region, spec, method=method, iters=5)
    c = make_certificate(g, region, spec, b)
    r = check_certificate(c, graph=g)
    assert c.claimed.any(), "pick a setting where the producer verifies something"
    assert r.ok, [w for w in r.reasons if w]
    assert np.all(r.lower >= b.lb - 1e-8)
    _claims_hold(g, c, r)
    return r


@pytest.mark.parametrize("method", ["crown", "crown-ibp", "same-slope", "alpha-crown"])
@pytest.mark.parametrize("norm,eps", [("inf", 0.03), ("2", 0.15), ("1", 0.3)])
def test_producer_certificates_on_an_mlp_are_accepted(method, norm, eps):
    _check_producer_certificate(mlp_graph(seed=1, sizes=(8, 16, 16, 4))[0], method, norm, eps)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("method", ["crown", "crown-ibp", "alpha-crown"])
@pytest.mark.parametrize("norm,eps", [("inf", 0.05), ("2", 0.2)])
def test_producer_certificates_on_s_shaped_mlps_are_accepted(activation, method, norm, eps):
    g, _ = mlp_graph(seed=3, sizes=(6, 12, 12, 4), activation=activation)
    r = _check_producer_certificate(g, method, norm, eps)   # the sound lines are the producer's, up to rounding
    assert "libm-float64-within-4ulp" in r.assumptions


def test_bad_tangent_points_cannot_make_a_false_claim():
    """Tangent points far outside their valid ranges (or NaN) only cost tightness:
    the checker falls back to lines it can prove, and rejects what no longer follows."""
    g, _ = mlp_graph(seed=3, sizes=(6, 12, 12, 4), activation="tanh")
    region, spec = robust_setup(g, n=6, eps=0.05, seed=4)
    c = make_certificate(g, region, spec, crown_mod.crown(g, region, spec, method="alpha-crown", iters=5))
    assert c.alphas and check_certificate(c, graph=g).ok
    rng = np.random.default_rng(0)
    x = sample_region(c.region, 300, rng)
    n, k = x.shape[:2]
    vals, _ = _violations(c.spec, outputs(g, x.reshape((n * k,) + x.shape[2:])).reshape(n, k, -1))
    good = dict(c.alphas)
    for junk in (lambda a: rng.normal(size=a.shape) * 20, lambda a: np.full(a.shape, np.nan), lambda a: -a):
        c.alphas = {key: junk(a) for key, a in good.items()}
        r = check_certificate(c, graph=g)
        assert np.all(r.lower <= vals.min(axis=1) + 1e-9)   # every sound lower bound is below the samples
        _claims_hold(g, c, r)


@pytest.mark.parametrize("method", ["crown", "alpha-crown"])
def test_producer_certificates_on_conv_batchnorm_are_accepted(method, monkeypatch):
    g = conv_bn_graph()
    region, spec = robust_setup(g, n=3, eps=0.01, seed=1)
    b = crown_mod.crown(g, region, spec, method=method, iters=5)
    c = make_certificate(g, region, spec, b)
    r = check_certificate(c, graph=g)
    assert c.claimed.any() and r.ok, [w for w in r.reasons if w]
    assert np.all(r.lower >= b.lb - 1e-8)
    monkeypatch.setattr(checker_mod, "ROW_BUDGET", 64)            # rows in many chunks: same verdicts
    r2 = check_certificate(c, graph=g)
    np.testing.assert_allclose(r2.lower, r.lower, rtol=1e-12, atol=1e-12)
    _claims_hold(g, c, r)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("method", ["crown", "alpha-crown"])
def test_producer_certificates_through_global_average_pooling_are_accepted(method, keepdims):
    """``mean`` over the spatial axes (ONNX GlobalAveragePool keeps them, certnn's
    GlobalAvgPool2d drops them): certificates are accepted, re-derived no looser
    than the producer's bounds up to rounding, and their claims hold on samples."""
    g = conv_gap_graph(keepdims=keepdims)
    assert "mean" in {n.op for n in g.nodes}
    _check_producer_certificate(g, method, "inf", 0.01, n=4, seed=2)


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("method", ["crown", "alpha-crown"])
def test_producer_certificates_through_max_pooling_are_accepted(method, padding):
    """Max pooling is boxed (its sound window maxima, no linear relaxation) in the
    checker as in the producer: certificates are accepted, re-derived no looser than
    the producer's bounds up to rounding, and their claims hold on samples."""
    g = conv_maxpool_graph(padding=padding)
    assert "max_pool2d" in {n.op for n in g.nodes}
    _check_producer_certificate(g, method, "inf", 0.02, seed=3)


@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool_lower_bounds_are_below_sampled_values(padding):
    """At a radius where the bounds are loose, the checker's re-derived lower bound of
    every row still lies below the row's values at points sampled in the region
    (corners included), and is a finite, non-trivial number."""
    _loose_lower_bounds_hold(conv_maxpool_graph(seed=1, padding=padding))


def _loose_lower_bounds_hold(g):
    """At radius 0.2 the checker's lower bounds of a CROWN certificate are finite and
    below every row's sampled values; returns (region, the certificate, the minima)."""
    region, spec = robust_setup(g, n=4, eps=0.2, seed=5)
    c = make_certificate(g, region, spec, crown_mod.crown(g, region, spec, method="crown"))
    r = check_certificate(c, graph=g)
    x = sample_region(c.region, 400, np.random.default_rng(1))
    n, k = x.shape[:2]
    vals, _ = _violations(c.spec, outputs(g, x.reshape((n * k,) + x.shape[2:])).reshape(n, k, -1))
    assert np.isfinite(r.lower).all()
    assert np.all(r.lower <= vals.min(axis=1) + 1e-9)
    return region, c, vals.min(axis=1)


@pytest.mark.parametrize("scale", [None, (0.5, -2.0, 1.5)])
@pytest.mark.parametrize("method", ["crown", "alpha-crown"])
def test_producer_certificates_through_nearest_upsampling_are_accepted(method, scale):
    """A nearest Resize imports as a broadcast ``mul`` by ones (and an ONNX Mul by a
    per-channel constant, negative entries included, is the same op): certificates are
    accepted, re-derived no looser than the producer's bounds up to rounding, and
    their claims hold on samples."""
    g = conv_resize_graph(scale=scale)
    assert "mul" in {n.op for n in g.nodes}
    _check_producer_certificate(g, method, "inf", 0.02, seed=3)


def test_upsampling_lower_bounds_are_below_sampled_values_and_false_claims_fail():
    """Where the bounds are loose the re-derived lower bounds still lie below sampled
    row values; a spec shifted so that a sampled point violates it is not accepted."""
    g = conv_resize_graph(seed=1, scale=(1.0, -0.5, 2.0))
    region, c, low = _loose_lower_bounds_hold(g)
    # every row shifted to just below its smallest sampled value: a false claim
    false = LinearSpec(c.spec.C, c.spec.d - low - 1e-3, c.spec.groups)
    bad = make_certificate(g, region, false, crown_mod.crown(g, region, false, method="crown"))
    assert not check_certificate(bad, graph=g).accepted.any()


def test_a_product_of_two_input_dependent_values_is_rejected():
    from certnn.ir.graph import Graph, Node
    g = Graph([Node("x", "input", shape=(None, 3)), Node("m", "mul", ("x", "x"))], ["m"], {}).validate()
    region = Region.box(np.zeros((1, 3)), np.ones((1, 3)))
    spec = LinearSpec(np.ones((1, 1, 3)), np.ones((1, 1)), np.array([0]))     # x.x + 1 > 0: true
    b = Bounds(np.ones((1, 1)), None, "hand", unfuse(g), {}, {})
    r = check_certificate(make_certificate(g, region, spec, b), graph=g)
    assert not r.accepted.any() and "one variable operand" in r.reasons[0]


def test_mean_over_the_batch_axis_is_rejected():
    from certnn.ir.graph import Graph, Node
    g = Graph([Node("x", "input", shape=(None, 3)), Node("m", "mean", ("x",), {"axes": (0, 1), "keepdims": True})],
              ["m"], {}).validate()
    region = Region.box(np.zeros((1, 3)), np.ones((1, 3)))
    spec = LinearSpec(np.ones((1, 1, 1)), np.zeros((1, 1)), np.array([0]))
    b = Bounds(np.ones((1, 1)), None, "hand", unfuse(g), {}, {})
    r = check_certificate(make_certificate(g, region, spec, b), graph=g)
    assert not r.accepted.any() and "batch axis" in r.reasons[0]


# ---------------------------------------------------------------- independence and CLI

def test_checker_does_not_import_the_producer():
    src = Path(checker_mod.__file__).read_text()
    mods = {n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Import) for a in n.names}
    assert not [m for m in mods if m and "bounds" in m], mods


def _saved_model_cert(tmp_path, d):
    from certnn import zoo
    from certnn.interop.checkpoint import load_graph, save_checkpoint
    from certnn.ir import trace
    from certnn.random import manual_seed
    manual_seed(0)
    m = zoo.mlp(2, (2,), 1).eval()
    m.load_state_dict({"0.weight": np.array([[1, -1], [2, -1]], np.float32), "0.bias": np.zeros(2, np.float32),
                       "2.weight": np.array([[1, -1]], np.float32), "2.bias": np.zeros(1, np.float32)})
    g, _ = trace(m, np.zeros((1, 2), np.float32))
    ck = save_checkpoint(tmp_path / "model", m, {"arch": "mlp", "in_features": 2, "hidden": [2], "num_classes": 1}, g)
    g = load_graph(ck)
    gu = unfuse(g)
    pre = [n.inputs[0] for n in gu.nodes if n.op == "relu"][0]
    b = Bounds(np.ones((1, 1)), None, "hand", gu, {pre: TOY_Z}, {})
    return save_certificate(make_certificate(g, toy_region(), toy_spec(d), b, model_path=ck), tmp_path / "c.json")


def test_cli_exit_codes(tmp_path):
    from certnn.cli import cli
    ok = _saved_model_cert(tmp_path / "a", 3.0001)
    r = CliRunner().invoke(cli, ["check", str(ok)])
    assert r.exit_code == 0, r.output
    assert "accepted: 1/1" in r.output
    r = CliRunner().invoke(cli, ["check", str(ok), "--json"])
    assert r.exit_code == 0 and json.loads(r.output.strip().splitlines()[-1])["ok"] is True
    bad = _saved_model_cert(tmp_path / "b", 2.999)
    r = CliRunner().invoke(cli, ["check", str(bad), "--model", str(tmp_path / "b" / "model")])
    assert r.exit_code == 1 and "example 0: rejected: spec" in r.output
    npz = ok.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:100])
    r = CliRunner().invoke(cli, ["check", str(ok)])
    assert r.exit_code == 2 and "truncated or corrupt" in r.output
    r = CliRunner().invoke(cli, ["check", str(tmp_path / "nothing.json")])
    assert r.exit_code == 2 and "no such certificate" in r.output
