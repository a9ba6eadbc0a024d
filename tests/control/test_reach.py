"""Reachability verdicts: verified only from a sound tube (sampled trajectories stay in
it at every control step), falsified only from a replayed trajectory, else unknown."""

from dataclasses import replace

import numpy as np

from certnn.control.problem import load_problem
from certnn.control.reach import decide, default_settings
from certnn.control.simulate import Loop, corners_and_samples, simulate
from certnn.control.tube_checker import check_tube
from certnn.executor import SequentialExecutor

from ._problems import short_pendulum, toy


def _inside_tube(problem, scenario, tube, n=200, seed=0):
    """Every sampled trajectory lies, at every control step, in the range of the piece
    its initial state belongs to."""
    rng = np.random.default_rng(seed)
    x0 = scenario.inner_points(corners_and_samples(scenario.lo, scenario.hi, n, rng))
    tr = simulate(Loop.of(problem, scenario), x0)
    piece = np.argmax(np.all((x0[:, None] >= tube.piece_lo[None]) & (x0[:, None] <= tube.piece_hi[None]), -1), 1)
    for k, X in enumerate(tube.states):
        lo, hi = X.range()
        xk = tr.states[:, k * tr.per_period]
        assert np.all(xk >= lo[piece]) and np.all(xk <= hi[piece]), f"a trajectory leaves the tube at step {k}"
    return x0.shape[0]


def test_pendulum_verified_and_trajectories_stay_in_the_tube(tmp_path):
    p = load_problem(short_pendulum(tmp_path))
    s = p.scenarios[0]
    r = decide(p, s.name)
    assert r.verdict == "verified" and r.evidence == "checked" and not r.wrong and r.margin > 0
    assert _inside_tube(p, s, r.tube) > 200
    assert check_tube(r.tube, p).ok


def test_splitting_and_parallel_pieces(tmp_path):
    """A tight unsafe bound needs a split initial set; pieces built by workers merge into
    one tube that the checker accepts."""
    p = load_problem(toy(tmp_path, unsafe_b=-0.56))
    s = p.scenarios[0]
    cfg = default_settings(p, s)
    cfg.tm_order, cfg.falsify, cfg.pieces = 1, 8, 1
    r = decide(p, s.name, cfg, executor=SequentialExecutor(), workers=2)
    assert r.verdict == "verified" and r.pieces >= 2
    _inside_tube(p, s, r.tube, n=100)
    assert check_tube(r.tube, p).ok


def test_falsified_with_a_replayed_trajectory(tmp_path):
    p = load_problem(toy(tmp_path, unsafe_b=-0.45, expected="verified"))
    r = decide(p, "main")
    assert r.verdict == "falsified" and r.wrong            # the toy's expectation is deliberately wrong
    c = r.counterexample
    assert c["margin"] < 0 and c["validated"] and r.evidence == "checked"
    x0 = np.array([c["x0"]])
    assert np.all(x0 >= p.scenarios[0].lo) and np.all(x0 <= p.scenarios[0].hi)


def test_unknown_when_out_of_time(tmp_path):
    p = load_problem(short_pendulum(tmp_path))
    cfg = replace(default_settings(p, p.scenarios[0]), time_limit=1e-3)
    r = decide(p, None, cfg)
    assert r.verdict == "unknown" and r.evidence is None and r.tube is None


def test_pendulum_falsification_scenario():
    from ._problems import bench
    p = load_problem(bench("InvertedPendulum"))
    r = decide(p, "falsification")
    assert r.verdict == "falsified" and r.expected == "falsified" and not r.wrong
    assert r.counterexample["x0"] == [1.2, 0.2] and r.counterexample["binary32_replays"]
    assert r.counterexample["validated"] and r.evidence == "checked"


def test_continuous_discrete_toy_margins_agree_with_simulation(tmp_path):
    p = load_problem(toy(tmp_path, time="continuous", steps=5, unsafe_b=-1.0))
    s = p.scenarios[0]
    r = decide(p, s.name)
    assert r.verdict == "verified"
    rng = np.random.default_rng(1)
    from certnn.control.simulate import margins
    sim = margins(s.prop, simulate(Loop.of(p, s), corners_and_samples(s.lo, s.hi, 50, rng), per_period=10))
    assert 0 < r.margin <= sim.min() + 1e-9
