"""Complete verification: benchmark instances with known answers, the chain
engine against certnn.bounds, its alpha/beta gradients against central
differences (and torch autograd when torch is installed), soundness on small
random ReLU nets against dense sampling, input-split certificates (accepted;
tampered ones rejected), and the whole path running without torch."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from certnn.io import benchmarks_root
from certnn.bounds import Region, compute_bounds
from certnn.spec.linear import LinearSpec
from certnn import run
from certnn.verify.bab import verify_case
from certnn.verify.bab_certificate import write_bab_certificate
from certnn.verify.bab_checker import check_bab_certificate
from certnn.verify import bab_mlp
from certnn.verify.bab_mlp import NotAChain, extract_chain, intermediate_bounds, optimized_spec_bounds, spec_bounds
from certnn.verify.vnncomp import load_instance, read_instances, run_instance

from ._models import conv_bn_graph, mlp_graph

VNN = benchmarks_root() / "vnncomp2022"
needs_bench = pytest.mark.skipif(not (VNN / "test" / "instances.csv").exists(), reason="no VNN-COMP benchmarks")


def _instance(cat, onnx, prop):
    for it in read_instances(VNN / cat / "instances.csv"):
        if it["onnx"].endswith(onnx) and it["vnnlib"].endswith(prop):
            return it
    raise LookupError(onnx, prop)


@needs_bench
@pytest.mark.parametrize("row", range(5))
def test_every_test_category_instance_gets_its_expected_answer(row):
    it = read_instances(VNN / "test" / "instances.csv")[row]
    v = run_instance(it["onnx"], it["vnnlib"], 30)
    assert v.status == it["expected"], (it["name"], v.stats)


@needs_bench
@pytest.mark.parametrize("cat,onnx,prop,expected,mode", [
    ("acasxu", "ACASXU_run2a_1_1_batch_2000.onnx", "prop_1.vnnlib", "unsat", "input-split"),
    ("acasxu", "ACASXU_run2a_1_9_batch_2000.onnx", "prop_2.vnnlib", "unsat", "input-split"),
    ("acasxu", "ACASXU_run2a_1_2_batch_2000.onnx", "prop_2.vnnlib", "sat", None),
    ("acasxu", "ACASXU_run2a_1_7_batch_2000.onnx", "prop_3.vnnlib", "sat", None),
    ("mnist_fc", "mnist-net_256x2.onnx", "prop_8_0.03.vnnlib", "unsat", "relu-split"),
    ("mnist_fc", "mnist-net_256x2.onnx", "prop_4_0.05.vnnlib", "sat", None),
])
def test_cheap_benchmark_instances(cat, onnx, prop, expected, mode):
    it = _instance(cat, onnx, prop)
    with threadpool_limits(limits=1, user_api="blas"):
        v = run_instance(it["onnx"], it["vnnlib"], 60)
    assert v.status == expected, v.stats
    if expected == "sat":
        graph, _, cases = load_instance(it["onnx"], it["vnnlib"])
        x, y = v.counterexample
        region, spec = cases[0]
        y2 = np.asarray(run(graph, x[None], semantics="real")).reshape(1, -1)
        assert region.contains(x[None])[0] and spec.violated(y2)[0]
        np.testing.assert_allclose(y, y2[0])
    if mode is not None:  # the branch and bound itself did the work
        case = v.stats["per_case"][0]
        assert case["mode"] == mode and case["branches"] > 0


ACAS_PROP_7 = """; ACAS Xu property 7 (Katz et al. 2017) on normalised inputs: strong left or
; strong right is never the advice (the lowest score)
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const X_2 Real)
(declare-const X_3 Real)
(declare-const X_4 Real)
(declare-const Y_0 Real)
(declare-const Y_1 Real)
(declare-const Y_2 Real)
(declare-const Y_3 Real)
(declare-const Y_4 Real)
(assert (<= X_0 0.679857769))
(assert (>= X_0 -0.328422877))
(assert (<= X_1 0.499999896))
(assert (>= X_1 -0.499999896))
(assert (<= X_2 0.499999896))
(assert (>= X_2 -0.499999896))
(assert (<= X_3 0.5))
(assert (>= X_3 -0.5))
(assert (<= X_4 0.5))
(assert (>= X_4 -0.5))
(assert (or (and (<= Y_3 Y_0) (<= Y_3 Y_1) (<= Y_3 Y_2))
            (and (<= Y_4 Y_0) (<= Y_4 Y_1) (<= Y_4 Y_2))))
