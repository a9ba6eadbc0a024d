"""Finite MDPs: validation, Bellman operators, certified value iteration against exact V*."""

import json
from fractions import Fraction

import numpy as np
import pytest

from certnn.rl.mdp import MDP, MDPError
from certnn.rl.mdp_check import check_values, is_fixed_point, q_exact, round_up, fmpq_of
from certnn.rl.solve import (evaluate_policy_exact, exact_distance, forest, policy_iteration,
                             value_iteration)


def random_mdp(rng, S, A, gamma):
    P = rng.random((A, S, S)) ** 3
    P /= P.sum(axis=2, keepdims=True)
    return MDP(P, rng.normal(size=(S, A)), gamma)


def test_validation_errors_name_the_problem():
    P = np.array([[[0.5, 0.5], [1.0, 0.0]]])
    R = np.zeros((2, 1))
    MDP(P, R, 0.9)
    with pytest.raises(MDPError, match=r"transitions\[a=0\]\[s=1\] sums to 0.9"):
        MDP(np.array([[[0.5, 0.5], [0.9, 0.0]]]), R, 0.9)
    with pytest.raises(MDPError, match=r"transitions\[0\]\[1\]\[1\] = -0.1 is negative"):
        MDP(np.array([[[0.5, 0.5], [1.1, -0.1]]]), R, 0.9)
    with pytest.raises(MDPError, match="gamma"):
        MDP(P, R, 1.0)
    with pytest.raises(MDPError, match="gamma"):
        MDP(P, R, -0.1)
    with pytest.raises(MDPError, match=r"rewards must have shape \(S, A\) = \(2, 1\)"):
        MDP(P, np.zeros((1, 2)), 0.5)
    with pytest.raises(MDPError, match="not a finite number"):
        MDP(P, np.array([[np.nan], [0.0]]), 0.5)
    with pytest.raises(MDPError, match=r"\(A, S, S\)"):
        MDP(np.ones((1, 2, 3)) / 3, R, 0.5)


def test_json_numbers_are_exact_decimals(tmp_path):
    doc = {"gamma": 0.9, "transitions": [[[0.1, 0.9], ["1/3", "2/3"]]], "rewards": [[1], [0.3]]}
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    m = MDP.from_json(p)
    assert m.exact["P"][0][0][0] == Fraction(1, 10) and m.exact["P"][0][1][0] == Fraction(1, 3)
    assert m.exact_gamma() == Fraction(9, 10)
    p.write_text(json.dumps({"gamma": 0.9, "transitions": [[[0.1, "x"]]], "rewards": [[1]]}))
    with pytest.raises(MDPError, match=r"m.json: \[transitions\]\[0\]\[0\]\[1\]"):
        MDP.from_json(p)
    p.write_text("{")
    with pytest.raises(MDPError, match="not valid JSON"):
        MDP.from_json(p)


def test_bellman_operators():
    m = forest()
    v = np.array([1.0, 2.0, 3.0])
    q = m.q_values(v)
    # wait in state 0: 0 + 0.96 (0.1 v0 + 0.9 v1); cut in the oldest state: 2 + 0.96 v0
    assert q[0, 0] == pytest.approx(0.96 * (0.1 * 1 + 0.9 * 2))
    assert q[2, 1] == pytest.approx(2 + 0.96 * 1)
    assert np.array_equal(m.bellman_optimality(v), q.max(axis=1))
    assert np.allclose(m.bellman_policy(v, np.array([1, 0, 1])), q[np.arange(3), [1, 0, 1]])
    assert np.allclose(m.bellman_policy(v, np.full((3, 2), 0.5)), q.mean(axis=1))
    exact = q_exact(m, [1, 2, 3])
    assert all(float(exact[s][a]) == pytest.approx(q[s, a]) for s in range(3) for a in range(2))


def test_forest_exact_value_and_certified_vi():
    m = forest()                                 # pymdptoolbox's example, gamma 0.96
    pi = policy_iteration(m)
    assert np.allclose(pi.floats(), [74.6496, 78.1056, 82.1056], atol=1e-4)
    assert is_fixed_point(m, pi.values)
    res = value_iteration(m, eps=0.01)
    assert res.eps_optimal and res.evidence == "certified"
    assert exact_distance(res.values, pi.values) <= res.bound < 0.01
    assert np.array_equal(res.policy, pi.policy)


