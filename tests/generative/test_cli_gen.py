"""`certnn gen` (train, sample), end to end in-process."""

import json

from tests.cli_run import run_cli


def test_train_json_then_sample(tmp_path):
    run = tmp_path / "vae"
    code, out, err = run_cli("gen", "train", "vae", "--out", run, "--epochs", "1", "--limit-train", "256",
                          "--limit-test", "64", "--json", "--no-progress")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["model"] == "vae" and o["epochs"] == 1 and 100 < o["test_loss"] < 600 and o["wall_seconds"] > 0
    code, out, err = run_cli("gen", "sample", run, "--n", "9", "--out", tmp_path / "grid.png")
    assert code == 0, err
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_requests_are_one_line_errors(tmp_path):
    code, _, err = run_cli("gen", "train", "vae", "--data", "toy2d", "--out", tmp_path / "x", "--no-progress")
    assert code == 1 and err.startswith("error:") and "image model" in err
    code, _, err = run_cli("gen", "sample", tmp_path / "missing", "--out", tmp_path / "g.png")
    assert code == 1 and err.startswith("error:")
    assert not (tmp_path / "g.png").exists()


def test_conditional_train_sample_one_class(tmp_path):
    run = tmp_path / "cvae"
    code, out, err = run_cli("gen", "train", "cvae", "--data", "toy2d", "--out", run, "--epochs", "1",
                             "--limit-train", "512", "--limit-test", "64", "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["model"] == "cvae"
    code, out, err = run_cli("gen", "sample", run, "--n", "30", "--label", "2", "--out", tmp_path / "c2.png")
    assert code == 0, err
    code, _, err = run_cli("gen", "sample", run, "--label", "3", "--out", tmp_path / "c3.png")
    assert code == 1 and "classes 0..2" in err and not (tmp_path / "c3.png").exists()


def test_latent_ddpm_train_and_sample_with_a_sampler(tmp_path):
    run = tmp_path / "ldm"
    code, out, err = run_cli("gen", "train", "latent-ddpm", "--out", run, "--epochs", "1", "--limit-train", "128",
                             "--limit-test", "32", "--json", "--no-progress")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["model"] == "latent-ddpm" and o["history"][0]["vae_test_loss"] == o["test_loss"]
    code, out, err = run_cli("gen", "sample", run, "--n", "4", "--steps", "3", "--out", tmp_path / "l.png")
    assert code == 0, err
    code, _, err = run_cli("gen", "sample", tmp_path / "ldm", "--n", "4", "--label", "1", "--out", tmp_path / "x.png")
    assert code == 1 and "conditional" in err and not (tmp_path / "x.png").exists()
