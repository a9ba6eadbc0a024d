"""The graph ReLU split's settings: the alpha-CROWN root (time-boxed) holds on
dense samples, per-sub-problem refreshed intermediate bounds give unsat answers
that hold on dense samples, and bad settings are refused."""

import time

import numpy as np
import pytest

from certnn.bounds.crown import intermediate_bounds
from certnn.bounds.net import analyze
from certnn.verify.bab import verify_case
from certnn.verify.bab_graph import GraphBabOptions, root_bounds
from tests.verify.test_bab_graph import _case, _samples


def test_alpha_root_holds_on_samples_and_is_tighter_than_crown():
    g, region, _ = _case(0, 0.5)
    net = analyze(g)
    crown = root_bounds(net, region)
    alpha = root_bounds(net, region, "alpha-crown", 10)
    _, _, vals = _samples(net, region, 6000, np.random.default_rng(1))
    gain = 0.0
    for n, (lo, hi) in alpha.items():
        if n == net.input:
            continue
        v = np.asarray(vals[n]).reshape(6000, -1)       # (the evaluator's rounding: 4e-8 on the first node)
        assert np.all(v >= lo.reshape(-1) - 1e-6) and np.all(v <= hi.reshape(-1) + 1e-6)
        gain += float(np.sum(lo - crown[n][0]) + np.sum(crown[n][1] - hi))
    assert gain > 0


def test_alpha_stop_in_the_past_gives_crown_bounds():
    g, region, _ = _case(1, 0.5)
    net = analyze(g)
    crown, _ = intermediate_bounds(net, region, "crown")
    stopped, _ = intermediate_bounds(net, region, "alpha-crown", 50, alpha_stop=time.monotonic() - 1)
    for n in crown:
        np.testing.assert_allclose(stopped[n][0], crown[n][0], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(stopped[n][1], crown[n][1], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("opts", [GraphBabOptions(), GraphBabOptions(root="crown", refresh=True, branching="fsb"),
                                  GraphBabOptions(precision="float64")])
def test_verify_case_with_options_decides_a_branching_case(opts):
    g, region, spec = _case(0, 0.5)
    v = verify_case(g, region, spec, 30, graph_options=opts)
    assert v.status == "unsat"
    _, y, _ = _samples(analyze(g), region, 4000, np.random.default_rng(5))
    assert np.all((y @ spec.C[0].T + spec.d[0]).min(axis=0) > 0)


@pytest.mark.parametrize("bad", [dict(root="ibp"), dict(branching="random"), dict(root_share=0.0),
                                 dict(falsify_share=1.5), dict(precision="float16"), dict(lr_beta=0.0),
                                 dict(lr_alpha=-0.1), dict(fsb_reduce="mean"), dict(topk=0), dict(iters=-1),
                                 dict(lazy=-0.1), dict(lazy=float("nan")), dict(batch=0), dict(chain_batch=0)])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):      # the message names the field
        GraphBabOptions(**bad)


def test_options_from_key_value_pairs_take_each_fields_type():
    o = GraphBabOptions.from_pairs(["branching=fsb", "batch=64", "lazy=0.1", "chains=no", "fsb-reduce=min",
                                    "lr_beta=0.4"])
    assert (o.branching, o.batch, o.lazy, o.chains, o.fsb_reduce, o.lr_beta) == ("fsb", 64, 0.1, False, "min", 0.4)
    assert o.overrides() == {"branching": "fsb", "batch": 64, "lazy": 0.1, "chains": False, "fsb_reduce": "min",
                             "lr_beta": 0.4}
    assert GraphBabOptions.from_pairs(["lazy=none", "batch=32"]).overrides() == {}
    assert GraphBabOptions.from_pairs([]) == GraphBabOptions()


@pytest.mark.parametrize("pairs,msg", [(["x=1"], "unknown option 'x'"), (["batch=1.5"], "batch takes an integer"),
                                       (["lazy=soon"], "lazy takes a number or none"),
                                       (["chains=maybe"], "chains takes true or false"),
                                       (["=3"], "expected KEY=VALUE"), (["batch=2", "batch=3"], "batch given twice"),
                                       (["root_share=0"], "root_share must be in (0, 1]")])
def test_bad_pairs_name_the_pair_and_the_problem(pairs, msg):
    with pytest.raises(ValueError) as e:
        GraphBabOptions.from_pairs(pairs)
    assert msg in str(e.value)