"""


@needs_bench
def test_acas_property_7_violation_at_a_face_is_found(tmp_path):
    """On 1_9 the violations (about 4e-4 deep) lie on faces of the box: PGD from the
    centre and random starts end short of them; face samples find one."""
    prop = tmp_path / "prop_7.vnnlib"
    prop.write_text(ACAS_PROP_7)
    onnx = VNN / "acasxu" / "onnx" / "ACASXU_run2a_1_9_batch_2000.onnx"
    with threadpool_limits(limits=1, user_api="blas"):
        v = run_instance(onnx, prop, 60)
    assert v.status == "sat", v.stats
    graph, _, cases = load_instance(onnx, prop)
    x, _ = v.counterexample
    region, spec = cases[0]
    y = np.asarray(run(graph, x[None], semantics="real")).reshape(1, -1)
    assert region.contains(x[None])[0] and spec.violated(y)[0]


# ---------------------------------------------------------------------------- the engine

def test_chain_engine_matches_certnn_crown():
    g, _ = mlp_graph(3, (5, 12, 12, 4))
    mlp = extract_chain(g)
    rng = np.random.default_rng(0)
    lo = rng.uniform(-1, 0, (7, 5))
    hi = lo + rng.uniform(0.1, 1.0, (7, 5))
    spec = LinearSpec.robustness(rng.integers(0, 4, 7), 4)
    zero = [np.zeros((7, w), np.int8) for w in mlp.widths]
    b, _ = intermediate_bounds(mlp, lo, hi, zero)
    mine = spec_bounds(mlp, lo, hi, spec.C, spec.d, b, zero).lb
    ref = compute_bounds(g, Region.box(lo, hi), spec, method="crown").lb
    np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-9)


def test_extract_chain_refuses_other_graphs():
    with pytest.raises(NotAChain):
        extract_chain(conv_bn_graph())


def _net_outputs(mlp, x):
    a = np.asarray(x, np.float64)
    zs = []
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        a = a @ w.T + b
        if i < mlp.hidden:
            zs.append(a)
            a = np.maximum(a, 0)
    return a, zs


@pytest.mark.parametrize("seed", range(4))
def test_split_bounds_with_beta_are_sound_on_the_sub_domain(seed):
    """Random splits, optimized alpha and beta: the bound never exceeds a sampled
    output of the sub-domain (box points satisfying the split signs)."""
    g, _ = mlp_graph(seed, (3, 10, 10, 3))
    mlp = extract_chain(g)
    rng = np.random.default_rng(seed)
    lo, hi = np.full((1, 3), -1.0), np.full((1, 3), 1.0)
    x = rng.uniform(lo, hi, (40000, 3))
    y, zs = _net_outputs(mlp, x)
    C = rng.normal(size=(1, 2, 3))
    d = np.zeros((1, 2))
    splits = []
    keep = np.ones(len(x), bool)
    for z in zs:
        s = np.zeros((1, z.shape[1]), np.int8)
        for j in rng.choice(z.shape[1], 2, replace=False):
            s[0, j] = 1 if rng.random() < 0.5 else -1
            keep &= (z[:, j] >= 0) if s[0, j] > 0 else (z[:, j] <= 0)
        splits.append(s)
    b, infeasible = intermediate_bounds(mlp, lo, hi, splits)
    if infeasible[0]:
        assert keep.sum() == 0
        return
    sb = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=30)
    vals = y[keep] @ C[0].T + d[0]
    assert keep.sum() > 0
    assert np.all(sb.lb[0] <= vals.min(axis=0) + 1e-9)
    assert sb.betas is not None


# ---------------------------------------------------------------------------- gradients

def _grad_problem(seed, N=3, K=2):
    """A random chain, boxes, split signs, and alphas/betas away from kinks."""
    g, _ = mlp_graph(200 + seed, (4, 9, 8, 7, 3))
    mlp = extract_chain(g)
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-1, 0, (N, 4))
    hi = lo + rng.uniform(0.5, 1.5, (N, 4))
    splits = [rng.choice(np.array([-1, 0, 0, 1], np.int8), size=(N, w)) for w in mlp.widths]
    bounds, _ = intermediate_bounds(mlp, lo, hi, splits)
    C, d = rng.normal(size=(N, K, 3)), rng.normal(size=(N, K))
    alphas = [rng.uniform(0.1, 0.9, (N, K, w)) for w in mlp.widths]
    betas = [rng.uniform(0.0, 0.5, (N, K, w)) for w in mlp.widths]
    weight = rng.uniform(0.5, 2.0, (N, K))
    return mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight


def _objective(mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight):
    return float((weight * spec_bounds(mlp, lo, hi, C, d, bounds, splits, alphas, betas).lb).sum())


def _analytic_grads(mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight):
    trace = [None] * mlp.hidden
    lam, _ = bab_mlp._backward(mlp, mlp.hidden, C, d, bounds, splits, alphas, betas, trace=trace)
    return bab_mlp._bound_grads(mlp, mlp.hidden, lam, lo, hi, splits, trace, weight, True)


@pytest.mark.parametrize("seed", range(3))
def test_alpha_beta_gradients_match_central_differences(seed):
    mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight = _grad_problem(seed)
    ga, gb = _analytic_grads(mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight)
    h = 1e-6
    rng = np.random.default_rng(seed)
    checked = 0
    for params, grads in ((alphas, ga), (betas, gb)):
        for j in range(mlp.hidden):
            assert grads[j].shape == params[j].shape
            for flat in rng.choice(params[j].size, 25, replace=False):
                idx = np.unravel_index(flat, params[j].shape)
                old = params[j][idx]
                params[j][idx] = old + h
                up = _objective(mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight)
                params[j][idx] = old - h
                down = _objective(mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight)
                params[j][idx] = old
                fd = (up - down) / (2 * h)
                assert abs(fd - grads[j][idx]) <= 1e-5 * (1 + abs(fd)), (j, idx, fd, grads[j][idx])
                checked += fd != 0
    assert checked > 20           # the objective really depends on the sampled parameters


def test_alpha_and_beta_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight = _grad_problem(7)
    ga, gb = _analytic_grads(mlp, lo, hi, C, d, bounds, splits, alphas, betas, weight)
    T = lambda a: torch.as_tensor(np.asarray(a, np.float64))  # noqa: E731
    ta = [T(a).requires_grad_(True) for a in alphas]
    tb = [T(b).requires_grad_(True) for b in betas]
    # the backward sweep written independently in torch
    lam, bias = T(C), T(d)
    for i in range(mlp.hidden, 0, -1):
        bias = bias + lam @ T(mlp.biases[i])
        lam = lam @ T(mlp.weights[i])
        j = i - 1
        l, u = T(bounds[j][0]), T(bounds[j][1])
        sp = T(splits[j])
        act = (l >= 0) | (sp > 0)
        unst = ~act & ~((u <= 0) | (sp < 0))
        s = torch.where(unst, u / torch.where(unst, u - l, torch.ones_like(u)), act.double())
        t = torch.where(unst, -s * l, torch.zeros_like(l))
        low = torch.where(unst[:, None], ta[j], act[:, None].double())
        bias = bias + (lam.clamp(max=0) * t[:, None]).sum(-1)
        lam = lam.clamp(min=0) * low + lam.clamp(max=0) * s[:, None] - tb[j] * sp[:, None]
    bias = bias + lam @ T(mlp.biases[0])
    lam = lam @ T(mlp.weights[0])
    ctr, rad = (T(hi) + T(lo)) / 2, (T(hi) - T(lo)) / 2
    val = bias + torch.einsum("nkd,nd->nk", lam, ctr) - torch.einsum("nkd,nd->nk", lam.abs(), rad)
    (T(weight) * val).sum().backward()
    for j in range(mlp.hidden):
        np.testing.assert_allclose(ga[j], ta[j].grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb[j], tb[j].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_optimization_improves_bounds_and_stays_sound():
    """alpha-CROWN (intermediate rows) and alpha-beta-CROWN (spec rows) never do worse
    than plain CROWN, do better somewhere, and stay below sampled outputs."""
    g, _ = mlp_graph(11, (3, 16, 16, 16, 2))
    mlp = extract_chain(g)
    rng = np.random.default_rng(3)
    N = 4
    lo = rng.uniform(-1, 0, (N, 3))
    hi = lo + 1.5
    zero = [np.zeros((N, w), np.int8) for w in mlp.widths]
    plain, _ = intermediate_bounds(mlp, lo, hi, zero)
    tuned, _ = intermediate_bounds(mlp, lo, hi, zero, alpha_iters=10)
    gain = 0.0
    for (l0, u0), (l1, u1) in zip(plain, tuned):
        assert np.all(l1 >= l0 - 1e-12) and np.all(u1 <= u0 + 1e-12)
        gain += (l1 - l0).sum() + (u0 - u1).sum()
    assert gain > 0
    C, d = np.broadcast_to(np.array([[1.0, -1.0]]), (N, 1, 2)), np.zeros((N, 1))
    sg = bab_mlp.signs(tuned, zero)
    base = spec_bounds(mlp, lo, hi, C, d, tuned, sg).lb
    opt = optimized_spec_bounds(mlp, lo, hi, C, d, tuned, sg, iters=20).lb
    assert np.all(opt >= base) and np.any(opt > base + 1e-9)
    x = rng.uniform(lo[:, None], hi[:, None], (N, 5000, 3))
    y = mlp.forward(x.reshape(-1, 3)).reshape(N, 5000, 2)
    assert np.all(opt[:, 0] <= (y[..., 0] - y[..., 1]).min(axis=1) + 1e-9)


def _spec_problem(seed, N=6, K=3):
    g, _ = mlp_graph(300 + seed, (5, 24, 24, 24, 4))
    mlp = extract_chain(g)
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-1, 0, (N, 5))
    hi = lo + rng.uniform(0.2, 1.0, (N, 5))
    zero = [np.zeros((N, w), np.int8) for w in mlp.widths]
    splits = [rng.choice(np.array([-1, 0, 0, 0, 1], np.int8), size=(N, w)) for w in mlp.widths]
    b, _ = intermediate_bounds(mlp, lo, hi, zero)
    C, d = rng.normal(size=(N, K, 4)), rng.normal(size=(N, K))
    return mlp, lo, hi, C, d, b, splits


def test_float32_search_returns_float64_bounds_that_are_sound():
    """A float32 search is scored in float64 at the slopes and multipliers it found:
    the bounds are float64, lie below sampled outputs of each sub-domain, and are
    as good as a float64 search's up to float32's resolution."""
    mlp, lo, hi, C, d, b, splits = _spec_problem(0)
    ref = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=20)
    f32 = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=20, search_dtype=np.float32)
    assert f32.lb.dtype == np.float64 and f32.alphas[0].dtype == np.float64
    np.testing.assert_allclose(f32.lb, ref.lb, atol=1e-4 * (1 + np.abs(ref.lb).max()))
    again = spec_bounds(mlp, lo, hi, C, d, b, splits, f32.alphas, f32.betas).lb
    np.testing.assert_array_equal(f32.lb, again)           # the float64 value at the returned parameters
    rng = np.random.default_rng(1)
    for i in range(len(lo)):
        x = rng.uniform(lo[i], hi[i], (20000, lo.shape[1]))
        y, zs = _net_outputs(mlp, x)
        keep = np.ones(len(x), bool)
        for z, s in zip(zs, splits):
            keep &= np.all((s[i] == 0) | ((s[i] > 0) & (z >= 0)) | ((s[i] < 0) & (z <= 0)), axis=1)
        if keep.any():
            assert np.all(f32.lb[i] <= (y[keep] @ C[i].T + d[i]).min(axis=0) + 1e-9)


def test_drop_proved_stops_only_the_proved_sub_problems():
    """With drop_proved, a sub-problem stops once its bound is positive; the others
    follow the iterates of the full batch (Adam's steps are per entry; only BLAS's
    blocking of a smaller batch changes the last bits)."""
    mlp, lo, hi, C, d, b, splits = _spec_problem(2, N=16, K=1)
    d = d + np.where(np.arange(len(d)) % 2, 2.0, -2.0)[:, None]     # the odd ones are proved early
    full = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=25)
    drop = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=25, drop_proved=True)
    proved = drop.lb[:, 0] > 0
    assert 0 < proved.sum() < len(proved)
    np.testing.assert_allclose(drop.lb[~proved], full.lb[~proved], rtol=1e-7, atol=1e-9)
    assert np.all(full.lb[proved] > 0)
    for a, f in zip(drop.alphas, full.alphas):
        np.testing.assert_allclose(a[~proved], f[~proved], rtol=1e-6, atol=1e-9)


def test_a_passed_deadline_stops_the_optimization_after_one_bound():
    """No Adam step starts after the deadline: the result is the first iterate's bound
    (valid, not optimized), exactly what one iteration gives."""
    mlp, lo, hi, C, d, b, splits = _spec_problem(1)
    one = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=1)
    late = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=50, deadline=0.0)
    full = optimized_spec_bounds(mlp, lo, hi, C, d, b, splits, iters=50)
    np.testing.assert_array_equal(late.lb, one.lb)
    assert np.any(full.lb > late.lb + 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_relu_split_with_several_groups_agrees_with_dense_sampling(seed):
    """ReLU splitting skips the rows of groups a parent proved; with three groups
    (any one violated is a counterexample) its verdicts still match dense sampling."""
    g, _ = mlp_graph(400 + seed, (3, 16, 16, 4))
    lo, hi, x, y = _box_and_samples(g, np.random.default_rng(seed))
    C = np.zeros((1, 3, 4))
    C[0, :, 0] = 1.0
    C[0, [0, 1, 2], [1, 2, 3]] = -1.0                    # y0 - yk <= t_k: class k beats class 0
    m = (y @ C[0].T).min(axis=0)
    slack = (0.01 if seed % 2 else -0.005) * (np.abs(m) + 0.1)     # odd: sat, even: near-unsat
    spec = LinearSpec(C, -(m + slack)[None], np.array([0, 1, 2]))
    v = verify_case(g, Region.box(lo, hi), spec, timeout=20, method_hint="relu")
    many = LinearSpec(np.repeat(spec.C, len(y), 0), np.repeat(spec.d, len(y), 0), spec.groups)
    assert v.status in ("sat", "unsat"), v.stats
    if v.status == "unsat":
        assert not many.violated(y).any()
    else:
        xc, _ = v.counterexample
        y2 = np.asarray(run(g, xc[None], semantics="real")).reshape(1, -1)
        assert Region.box(lo, hi).contains(xc[None])[0] and spec.violated(y2)[0]


@needs_bench
def test_instances_run_without_torch():
    """The core never needs torch: an ACAS Xu instance (input splitting) and an
    mnist_fc one (ReLU splitting with beta) with torch made unimportable."""
    its = [_instance("acasxu", "ACASXU_run2a_1_9_batch_2000.onnx", "prop_2.vnnlib"),
           _instance("mnist_fc", "mnist-net_256x2.onnx", "prop_8_0.03.vnnlib")]
    code = "import sys; sys.modules['torch'] = None\nfrom certnn.verify.vnncomp import run_instance\n"
    for it in its:
        code += (f"v = run_instance({it['onnx']!r}, {it['vnnlib']!r}, 110)\n"
                 "print(v.status, v.stats['per_case'][0]['mode'], v.stats['per_case'][0]['branches'] > 0)\n")
    code += "assert not [m for m in sys.modules if m.split('.')[0] == 'torch' and sys.modules[m] is not None]\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["unsat", "input-split", "True", "unsat", "relu-split", "True"]


# ---------------------------------------------------------------------------- soundness

def _box_and_samples(g, rng, n: int = 20000):
    """A random box of the 3-input net ``g``, n uniform points plus its corners, and their outputs."""
    lo = rng.uniform(-1, 0, (1, 3))
    hi = lo + rng.uniform(1.0, 2.0, (1, 3))
    x = np.concatenate([rng.uniform(lo, hi, (n, 3)),
                        np.array(np.meshgrid(*[[lo[0, i], hi[0, i]] for i in range(3)])).reshape(3, -1).T])
    y = np.asarray(run(g, x, semantics="real"), np.float64).reshape(len(x), -1)
    return lo, hi, x, y


def _random_case(seed):
    g, _ = mlp_graph(100 + seed, (3, 16, 16, 2))
    lo, hi, x, y = _box_and_samples(g, np.random.default_rng(seed))
    # unsafe: y0 - y1 <= t with t near the sampled minimum (some cases sat, some unsat)
    m = (y[:, 0] - y[:, 1]).min()
    t = m + (0.01 if seed % 2 else -0.005) * (abs(m) + 0.1)   # odd: sat, even: near-unsat
    spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-t]]), np.array([0]))
    return g, Region.box(lo, hi), spec, x, y


def _wide_chain_case(seed):
    """A 24-input ReLU chain (more inputs than input splitting takes) and a
    threshold on y0 - y1 halfway between its CROWN bound and its sampled minimum
    (unsat, and only branching proves it; odd seeds: just above the sampled
    minimum, sat)."""
    g, _ = mlp_graph(200 + seed, (24, 32, 32, 3))
    rng = np.random.default_rng(seed)
    region = Region.box(lo := rng.uniform(-1, 0, (1, 24)), lo + rng.uniform(0.2, 0.6, (1, 24)))
    x = rng.uniform(region.lo, region.hi, (20000, 24))
    y = np.asarray(run(g, x, semantics="real"), np.float64).reshape(len(x), -1)
    m = (y[:, 0] - y[:, 1]).min()
    C = np.array([[[1.0, -1.0, 0.0]]])
    low = compute_bounds(g, region, LinearSpec(C, np.zeros((1, 1)), np.array([0])), method="crown").lb[0, 0]
    t = m + 0.01 * (abs(m) + 0.1) if seed % 2 else (low + m) / 2
    return g, region, LinearSpec(C, np.array([[-t]]), np.array([0])), y


@pytest.mark.parametrize("seed", range(4))
def test_wide_chains_take_the_graph_search_and_agree_with_the_chain_engine(seed, monkeypatch):
    """Chains with more than 16 inputs are searched by the graph ReLU split
    (``GraphBabOptions.chains``); with ``chains=False`` by the chain engine; a
    certificate still asks for the chain engine. Both engines' verdicts hold on
    dense samples (unsat) or replay (sat), and agree when both decide."""
    from certnn.verify import bab_graph, bab_relu
    from certnn.verify.bab_graph import GraphBabOptions
    calls, batches = [], []
    for mod, name in ((bab_graph, "relu_split_graph"), (bab_relu, "relu_split")):
        real = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda *a, _real=real, _name=name, **k:
                            calls.append(_name) or batches.append(k.get("batch")) or _real(*a, **k))
    g, region, spec, y = _wide_chain_case(seed)
    many = LinearSpec(np.repeat(spec.C, len(y), 0), np.repeat(spec.d, len(y), 0), spec.groups)
    verdicts = []
    for chains, engine in ((True, "relu_split_graph"), (False, "relu_split")):
        calls.clear()
        v = verify_case(g, region, spec, timeout=30, graph_options=GraphBabOptions(chains=chains, batch=8,
                                                                                   chain_batch=96))
        assert set(calls) <= {engine}, (chains, calls)
        if seed % 2 == 0:                                   # decided by the search itself
            assert calls and v.status == "unsat" and v.stats["branches"] > 0, (chains, v.status, v.stats)
            if chains:                                      # with the chains' batch size
                assert batches[-1] == GraphBabOptions(batch=8, chain_batch=96).chain_batch == 96
        if v.status == "unsat":
            assert not many.violated(y).any()
        elif v.status == "sat":
            xc, _ = v.counterexample
            y2 = np.asarray(run(g, xc[None], semantics="real")).reshape(1, -1)
            assert region.contains(xc[None])[0] and spec.violated(y2)[0]
        verdicts.append(v.status)
    if set(verdicts) <= {"sat", "unsat"}:
        assert verdicts[0] == verdicts[1]
    calls.clear()
    v = verify_case(g, region, spec, timeout=30, certifiable=True)
    assert set(calls) <= {"relu_split"} and (calls or seed % 2), calls


@pytest.mark.parametrize("mode", ["input", "relu"])
@pytest.mark.parametrize("seed", range(8))
def test_verdicts_agree_with_dense_sampling(seed, mode):
    g, region, spec, x, y = _random_case(seed)
    v = verify_case(g, region, spec, timeout=20, method_hint=mode)
    many = LinearSpec(np.repeat(spec.C, len(y), 0), np.repeat(spec.d, len(y), 0), spec.groups)
    sampled_violation = bool(many.violated(y).any())
    if v.status == "unsat":
        assert not sampled_violation
    elif v.status == "sat":
        xc, yc = v.counterexample
        y2 = np.asarray(run(g, xc[None], semantics="real")).reshape(1, -1)
        assert region.contains(xc[None])[0] and spec.violated(y2)[0]
    assert v.status in ("sat", "unsat"), v.stats        # small nets: always decided


def test_tried_dims_picks_the_dimension_with_the_best_mean_half():
    """Input splitting chooses each box's split by bounding both halves along every
    dimension in one batched call; the batch's layout must match bounding each
    child on its own."""
    from certnn.verify.bab_input import _candidate_dims, _group_score, _tried_dims
    g, region, spec, _, _ = _random_case(3)
    mlp = extract_chain(g)
    rng = np.random.default_rng(0)
    lo = region.lo + rng.uniform(0, 0.5, (6, 3)) * (region.hi - region.lo)
    hi = lo + rng.uniform(0.1, 0.5, (6, 3)) * (region.hi - region.lo)
    sg = [np.zeros((6, w), np.int8) for w in mlp.widths]
    cand = _candidate_dims(lo, hi, np.zeros((6, 1, 3)), region.hi[0] - region.lo[0])
    root = region.hi[0] - region.lo[0]
    got, kid_lb, _, _ = _tried_dims(mlp, lo, hi, sg, spec.C[0], spec.d[0], spec.groups, cand, np.full(6, -1e3), root)
    # a parent score above every half: no dimension gains (nor under MIN_GAIN), the
    # widest relative to the root wins
    tie, _, _, _ = _tried_dims(mlp, lo, hi, sg, spec.C[0], spec.d[0], spec.groups, cand, np.full(6, 1e3), root)
    assert (tie == np.argmax((hi - lo) / root, axis=1)).all()
    for i in range(6):
        mean = []
        for k in range(3):
            mid = (lo[i, k] + hi[i, k]) / 2
            halves = []
            for a, b in ((lo[i, k], mid), (mid, hi[i, k])):
                l, h = lo[i:i + 1].copy(), hi[i:i + 1].copy()
                l[0, k], h[0, k] = a, b
                s0 = [np.zeros((1, w), np.int8) for w in mlp.widths]
                bnds, _ = intermediate_bounds(mlp, l, h, s0)
                sb = spec_bounds(mlp, l, h, spec.C, spec.d, bnds, bab_mlp.signs(bnds, s0))
                halves.append(_group_score(sb.lb, spec.groups)[0])
            mean.append(np.mean(halves))
            if k == got[i]:     # the chosen halves' bounds are handed to the children
                np.testing.assert_allclose([_group_score(kid_lb[h, i:i + 1], spec.groups)[0] for h in (0, 1)],
                                           halves, rtol=1e-12)
        assert mean[got[i]] >= max(mean) - 1e-9, (i, got[i], mean)


def test_candidate_dims_beyond_the_try_limit_mix_score_and_relative_width():
    from certnn.verify.bab_input import TRY_DIMS, _candidate_dims
    k = TRY_DIMS + 4
    lo, hi = np.zeros((2, k)), np.ones((2, k))
    hi[:, 0] = 0.01                              # nearly split away: narrow relative to the root
    lam = np.ones((2, 1, k))
    lam[0, 0, k - 1] = 5.0                       # box 0: the score's favourite is the last dimension
    cand = _candidate_dims(lo, hi, lam, np.ones(k))
    assert cand.shape == (2, TRY_DIMS)
    for row in cand:
        assert len(set(row.tolist())) == TRY_DIMS and 0 not in row
    assert k - 1 in cand[0]
    assert (_candidate_dims(lo[:, :3], hi[:, :3], lam[..., :3], np.ones(3)) == np.arange(3)).all()


def test_timeout_is_respected():
    g, _ = mlp_graph(7, (3, 16, 16, 2))
    region = Region.box(np.full((1, 3), -1.0), np.full((1, 3), 1.0))
    y = np.asarray(run(g, np.zeros((1, 3)), semantics="real")).reshape(-1)
    # margin exactly at the centre's value: hard to prove and hard to refute
    spec = LinearSpec(np.array([[[-1.0, 1.0]]]), np.array([[y[0] - y[1] - 1e-9]]), np.array([0]))
    v = verify_case(g, region, spec, timeout=0.5, method_hint="relu")
    assert v.seconds < 5
    assert v.status in ("sat", "timeout", "unknown")


# ---------------------------------------------------------------------------- certificates

@pytest.fixture(scope="module")
def acas_cert(tmp_path_factory):
    it = _instance("acasxu", "ACASXU_run2a_1_1_batch_2000.onnx", "prop_1.vnnlib")
    folder = tmp_path_factory.mktemp("babcert")
    v = run_instance(it["onnx"], it["vnnlib"], 60, cert_path=folder / "cert.json")
    assert v.status == "unsat" and v.stats["certificate"]["written"], v.stats
    graph, _, cases = load_instance(it["onnx"], it["vnnlib"])
    return folder / "cert.json", graph, cases


@needs_bench
def test_input_split_certificate_is_accepted(acas_cert):
    path, graph, cases = acas_cert
    res = check_bab_certificate(path, graph, expected_cases=cases)
    assert res.ok and res.leaves > 1, res.reasons
    assert check_bab_certificate(path).ok           # the model named in the file


def _tampered(path, tmp_path, edit):
    doc = json.loads(Path(path).read_text())
    edit(doc)
    for name in (doc["cases"][0]["leaves"], doc["cases"][0]["leaves"].replace(".json", ".npz")):
        (tmp_path / name).write_bytes((Path(path).parent / name).read_bytes())
    doc["model"] = os.path.relpath(Path(path).parent / json.loads(Path(path).read_text())["model"], tmp_path)
    out = tmp_path / "t.json"
    out.write_text(json.dumps(doc))
    return out


def _drop_leaf(doc):
    tree = doc["cases"][0]["tree"]
    k = max(i for i, e in enumerate(tree) if e[0] == -1)
    del tree[k]


def _move_split(doc):
    tree = doc["cases"][0]["tree"]
    k = next(i for i, e in enumerate(tree) if e[0] >= 0 and i > 0)
    lo = np.asarray(doc["cases"][0]["root_lo"])
    hi = np.asarray(doc["cases"][0]["root_hi"])
    d = tree[k][0]
    tree[k][1] = float(tree[k][1] + (hi[d] - lo[d]) * 1e-3)     # a leaf's box changes


def _widen_root(doc):
    doc["cases"][0]["root_hi"][0] += 0.01


@needs_bench
@pytest.mark.parametrize("edit,why", [(_drop_leaf, "coverage"), (_move_split, "not re-derived|coverage"),
                                      (_widen_root, "root box")])
def test_tampered_certificates_are_rejected(acas_cert, tmp_path, edit, why):
    import re
    path, graph, cases = acas_cert
    bad = _tampered(path, tmp_path, edit)
    res = check_bab_certificate(bad, graph, expected_cases=cases)
    assert not res.ok and re.search(why, " ".join(res.reasons)), res.reasons
    assert not check_bab_certificate(bad, graph).ok     # also without the property at hand


@needs_bench
def test_changed_leaf_bound_is_rejected(acas_cert, tmp_path):
    """An anchor (a leaf's intermediate bound) claimed tighter than sound: rejected."""
    from certnn.ir.serialize import array_digest
    path, graph, cases = acas_cert
    bad = _tampered(path, tmp_path, lambda doc: None)
    leaf = tmp_path / json.loads(bad.read_text())["cases"][0]["leaves"]
    ldoc = json.loads(leaf.read_text())
    npz = tmp_path / ldoc["array_file"]
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    name = ldoc["anchors"][-1]["lo"]
    arrays[name] = arrays[name].copy()
    arrays[name][0] += 0.5 * (arrays[ldoc["anchors"][-1]["hi"]][0] - arrays[name][0])
    ldoc["arrays"][name]["sha256"] = array_digest(arrays[name])
    np.savez(npz, **arrays)
    leaf.write_text(json.dumps(ldoc))
    res = check_bab_certificate(bad, graph, expected_cases=cases)
    assert not res.ok and "anchor" in " ".join(res.reasons)


def test_unfinished_tree_cannot_be_written(tmp_path):
    from certnn.verify.bab_input import SplitTree
    g, _ = mlp_graph(1, (2, 4, 2))
    t = SplitTree(np.zeros(2), np.ones(2))
    t.add_children(0, 0, 0.5)                        # children never bounded
    region = Region.box(np.zeros((1, 2)), np.ones((1, 2)))
    spec = LinearSpec(np.array([[[1.0, 0.0]]]), np.array([[0.0]]), np.array([0]))
    with pytest.raises(Exception, match="neither a leaf nor split"):
        write_bab_certificate(tmp_path / "c.json", g, [(region, spec)], [t])


@needs_bench
def test_input_split_splits_the_widest_dimension_when_gains_are_tiny_near_zero(tmp_path):
    """ACAS Xu 1_1 property 5 with plain CROWN (the certifiable mode's bounds): a gain
    counted against a parent score near 0 looked large, and the search halved two
    dimensions 70 levels deep while psi, whose width kept the bound at -2e-4, was
    never split (a timeout; with the score floor 4,866 branches, 2 s)."""
    from certnn.verify.bab_input import input_split
    mean, rng = (19791.091, 0.0, 0.0, 650.0, 600.0), (60261.0, 6.28318530718, 6.28318530718, 1100.0, 1200.0)
    box = [(250, 400), (0.2, 0.4), (-np.pi, -np.pi + 0.005), (100, 400), (0, 400)]
    lines = [f"(declare-const X_{i} Real)" for i in range(5)] + [f"(declare-const Y_{j} Real)" for j in range(5)]
    for i, (a, b) in enumerate(box):
        lines += [f"(assert (>= X_{i} {(a - mean[i]) / rng[i]!r}))", f"(assert (<= X_{i} {(b - mean[i]) / rng[i]!r}))"]
    lines.append("(assert (or " + " ".join(f"(and (<= Y_{j} Y_4))" for j in range(4)) + "))")
    (tmp_path / "prop_5.vnnlib").write_text("\n".join(lines) + "\n")
    graph, _, cases = load_instance(VNN / "acasxu" / "onnx" / "ACASXU_run2a_1_1_batch_2000.onnx",
                                    tmp_path / "prop_5.vnnlib")
    (region, spec), = cases
    r = input_split(extract_chain(graph), graph, region.lo.reshape(-1), region.hi.reshape(-1), spec,
                    deadline=time.monotonic() + 60, alpha_iters=0)
    assert r.status == "unsat" and r.stats["branches"] < 50_000, r.stats