def test_certified_bound_holds_on_two_thousand_random_mdps():
    rng = np.random.default_rng(0)
    for k in range(2000):
        m = random_mdp(rng, int(rng.integers(1, 5)), int(rng.integers(1, 4)), float(rng.random() * 0.8))
        res = value_iteration(m, eps=1e-2)
        pi = policy_iteration(m)
        assert exact_distance(res.values, pi.values) <= res.bound
        assert res.eps_optimal
        if k % 10 == 0:   # the certified policy bound: its exact value is within policy_bound of V*
            assert exact_distance(pi.values, evaluate_policy_exact(m, res.policy)) <= res.policy_bound


def test_check_uses_the_exact_row_sums():
    # rows summing to 1 + 1e-12 make T a gamma (1 + 1e-12)-contraction: the modulus says so
    P = np.array([[[0.5, 0.5 + 1e-12], [0.0, 1.0]]])
    m = MDP(P, np.array([[1.0], [0.0]]), 0.5)
    c = check_values(m, [0.0, 0.0])
    assert c.modulus > fmpq_of(0.5)


def test_a_wrong_value_vector_gets_a_large_bound():
    m = forest()
    good = value_iteration(m, eps=1e-3)
    bad = check_values(m, good.values + 5)      # T contracts the error by 0.96 only
    assert bad.value_bound > 4 and not bad.eps_optimal(1e-3)


def test_round_up_is_an_upper_bound():
    q = fmpq_of(Fraction(1, 3))
    f = round_up(q)
    assert fmpq_of(f) >= q and fmpq_of(np.nextafter(f, -np.inf)) < q


def test_vi_without_an_eps_optimal_answer_says_so():
    m = forest()
    res = value_iteration(m, eps=1e-9, max_iter=5)
    assert not res.eps_optimal and res.iterations == 5
    assert exact_distance(res.values, policy_iteration(m).values) <= res.bound


@pytest.fixture
def forest_certificate(tmp_path):
    from certnn.rl.solve import save_certificate
    mdp_file, cert = tmp_path / "forest.json", tmp_path / "cert.json"
    mdp_file.write_text(json.dumps(forest().to_json()))
    res = value_iteration(MDP.from_json(mdp_file), eps=0.01)
    save_certificate(res, mdp_file, cert)
    return mdp_file, cert, json.loads(cert.read_text())


def _tampered(cert, doc, **changes):
    cert.write_text(json.dumps(dict(doc, **changes)))
    return cert


def test_value_certificate_is_accepted_and_tampering_is_refused(forest_certificate):
    from certnn.rl.mdp_check import check_certificate
    mdp_file, cert, doc = forest_certificate
    ok = check_certificate(mdp_file, cert)
    assert ok.ok and ok.bound == doc["bound"] and ok.to_dict()["evidence"] == "certified"
    refused = {
        "bound": dict(bound=doc["bound"] / 2),
        "policy_bound": dict(policy_bound=0.0),
        r"values\[1\]": dict(values=[doc["values"][0], float(np.nextafter(doc["values"][1], 0)), doc["values"][2]]),
        r"policy\[2\]": dict(policy=[0, 0, 1]),
        "lengths": dict(policy=[0, 0]),
    }
    for message, change in refused.items():
        res = check_certificate(mdp_file, _tampered(cert, doc, **change))
        assert not res.ok and any(__import__("re").search(message, p) for p in res.problems), (message, res.problems)
        assert res.to_dict()["evidence"] == "refuted"


def test_a_consistent_forgery_from_another_iterate_is_refused(forest_certificate):
    # values and policy recomputed from a far iterate are consistent, but the old small bound no longer holds
    from certnn.rl.mdp_check import check_certificate
    mdp_file, cert, doc = forest_certificate
    far = [x + 5 for x in doc["iterate"]]
    c = check_values(MDP.from_json(mdp_file), far)
    res = check_certificate(mdp_file, _tampered(cert, doc, iterate=far, values=c.values.tolist(),
                                                policy=c.policy.tolist()))
    assert not res.ok and len(res.problems) == 2 and res.problems[0].startswith("bound")


def test_a_certificate_of_another_mdp_or_malformed_is_refused(forest_certificate):
    from certnn.rl.mdp_check import check_certificate
    mdp_file, cert, doc = forest_certificate
    other = mdp_file.parent / "other.json"
    m = forest().to_json()
    m["rewards"][0][0] = 1
    other.write_text(json.dumps(m))
    res = check_certificate(other, cert)
    assert not res.ok and "is not the MDP the certificate is about" in res.problems[0]
    bad = {k: v for k, v in doc.items() if k != "iterate"}
    cert.write_text(json.dumps(bad))
    with pytest.raises(MDPError, match="cert.json: the certificate is malformed.*iterate"):
        check_certificate(mdp_file, cert)
