"""`certnn dp` (epsilon, train mnist, audit), end to end in-process."""

import json

import pytest

from certnn.theory.accounting import dpsgd_privacy

from tests.cli_run import run_cli


def test_epsilon_prints_both_accountants():
    # the published settings (q = 256/60000, sigma 1.1, 60 epochs) are checked in test_dp; here a cheaper run
    code, out, err = run_cli("dp", "epsilon", "--sample-rate", "0.01", "--noise-multiplier", "1.0",
                          "--epochs", "1", "--delta", "1e-5", "--json")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    ref = dpsgd_privacy(0.01, 1.0, 100, 1e-5)
    assert o["steps"] == 100 and o["epsilon_rdp"] == ref.epsilon_rdp and o["epsilon_pld"] == ref.epsilon_pld
    assert o["evidence"] == "assumed" and "dp-accounting-upper-bound" in o["assumptions"]
    code, out, _ = run_cli("dp", "epsilon", "--sample-rate", "0.01", "--noise-multiplier", "1.0", "--epochs", "1",
                        "--delta", "1e-5")
    assert code == 0 and "(RDP)" in out and "(PLD)" in out and "upper bounds" in out


@pytest.mark.parametrize("args", [["--sample-rate", "1.5"], ["--delta", "1"], ["--noise-multiplier", "0"]])
def test_epsilon_rejects_bad_options(args):
    base = {"--sample-rate": "0.01", "--noise-multiplier": "1.0", "--epochs": "1", "--delta": "1e-5"}
    base.update(dict(zip(args[::2], args[1::2])))
    code, _, err = run_cli("dp", "epsilon", *[a for kv in base.items() for a in kv])
    assert code == 2 and args[0] in err


def test_train_mnist_reports_accuracy_and_both_epsilons():
    code, out, err = run_cli("dp", "train", "mnist", "--epochs", "1", "--sample-rate", "0.1", "--limit-train", "300",
                          "--limit-test", "100", "--noise-multiplier", "1.0", "--json", "--no-progress")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["steps"] == 10 and 0 <= o["test_accuracy"] <= 1 and o["noise_multiplier"] == 1.0
    assert 0 < o["epsilon_pld"] <= o["epsilon_rdp"]


def test_train_mnist_scatter_learns_and_reports_dp_accountings_epsilons(tmp_path, monkeypatch):
    pytest.importorskip("kymatio")
    import dp_accounting as dpa
    from dp_accounting import pld, rdp
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))           # the feature cache
    code, out, err = run_cli("dp", "train", "mnist", "--features", "scatter", "--epochs", "1", "--sample-rate", "0.1",
                          "--limit-train", "300", "--limit-test", "100", "--noise-multiplier", "1.0", "--json",
                          "--no-progress")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["model"] == "scatternet-linear" and o["steps"] == 10
    assert (o["config"]["max_grad_norm"], o["config"]["momentum"]) == (0.1, 0.9)      # the recipe's defaults
    assert o["test_accuracy"] > 0.4                                                    # chance: 0.1
    event = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.1, dpa.GaussianDpEvent(1.0)), 10)
    for acc, key in ((rdp.RdpAccountant(), "epsilon_rdp"), (pld.PLDAccountant(), "epsilon_pld")):
        acc.compose(event)
        assert o[key] == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)
    code, _, err = run_cli("dp", "train", "mnist", "--features", "scatter", "--groups", "10", "--limit-train", "10")
    assert code == 1 and "--groups" in err


def test_audit_catches_the_broken_implementation():
    code, out, err = run_cli("dp", "audit", "--trials", "100", "--fault", "noise-0.1", "--json")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["caught"] and o["implementation"] == "NoiseTimesTenth" and o["epsilon_lower"] > o["epsilon_upper"]
    code, out, _ = run_cli("dp", "audit", "--trials", "100")
    assert code == 0 and "consistent with the accountant" in out
