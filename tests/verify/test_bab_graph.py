"""ReLU-split branch and bound on convolutional and residual graphs: the split
bounds hold on their subdomains (dense sampling of the exact network), unsat
answers hold on dense samples, certificates are accepted and tampering rejected."""

import copy
import time

import numpy as np
import pytest

from certnn import nn
from certnn.bounds import compute_bounds
from certnn.bounds.net import analyze
from certnn.bounds.split import relu_inputs, split_bounds, sweep
from certnn.ir import evaluate, trace
from certnn.ir.passes import optimize
from certnn.random import manual_seed
from certnn.spec.linear import LinearSpec
from certnn.spec.region import Region
from certnn.verify.bab import verify_case
from certnn.verify.bab_certificate import write_bab_certificate
from certnn.verify.bab_checker import check_bab_certificate
from certnn.verify.bab_graph import _choose, _Doms, _f32, _top, group_score, relu_split_graph, root_bounds


class _Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b, self.r = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1), nn.ReLU()

    def forward(self, x):
        return self.r(self.b(self.r(self.a(x))) + x)


def res_graph(seed=0, c=4, size=8):
    """conv(stride 2) -> BN -> relu -> residual block -> avg pool -> flatten -> dense -> relu -> dense."""
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    m = nn.Sequential(nn.Conv2d(1, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(), _Res(c),
                      nn.AvgPool2d(2), nn.Flatten(), nn.Linear(c * (size // 4) ** 2, 10), nn.ReLU(),
                      nn.Linear(10, 3)).eval()
    sd = {k: np.array(v) for k, v in m.state_dict().items()}
    sd["1.running_mean"] = rng.uniform(-0.2, 0.2, c).astype(np.float32)
    sd["1.running_var"] = rng.uniform(0.5, 2.0, c).astype(np.float32)
    m.load_state_dict(sd)
    g, _ = trace(m, np.zeros((1, 1, size, size), np.float32))
    return optimize(g)


def _case(seed, eps):
    g = res_graph(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (1, 1, 8, 8))
    (y,), _, _ = evaluate(g, {g.inputs[0].id: x})
    region = Region.ball(x, eps, "inf", domain=(0.0, 1.0))
    return g, region, LinearSpec.robustness([int(np.argmax(y))], 3)


def _samples(net, region, k, rng):
    """Dense samples of the box (a quarter of them corners) with every node's value."""
    pts = rng.uniform(region.lo, region.hi, (k,) + region.shape)
    pts[: k // 4] = np.where(rng.uniform(size=(k // 4,) + region.shape) < 0.5, region.lo, region.hi)
    (y,), vals, _ = evaluate(net.graph, {net.input: pts})
    return pts, np.asarray(y).reshape(k, -1), vals


def test_split_bounds_without_splits_is_crown():
    g, region, spec = _case(0, 0.1)
    net = analyze(g)
    sb = split_bounds(net, region, spec.C, spec.d, root_bounds(net, region), {}, iters=0, scores=False)
    np.testing.assert_allclose(sb.lb, compute_bounds(g, region, spec, method="crown").lb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lazy", [None, 0.0], ids=["every-step-swept", "last-step-unswept"])
@pytest.mark.parametrize("work", [np.float64, np.float32], ids=["float64", "float32-steps"])
@pytest.mark.parametrize("seed", [0, 1])
def test_split_bounds_hold_on_their_subdomains(seed, work, lazy):
    """Random splits taken from sample points' signs (so no subdomain is empty), beta
    optimized: every sample in a subdomain has its rows above the subdomain's bound,
    and above the bound of a sweep at the parameters returned (with ``lazy`` the
    last step's, never swept inside)."""
    g, region, spec = _case(seed, 0.6)
    net = analyze(g)
    root = root_bounds(net, region)
    rng = np.random.default_rng(seed)
    pts, y, vals = _samples(net, region, 6000, rng)
    B, zs = 6, list(relu_inputs(net))
    splits = {z: np.zeros((B,) + net.shape(z), np.int8) for z in zs}
    for i in range(B):
        for z in zs:
            l, u = root[z]
            unst = np.flatnonzero(((l < 0) & (u > 0)).reshape(-1))
            if unst.size:
                pick = rng.choice(unst, min(3, unst.size), replace=False)
                splits[z][i].reshape(-1)[pick] = np.where(np.asarray(vals[z])[i].reshape(-1)[pick] >= 0, 1, -1)
    C, d = np.repeat(spec.C, B, 0), np.repeat(spec.d, B, 0)
    sb = split_bounds(net, region, C, d, root, splits, iters=15, work=work, lazy=lazy)
    assert sb.lb.dtype == np.float64
    assert any(float(b.max()) > 0 for b in sb.betas.values())        # the multipliers were used
    at_params = sweep(net, region, C, d, root, splits, sb.alphas, sb.betas)[0]
    for i in range(B):
        inside = np.ones(len(pts), bool)
        for z in zs:
            s = splits[z][i].reshape(-1)
            inside &= np.all((s == 0) | (s * np.asarray(vals[z]).reshape(len(pts), -1) >= 0), axis=1)
        assert inside[i]                                               # sample i is in subdomain i
        rows = y[inside] @ C[i].T + d[i]
        assert np.all(rows.min(axis=0) >= sb.lb[i] - 1e-9)
        assert np.all(rows.min(axis=0) >= at_params[i] - 1e-9)


def _batch(B):
    """A residual net, its region and root bounds, B unsplit sub-problems and their rows."""
    g, region, spec = _case(0, 0.6)
    net = analyze(g)
    root = root_bounds(net, region)
    splits = {z: np.zeros((B,) + net.shape(z), np.int8) for z in relu_inputs(net)}
    return net, region, root, splits, np.repeat(spec.C, B, 0), np.repeat(spec.d, B, 0)


def _unstable(root, z):
    l, u = root[z]
    return np.flatnonzero(((l < 0) & (u > 0)).reshape(-1))


def _split_randomly(root, splits, seed):
    """Sub-problem i gets i random signs on unstable neurons of every relu input."""
    rng = np.random.default_rng(seed)
    for z, s in splits.items():
        for i in range(len(s)):
            unst = _unstable(root, z)
            pick = rng.choice(unst, size=min(i, len(unst)), replace=False)
            s[i].reshape(-1)[pick] = rng.choice([-1, 1], size=len(pick))


def test_lazy_sweeps_the_last_step_only_where_a_bound_is_near_zero():
    """``lazy``: sub-problems with a row above -lazy get what every-step sweeping
    gives them (up to the rounding of a smaller batch's products); the others keep
    the bound before the last step, bit for bit, and return the stepped
    parameters (changed, in range) as their warm start."""
    B = 6
    net, region, root, splits, C, d = _batch(B)
    _split_randomly(root, splits, 3)
    before = split_bounds(net, region, C, d, root, splits, iters=1, scores=False)
    tau = float(np.median(-before.lb.max(axis=1)))
    full = split_bounds(net, region, C, d, root, splits, iters=2, scores=False)
    lazy = split_bounds(net, region, C, d, root, splits, iters=2, scores=False, lazy=tau)
    near = np.any(before.lb > -tau, axis=1)
    assert near.any() and not near.all()
    np.testing.assert_allclose(lazy.lb[near], full.lb[near], rtol=1e-9, atol=1e-12)   # a sub-batch's BLAS
    np.testing.assert_array_equal(lazy.lb[~near], before.lb[~near])
    for k in full.alphas:
        np.testing.assert_allclose(lazy.alphas[k][near], full.alphas[k][near], rtol=1e-9, atol=1e-12)
        assert np.all((lazy.alphas[k] >= 0) & (lazy.alphas[k] <= 1))
    assert any(not np.array_equal(lazy.alphas[k][~near], before.alphas[k][~near]) for k in full.alphas)
    for z, b in lazy.betas.items():
        assert np.all(b >= 0) and np.all(b[splits[z][:, None].repeat(b.shape[1], 1) == 0] == 0)


def test_float32_steps_return_the_float64_sweep_at_their_parameters():
    """The bounds of float32 optimization steps are not reported: what comes back is
    the float64 sweep at the chosen parameters, bit for bit, with float64 parameters."""
    B = 4
    net, region, root, splits, C, d = _batch(B)
    zs = list(splits)
    rng = np.random.default_rng(3)
    for i in range(B):
        z = zs[i % len(zs)]
        splits[z][i].reshape(-1)[rng.choice(_unstable(root, z))] = 1 if i % 2 else -1
    sb = split_bounds(net, region, C, d, root, splits, iters=6, work=np.float32)
    assert all(v.dtype == np.float64 for v in list(sb.alphas.values()) + list(sb.betas.values()))
    lb, *_ = sweep(net, region, C, d, root, splits, sb.alphas, sb.betas)
    np.testing.assert_array_equal(sb.lb, lb)
    # and the float32 steps choose parameters about as good as float64 steps do
    sb64 = split_bounds(net, region, C, d, root, splits, iters=6)
    assert np.all(sb.lb >= sb64.lb - 1e-3 * (1 + np.abs(sb64.lb)))


def test_confirm_redoes_in_float64_only_the_subproblems_that_may_close():
    """With ``confirm``, the sub-problems with a float32 row above -margin get the
    float64 sweep's bounds bit for bit; the others keep float32 bounds below
    -margin (never a proof), and every one's scores mark the same candidates."""
    B = 8
    net, region, root, splits, C, d = _batch(B)
    _split_randomly(root, splits, 5)
    full = split_bounds(net, region, C, d, root, splits, iters=3, work=np.float32)
    margin = 0.005                           # between this seed's sub-problems' best rows
    sb = split_bounds(net, region, C, d, root, splits, iters=3, work=np.float32, confirm=margin)
    assert 0 < sb.exact.sum() < B
    lb, *_ = sweep(net, region, C, d, root, splits, sb.alphas, sb.betas)
    np.testing.assert_array_equal(sb.lb[sb.exact], lb[sb.exact])
    assert np.all(sb.lb[~sb.exact] <= -margin)
    assert np.all(lb[~sb.exact] < 0)
    open_ = ~np.all(sb.lb > 0, axis=1)        # a closed sub-problem needs no candidates
    for z in full.scores:
        np.testing.assert_array_equal(sb.scores[z][open_] >= 0, full.scores[z][open_] >= 0)
    assert sb.x.shape == full.x.shape and np.all((sb.x >= region.lo[:, None]) & (sb.x <= region.hi[:, None]))
    every = split_bounds(net, region, C, d, root, splits, iters=3, work=np.float32, confirm=np.inf)
    assert every.exact.all()
    np.testing.assert_array_equal(every.lb, full.lb)


def _half_closed(B):
    """A batch where the even sub-problems are proved by their first sweep and the
    odd ones are 1 below it (the bound is d plus the rest, so d places them)."""
    net, region, root, splits, C, d = _batch(B)
    _split_randomly(root, splits, 7)
    lb0 = split_bounds(net, region, C, d, root, splits, iters=0).lb
    d = d - lb0 + np.where(np.arange(B) % 2 == 0, 0.05, -1.0)[:, None]
    return net, region, root, splits, C, d


@pytest.mark.parametrize("work", [np.float64, np.float32])
def test_closed_subproblems_leave_the_steps_and_the_others_are_unchanged(monkeypatch, work):
    import certnn.bounds.split as split
    B = 8
    net, region, root, splits, C, d = _half_closed(B)
    sizes = []

    def counting(net_, region_, C_, *a, **k):      # the steps' sweeps (float32: not the confirming one)
        if net_.dtype == work:
            sizes.append(C_.shape[0])
        return sweep(net_, region_, C_, *a, **k)

    monkeypatch.setattr(split, "sweep", counting)
    conf = None if work == np.float64 else 0.01
    sb = split_bounds(net, region, C, d, root, splits, iters=4, work=work, confirm=conf)
    assert min(sizes) == B // 2 and sizes[0] == B          # the closed half left after the first sweep
    monkeypatch.setattr(split, "DROP_SHARE", np.inf)
    sizes.clear()
    every = split_bounds(net, region, C, d, root, splits, iters=4, work=work, confirm=conf)
    assert min(sizes) == B
    closed = np.arange(B) % 2 == 0
    assert np.all(sb.lb[closed] > 0) and np.all(every.lb[closed] > 0)
    np.testing.assert_allclose(sb.lb[~closed], every.lb[~closed], rtol=1e-5, atol=1e-6)
    assert np.all(sb.lb[~closed] < 0)
    # the bounds are the sweep's at the parameters returned (float64 ones bit for bit)
    lb, *_ = sweep(net, region, C, d, root, splits, sb.alphas, sb.betas)
    exact = np.ones(B, bool) if sb.exact is None else sb.exact
    np.testing.assert_array_equal(sb.lb[exact], lb[exact])
    assert np.all(lb[~exact] < 0)
    for z in every.scores:
        np.testing.assert_array_equal(sb.scores[z][~closed] >= 0, every.scores[z][~closed] >= 0)
    assert np.all(sb.x[~closed] == every.x[~closed]) or work == np.float32


@pytest.mark.parametrize("work", [np.float64, np.float32])
def test_rows_below_the_proved_threshold_stay_open(monkeypatch, work):
    """``proved`` (a recording search's margin): sub-problems whose rows are positive but
    not above it stay in the steps and get branching scores like open ones."""
    import certnn.bounds.split as split
    B = 8
    net, region, root, splits, C, d = _half_closed(B)      # even ones about +0.05, odd ones -1
    sizes = []

    def counting(net_, region_, C_, *a, **k):
        if net_.dtype == work:
            sizes.append(C_.shape[0])
        return sweep(net_, region_, C_, *a, **k)

    monkeypatch.setattr(split, "sweep", counting)
    conf = None if work == np.float64 else 0.01
    sb = split_bounds(net, region, C, d, root, splits, iters=4, work=work, confirm=conf, proved=1.0)
    assert min(sizes) == B                                   # nothing left the steps
    assert np.all(sb.lb[::2] > 0)
    for z in splits:
        l, u = root[z]
        cand = ((l < 0) & (u > 0)) & (splits[z] == 0)
        np.testing.assert_array_equal(sb.scores[z] >= 0, cand)


def test_a_subproblem_closed_in_float32_but_not_in_float64_still_gets_candidates(monkeypatch):
    """Rounding can open a sub-problem that left the float32 steps closed: it then
    gets its own sweep's scores and minimizer (the float64 sweep is made to fail here)."""
    import certnn.bounds.split as split
    B = 8
    net, region, root, splits, C, d = _half_closed(B)

    def pessimistic(net_, *a, **k):
        out = sweep(net_, *a, **k)
        return (out[0] - 10.0 if net_.dtype == np.float64 else out[0],) + out[1:]

    monkeypatch.setattr(split, "sweep", pessimistic)
    sb = split_bounds(net, region, C, d, root, splits, iters=4, work=np.float32, confirm=0.01)
    assert np.all(sb.lb < 0) and sb.exact[::2].all()
    for z in splits:
        l, u = root[z]
        cand = ((l < 0) & (u > 0)) & (splits[z] == 0)
        np.testing.assert_array_equal(sb.scores[z] >= 0, cand)
    x = sb.x.reshape(B, C.shape[1], -1)
    assert np.all((x >= region.lo.reshape(1, 1, -1)) & (x <= region.hi.reshape(1, 1, -1)))


def test_working_precision_net_computes_the_same_maps():
    g, region, _ = _case(1, 0.3)
    net = analyze(g)
    assert net.working(np.float64) is net
    n32 = net.working(np.float32)
    assert n32 is net.working(np.float32) and n32.dtype is np.float32 and net.dtype is np.float64
    rng = np.random.default_rng(0)
    for nid in net.order:
        if net.kind.get(nid) != "affine":
            continue
        a = rng.standard_normal((3,) + net.shape(nid))
        for c64, c32 in zip(net.transpose(nid, a), n32.transpose(nid, a.astype(np.float32))):
            assert c32.dtype == np.float32
            np.testing.assert_allclose(c32, c64, rtol=1e-4, atol=1e-4 * float(np.abs(c64).max() + 1))
        xs = [rng.standard_normal((2,) + net.shape(net.nodes[nid].inputs[p])) for p in net.var_inputs(nid)]
        y64, y32 = net.apply(nid, xs), n32.apply(nid, [x.astype(np.float32) for x in xs])
        assert y32.dtype == np.float32
        np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4 * float(np.abs(y64).max() + 1))


@pytest.mark.parametrize("options", [{"branching": "babsr"}, {"branching": "fsb"},
                                     {"branching": "fsb", "fsb_reduce": "min"}, {"refresh": True},
                                     {"precision": "float32"}],
                         ids=["babsr", "fsb", "fsb-worse-child", "refreshed-sub-problems", "float32-steps"])
def test_unsat_answers_hold_on_dense_samples(options):
    decided = 0
    for seed, eps in ((0, 0.5), (2, 0.5)):
        g, region, spec = _case(seed, eps)
        net = analyze(g)
        res = relu_split_graph(net, region, spec.C, spec.d, spec.groups, root_bounds(net, region),
                               time.monotonic() + 20, None, batch=8, iters=10, root_iters=20, **options)
        if res.status == "unsat":
            decided += 1
            assert res.stats["branches"] > 0
            _, y, _ = _samples(net, region, 8000, np.random.default_rng(seed + 7))
            assert np.all((y @ spec.C[0].T + spec.d[0]).min(axis=0) > 0)
    assert decided == 2


def test_verify_case_finds_and_replays_a_counterexample():
    """A margin threshold between the center's margin and a sampled point's: the
    center is safe, a counterexample exists; verify_case must return a replayed one."""
    g, region, spec = _case(0, 0.5)
    net = analyze(g)
    _, y, _ = _samples(net, region, 4000, np.random.default_rng(3))
    (yc,), _, _ = evaluate(g, {g.inputs[0].id: region.center})
    low = (y @ spec.C[0].T + spec.d[0]).min(axis=1).min()
    t = (low + (np.asarray(yc).reshape(1, -1) @ spec.C[0].T).min()) / 2
    shifted = LinearSpec(spec.C, spec.d - t, spec.groups)
    v = verify_case(g, region, shifted, 30)
    assert v.status == "sat"
    x, yx = v.counterexample
    assert np.all(x >= region.lo[0]) and np.all(x <= region.hi[0])
    assert shifted.violated(np.asarray(yx)[None])[0]


@pytest.fixture(scope="module")
def proved():
    """A certifiable proof that needs branching."""
    for seed, eps in ((0, 0.5), (2, 0.5)):
        g, region, spec = _case(seed, eps)
        net = analyze(g)
        res = relu_split_graph(net, region, spec.C, spec.d, spec.groups, root_bounds(net, region),
                               time.monotonic() + 30, None, certifiable=True, batch=8, iters=10, root_iters=20)
        if res.status == "unsat" and res.stats["branches"] > 0:
            return g, region, spec, res.proof
    pytest.fail("no certifiable case with branches")


def _check(proved, folder, edit=None):
    g, region, spec, proof = proved
    proof = copy.deepcopy(proof)
    if edit is not None:
        edit(proof)
    folder.mkdir(exist_ok=True)
    path = write_bab_certificate(folder / "c.json", g, [(region, spec)], [proof])
    return check_bab_certificate(path, g, expected_cases=[(region, spec)])


def test_certificate_of_a_graph_split_is_accepted(proved, tmp_path):
    res = _check(proved, tmp_path)
    assert res.ok, res.reasons
    assert res.leaves >= 2


def _split_leaf(proof):
    """A leaf row with a split neuron, and that neuron (node, flat index)."""
    for row in proof.rows:
        for z, s in row["splits"].items():
            nz = np.flatnonzero(s.reshape(-1))
            if nz.size:
                return row, z, int(nz[0])
    raise AssertionError("no split leaf")


def test_tampering_is_rejected(proved, tmp_path):
    def flip_sign(proof):                      # a leaf that claims the other side of its split
        row, z, i = _split_leaf(proof)
        row["splits"][z].reshape(-1)[i] *= -1

    def move_split(proof):                     # the root splits another neuron than the leaves assume
        k, i = proof.split[0]
        size = proof.rows[0]["splits"][proof.split_nodes[k]].size
        proof.split[0] = (k, (i + 1) % size)

    def negative_beta(proof):
        row, z, i = _split_leaf(proof)
        row["betas"][z] = -np.abs(row["betas"][z]) - 1.0

    def tighter_anchor(proof):                 # claimed intermediate bounds tighter than sound
        row = proof.rows[-1]
        z = proof.split_nodes[-1]
        lo, hi = row["inter"][z]
        row["inter"][z] = (lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo))

    def worse_alpha(proof):                    # slopes outside [0, 1]
        row = proof.rows[0]
        r = next(iter(row["alphas"]))
        row["alphas"][r] = row["alphas"][r] + 2.0
    for k, edit in enumerate((flip_sign, move_split, negative_beta, tighter_anchor, worse_alpha)):
        res = _check(proved, tmp_path / str(k), edit)
        assert not res.ok, edit.__name__


@pytest.mark.parametrize("param", ["1.weight", "1.running_mean", "3.b.weight", "0.weight"])
def test_a_proof_for_other_weights_is_rejected(proved, tmp_path, param):
    """The proof, re-hashed for a graph whose BatchNorm or convolution weights were
    changed so that the box's centre violates the spec, is rejected: the checker
    re-derives the bounds from the graph it is given."""
    g, region, spec, proof = proved
    centre = (region.lo + region.hi) / 2
    rng = np.random.default_rng(0)
    a = np.asarray(g.arrays[param], np.float64)
    for k in range(40):                     # random changes, growing, until one breaks the spec
        g2 = copy.deepcopy(g)
        g2.arrays[param] = (a + rng.normal(0, (1 + k) * np.abs(a).max(), a.shape)).astype(np.float32)
        (y,), _, _ = evaluate(g2, {g2.inputs[0].id: centre})
        if spec.violated(np.asarray(y).reshape(1, -1))[0]:
            break
    else:
        pytest.fail(f"no change of {param} tried makes the centre violate the spec")
    folder = tmp_path / "other"
    folder.mkdir()
    path = write_bab_certificate(folder / "c.json", g2, [(region, spec)], [copy.deepcopy(proof)])
    res = check_bab_certificate(path, g2, expected_cases=[(region, spec)])
    assert not res.ok, "a proof for other weights was accepted"


def test_checker_lower_bounds_of_an_avg_pool_residual_net_hold():
    """The checker's own sound bounds (avg_pool2d adjoint, residual add) lie below the
    sampled rows, and it accepts the producer's CROWN certificate."""
    from certnn.verify.certificate import make_certificate
    from certnn.verify.checker import check_certificate
    g, region, spec = _case(1, 0.3)
    net = analyze(g)
    res = check_certificate(make_certificate(g, region, spec, compute_bounds(g, region, spec, method="crown")), g)
    assert res.ok, res.reasons
    _, y, _ = _samples(net, region, 5000, np.random.default_rng(11))
    assert np.all((y @ spec.C[0].T + spec.d[0]).min(axis=0) >= res.lower[0])


def test_instances_csv_accepts_the_vnncomp_unknown_marker(tmp_path):
    from certnn.verify.vnncomp import read_instances
    p = tmp_path / "instances.csv"
    p.write_text("onnx/a.onnx,vnnlib/p.vnnlib,300,-\nonnx/a.onnx,vnnlib/q.vnnlib,300,\nonnx/a.onnx,vnnlib/r.vnnlib,300,unsat\n")
    rows = read_instances(p)
    assert [r["expected"] for r in rows] == [None, None, "unsat"]
    assert rows[0]["rel"] == ("onnx/a.onnx", "vnnlib/p.vnnlib")


def test_ibp_folds_the_spec_into_the_last_affine_layer():
    """Folded IBP is at least as tight as the spec applied to the output box, strictly
    tighter somewhere, and below every sampled row."""
    from certnn.bounds.ibp import node_bounds, spec_bounds
    g, region, spec = _case(0, 0.1)
    net = analyze(g)
    folded = compute_bounds(g, region, spec, method="ibp")
    plain_lb, plain_ub = spec_bounds(*node_bounds(net, region)[net.output], spec)
    assert np.all(folded.lb >= plain_lb) and np.all(folded.ub <= plain_ub) and np.any(folded.lb > plain_lb + 1e-9)
    _, y, _ = _samples(net, region, 5000, np.random.default_rng(2))
    rows = y @ spec.C[0].T + spec.d[0]
    assert np.all(rows.min(axis=0) >= folded.lb[0]) and np.all(rows.max(axis=0) <= folded.ub[0])


def test_window_rows_equal_the_dense_sweep():
    """CROWN with single-neuron rows on windows (conv stride 2, BatchNorm, residual
    add) gives the dense sweep's bounds."""
    g = res_graph(2, size=20)
    rng = np.random.default_rng(2)
    region2 = Region.ball(rng.uniform(0, 1, (2, 1, 20, 20)), 0.05, "inf", domain=(0.0, 1.0))
    spec2 = LinearSpec.robustness([0, 1], 3)
    windowed = analyze(g)
    b1 = compute_bounds(windowed, region2, spec2, method="crown")
    assert any(p is not None for p in windowed.plans.values())
    dense = analyze(g)
    dense.plans.update({k: None for k in windowed.plans})
    b2 = compute_bounds(dense, region2, spec2, method="crown")
    np.testing.assert_allclose(b1.lb, b2.lb, rtol=1e-10, atol=1e-10)
    for k in b1.intermediate:
        np.testing.assert_allclose(b1.intermediate[k][0], b2.intermediate[k][0], rtol=1e-10, atol=1e-10)


def test_alpha_crown_modes_say_which_ran_and_both_tighten_crown():
    g, region, spec = _case(0, 0.5)
    crown_lb = compute_bounds(g, region, spec, method="crown").lb
    spec_mode = compute_bounds(g, region, spec, method="alpha-crown", iters=20)
    full = compute_bounds(g, region, spec, method="alpha-crown", iters=20, alpha_mode="full")
    assert (spec_mode.alpha_mode, full.alpha_mode) == ("spec", "full")
    assert np.all(spec_mode.lb >= crown_lb - 1e-12) and np.all(full.lb >= crown_lb - 1e-12)
    assert spec_mode.lb.min() > crown_lb.min() + 1e-6
    _, y, _ = _samples(analyze(g), region, 5000, np.random.default_rng(4))
    rows = y @ spec.C[0].T + spec.d[0]
    assert np.all(rows.min(axis=0) >= spec_mode.lb[0]) and np.all(rows.max(axis=0) <= spec_mode.ub[0])


def test_verify_case_certifies_an_unsat_on_a_residual_net(tmp_path):
    """verify_case in certifiable mode goes through the graph engine and its proof is
    written and re-checked by certify (the path `certnn vnncomp run --cert` takes)."""
    from certnn.verify.bab_certificate import certify
    g, region, spec = _case(2, 0.5)
    v = verify_case(g, region, spec, 30, certifiable=True)
    assert v.status == "unsat"
    summary = certify(v, g, [(region, spec)], None, tmp_path / "cert.json")
    assert summary.get("checked") and summary["leaves"] >= 2, summary


def test_easy_cases_are_proved_at_the_quick_root():
    """A small ball is proved by CROWN and the spec rows' slopes alone, before the long
    attacks and the alpha-CROWN root: the alpha root never runs, and the answer
    holds on dense samples."""
    g, region, spec = _case(0, 0.01)
    v = verify_case(g, region, spec, 30)
    assert v.status == "unsat"
    assert v.stats["crown_lb"] > 0 and "alpha_crown_lb" not in v.stats
    net = analyze(g)
    _, y, _ = _samples(net, region, 4000, np.random.default_rng(5))
    assert np.all((y @ spec.C[0].T + spec.d[0]).min(axis=0) > 0)


def test_harder_cases_go_on_past_the_quick_root():
    g, region, spec = _case(0, 0.5)
    v = verify_case(g, region, spec, 30)
    assert v.stats["crown_lb"] <= 0 and "alpha_crown_lb" in v.stats      # the quick root did not decide it
    assert v.status in ("unsat", "timeout")


def test_the_queue_keeps_the_root_unstable_neurons_and_gives_back_full_arrays():
    from certnn.verify.bab_graph import _Doms, _Queue, _top
    g, region, spec = _case(0, 0.6)
    net = analyze(g)
    root = root_bounds(net, region)
    relu_of = relu_inputs(net)
    keep = {z: np.flatnonzero(((root[z][0] < 0) & (root[z][1] > 0)).reshape(-1)) for z in relu_of}
    rng = np.random.default_rng(0)
    n, K = 5, 2

    def doms(n, start):
        full = lambda z, lead, f: f((n,) + lead + net.shape(z))  # noqa: E731
        mask = {z: np.isin(np.arange(net.size(z)), keep[z]).reshape(net.shape(z)) for z in relu_of}
        splits = {z: (full(z, (), lambda s: rng.integers(-1, 2, s)) * mask[z]).astype(np.int8) for z in relu_of}
        betas = {z: (full(z, (K,), rng.random) * mask[z]).astype(np.float32) for z in relu_of}
        scores = {z: np.where(mask[z], full(z, (), rng.random), -1.0).astype(np.float32) for z in relu_of}
        alphas = {r: full(z, (K,), rng.random).astype(np.float32) for z, r in relu_of.items()}
        alphas["other"] = rng.random((n, K, 3, 2)).astype(np.float32)      # not a relu's: kept whole
        return _Doms(splits, alphas, betas, *_top(scores, list(relu_of), 3), rng.standard_normal((n, K)),
                     np.arange(n) + start, np.arange(n) + 10 * start, None), mask

    q = _Queue(net, keep, relu_of, doms(1, 0)[0])
    a, mask = doms(n, 1)
    b, _ = doms(3, 2)
    q.push(a)
    q.push(b)
    assert len(q) == n + 3
    per = q.bytes_per_domain()
    assert per < sum(v[0].nbytes for part in (a.splits, a.alphas, a.betas) for v in part.values())
    cap = len(q.alive)
    slots = np.flatnonzero(q.alive)[:n]                         # a's, in the order pushed
    got = q.pop(slots)
    assert len(q) == 3
    np.testing.assert_array_equal(got.lb, a.lb)
    np.testing.assert_array_equal(got.depth, a.depth)
    for z, r in relu_of.items():
        np.testing.assert_array_equal(got.splits[z], a.splits[z])
        np.testing.assert_array_equal(got.betas[z], a.betas[z])
        np.testing.assert_array_equal(got.alphas[r], np.where(mask[z], a.alphas[r], 0.0))
    np.testing.assert_array_equal(got.alphas["other"], a.alphas["other"])
    np.testing.assert_array_equal(got.cands, a.cands)
    np.testing.assert_array_equal(got.cand_scores, a.cand_scores)
    q.push(got)                                   # freed slots are reused
    assert len(q) == n + 3 and len(q.alive) == cap


def test_the_queue_gives_the_lowest_keys_first_as_a_stable_sort_would():
    from certnn.verify.bab_graph import _Doms, _Queue
    rng = np.random.default_rng(3)
    net_keep = {"z": np.arange(4)}

    def doms(n):
        return _Doms({"z": np.zeros((n, 4), np.int8)}, {}, {}, np.zeros((n, 1), np.int64),
                     np.zeros((n, 1), np.float32), rng.standard_normal((n, 1)), np.zeros(n, np.int64),
                     np.zeros(n, np.int64), None)

    class _Net:
        def size(self, z):
            return 4

        def shape(self, z):
            return (4,)

    q = _Queue(_Net(), net_keep, {"z": "r"}, doms(1))
    q.reserve(40)
    assert len(q.alive) == 40 and len(q) == 0
    for _ in range(30):
        n = int(rng.integers(1, 12))
        key = rng.choice([-2.0, -1.0, -0.5, 0.25, np.nan], n)       # ties, and NaN (taken first)
        q.push(doms(n), key)
        if len(q) > 30:
            q.pop(q.best(int(rng.integers(1, len(q)))))
        open_ = np.flatnonzero(q.alive)
        k = np.nan_to_num(q.key[open_], nan=-np.inf)
        want = open_[np.argsort(k, kind="stable")]
        for m in (1, 3, len(open_)):
            np.testing.assert_array_equal(q.best(m), want[:m])
    assert len(q.alive) >= 40                      # it grows past the reservation when it must


def test_clipped_bounds_copy_only_the_split_nodes():
    from certnn.bounds.split import clipped
    B = 3
    net, region, root, splits, C, d = _batch(B)
    z0, z1 = list(splits)[:2]
    i = _unstable(root, z0)[0]
    splits[z0][1].reshape(-1)[i] = 1
    splits[z0][2].reshape(-1)[i] = -1
    b = clipped(root, splits)
    assert b[z1][0] is root[z1][0] and b[z1][1] is root[z1][1]     # unsplit: the root's, broadcast
    lo, hi = (x.reshape(B, -1)[:, i] for x in b[z0])
    l0, u0 = (x.reshape(-1)[i] for x in root[z0])
    np.testing.assert_array_equal(lo, [l0, 0.0, l0])
    np.testing.assert_array_equal(hi, [u0, u0, 0.0])


def test_a_subproblem_keeps_its_best_candidates_first():
    from certnn.verify.bab_graph import _top
    scores = {"a": np.array([[0.5, -1.0, 2.0], [-1.0, -1.0, -1.0]]), "b": np.array([[[2.0, 0.1]], [[-1.0, 0.0]]])}
    idx, val = _top(scores, ["a", "b"], 3)
    np.testing.assert_array_equal(idx, [[2, 3, 0], [4, 0, 1]])        # ties: the first; flat over a then b
    np.testing.assert_array_equal(val, [[2.0, 2.0, 0.5], [0.0, -1.0, -1.0]])
    idx1, val1 = _top(scores, ["a", "b"], 1)
    np.testing.assert_array_equal(idx1[:, 0], idx[:, 0])
    np.testing.assert_array_equal(val1[:, 0], val[:, 0])


def test_fsb_keeps_the_candidate_whose_better_or_worse_child_bounds_best():
    """``_choose`` against each candidate's two children swept one at a time with
    the parent's parameters: the candidate kept is the one whose better ("max")
    or worse ("min") child has the best bound (a case where the two differ)."""
    g, region, spec = _case(4, 0.5)
    net = analyze(g)
    root = root_bounds(net, region)
    zs = list(relu_inputs(net))
    splits0 = {z: np.zeros((1,) + net.shape(z), np.int8) for z in zs}
    sb = split_bounds(net, region, spec.C, spec.d, root, splits0, iters=10)
    k = 6
    dom = _Doms(splits0, _f32(sb.alphas), _f32(sb.betas), *_top(sb.scores, zs, k), sb.lb,
                np.zeros(1, np.int64), np.zeros(1, np.int64), None)
    assert np.all(dom.cand_scores[0] >= 0)
    offs = np.cumsum([0] + [net.size(z) for z in zs])
    kids = []
    for flat in dom.cands[0]:
        j = int(np.searchsorted(offs, flat, side="right") - 1)
        pair = []
        for sign in (1, -1):
            sp = {z: v.copy() for z, v in splits0.items()}
            sp[zs[j]].reshape(-1)[flat - offs[j]] = sign
            lb = sweep(net, region, spec.C, spec.d, root, sp, dom.alphas, dom.betas)[0]
            pair.append(float(group_score(lb, spec.groups)[0]))
        kids.append(pair)
    kids = np.array(kids)
    want = {r: int(dom.cands[0][np.argmax(f(kids, axis=1))]) for r, f in (("max", np.max), ("min", np.min))}
    assert want["max"] != want["min"]
    for reduce in ("max", "min"):
        node, idx = _choose(net, region, spec.C, spec.d, root, dom, spec.groups, "fsb", k, reduce=reduce)
        assert int(offs[node[0]] + idx[0]) == want[reduce]


def test_the_queue_budget_follows_the_memory_available(monkeypatch):
    import certnn.verify.bab_graph as bg
    monkeypatch.setattr(bg, "available_bytes", lambda: 8 << 30)
    assert bg.queue_budget() == 2 << 30                        # a quarter of 8 GiB, under DOMAIN_BYTES
    monkeypatch.setattr(bg, "available_bytes", lambda: 64 << 30)
    assert bg.queue_budget() == bg.DOMAIN_BYTES
    monkeypatch.setattr(bg, "available_bytes", lambda: None)
    assert bg.queue_budget() == bg.DOMAIN_BYTES


def test_a_search_past_its_queue_budget_ends_unknown(monkeypatch):
    import certnn.verify.bab_graph as bg
    monkeypatch.setattr(bg, "queue_budget", lambda: 1)          # room for the 64-sub-problem minimum
    g, region, spec = _case(0, 0.9)
    net = analyze(g)
    res = relu_split_graph(net, region, spec.C, spec.d, spec.groups, root_bounds(net, region),
                           time.monotonic() + 30, None, batch=32, iters=1, root_iters=5)
    assert res.status == "unknown" and res.stats["reason"] == "too many open sub-problems"
    assert res.stats["branches"] > 0
