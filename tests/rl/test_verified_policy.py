"""Verified policies: the greedy action certified constant over state boxes, certificates accepted by the
independent checker, tampering rejected."""

import json

import numpy as np

from certnn import nn
from certnn.ir.trace import trace
from certnn.rl.verified_policy import action_spec, actions_of, grid, verify_policy
from certnn.verify.certificate import load_certificate, save_certificate
from certnn.verify.checker import check_certificate


def lean_net():
    """Q(s) = (relu(-w) + relu(w), ...) with Q_right - Q_left = 2 w, w = theta_dot (state index 3):
    the greedy action is push right (1) exactly when the pole's angular velocity is positive."""
    net = nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2)).to(np.float64)
    l1, l2 = net[0], net[2]
    l1.weight.data[...] = [[0, 0, 0, 1], [0, 0, 0, -1]]
    l1.bias.data[...] = 0
    l2.weight.data[...] = [[-1, 1], [1, -1]]      # Q_left = -w, Q_right = w (as relu(w) - relu(-w))
    l2.bias.data[...] = 0
    graph, _ = trace(net.eval(), np.zeros((1, 4)))
    return graph


def test_grid_covers_the_rectangle():
    lo, hi = grid([0, -1], [2, 1], 2)
    assert lo.shape == (4, 2)
    assert lo.tolist() == [[0, -1], [0, 0], [1, -1], [1, 0]] and hi.tolist() == [[1, 0], [1, 1], [2, 0], [2, 1]]


def test_greedy_action_certified_where_it_is_constant(tmp_path):
    g = lean_net()
    lo, hi = grid([-1, -1, -1, -1.5], [1, 1, 1, 1.5], 3)     # theta_dot boxes [-1.5,-.5], [-.5,.5], [.5,1.5]
    res = verify_policy(g, lo, hi, tmp_path)
    straddle = (lo[:, 3] < 0) & (hi[:, 3] > 0)
    assert res.certified == int((~straddle).sum()) == 54 and res.checker_ok
    assert res.actions == {0: 27, 1: 27} and res.evidence == "certified"
    assert json.loads((tmp_path / "policy-boxes-report.json").read_text())["certified"] == 54


def test_stated_safety_property(tmp_path):
    # "if the pole's angular velocity is at least 0.1, push right" on a grid of that half-space
    g = lean_net()
    lo, hi = grid([-2.4, -3, -0.21, 0.1], [2.4, 3, 0.21, 3.5], 2)
    res = verify_policy(g, lo, hi, tmp_path, actions=np.ones(len(lo), int), name="push-right")
    assert res.certified == res.boxes == 16 and res.fraction == 1.0
    lo[:, 3] -= 0.2                                          # now boxes reach negative velocities
    res = verify_policy(g, lo, hi, tmp_path, actions=np.ones(len(lo), int), name="push-right-2")
    assert res.certified == 8


def test_tampered_certificate_is_rejected(tmp_path):
    g = lean_net()
    lo, hi = grid([-1, -1, -1, 0.5], [1, 1, 1, 1.5], 1)
    res = verify_policy(g, lo, hi, tmp_path)
    cert = load_certificate(res.certificate)
    assert actions_of(cert.spec).tolist() == [1]
    # claim the other action on the same box
    bad = action_spec([0], 2)
    cert.spec = bad
    path = save_certificate(cert, tmp_path / "tampered.json")
    check = check_certificate(path, graph=g)
    assert not check.ok and "spec" in check.reasons[0]
    # shrink nothing, widen the box: the claim no longer follows
    cert = load_certificate(res.certificate)
    from certnn.spec import Region
    cert.region = Region.box(lo - np.array([0, 0, 0, 1.0]), hi)
    check = check_certificate(save_certificate(cert, tmp_path / "wider.json"), graph=g)
    assert not check.ok


def test_actions_read_back_only_from_action_rows():
    s = action_spec([2, 0], 3)
    assert actions_of(s).tolist() == [2, 0]
    from certnn.spec import LinearSpec
    assert actions_of(LinearSpec.output_box(np.zeros((1, 3)), np.ones((1, 3)))).tolist() == [-1]
    assert actions_of(action_spec([1, 0], 1)).tolist() == [1, 0]
