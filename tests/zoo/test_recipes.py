"""Every zoo recipe runs end to end at a tiny size (a few steps): the result
names its metric, the checkpoint rebuilds the module (``load_checkpoint``) with
the same outputs, and ``certnn zoo`` lists and trains from the command line."""

import json

import numpy as np
import pytest

from certnn import Tensor, zoo
from certnn.errors import CertnnError

TINY = {
    "cnn": dict(model={"width": 2, "hidden": 4}),
    "resnet": dict(model={"width": 2}),
    "vit": dict(model={"dim": 8, "depth": 1, "heads": 2}),
    "rnn": dict(model={"hidden": 4}), "gru": dict(model={"hidden": 4}), "lstm": dict(model={"hidden": 4}),
    "chargpt": dict(model={"n_layer": 1, "n_embd": 8, "n_head": 2}, steps_per_epoch=2,
                    data={"block_size": 16, "eval_chars": 2000, "sample_chars": 20}),
    "gpt-adder": dict(model={"n_layer": 1, "n_embd": 6, "n_head": 2}, steps_per_epoch=2),
    "mamba": dict(model={"n_layer": 1, "d_model": 8, "d_state": 2}, steps_per_epoch=2,
                  data={"block_size": 16, "eval_chars": 2000, "sample_chars": 20}),
    "fno": dict(model={"width": 4, "modes": 4, "depth": 2}, data={"n_train": 8, "n_test": 4, "fine": 128,
                                                                    "resolution": 64, "eval_resolutions": [32]}),
}
MNIST = dict(limit_train=64, limit_test=32)


@pytest.mark.parametrize("name", sorted(TINY))
def test_recipe_runs_and_checkpoints(name, tmp_path):
    kw = dict(TINY[name])
    if zoo.entry(name).trainer == "classifier":
        kw.update(MNIST)
    res = zoo.train(name, out=tmp_path / "ck", progress=False, log=lambda s: None, epochs=1, batch_size=8, **kw)
    assert res["metric"] in res["history"][-1] and res["value"] == res["history"][-1][res["metric"]]
    assert res["wall_seconds"] > 0 and res["params"] > 0
    if zoo.entry(name).trainer == "classifier":
        assert res["test_accuracy"] == res["value"]
    m, meta = zoo.load_checkpoint(tmp_path / "ck")
    from certnn.interop.checkpoint import load_graph
    from certnn.ir.run import run
    g = load_graph(tmp_path / "ck")
    x = np.random.default_rng(0).random((2,) + tuple(g.inputs[0].shape[1:])).astype(np.float32)
    if g.inputs[0].dtype.startswith("int"):
        x = np.random.default_rng(0).integers(0, 10, (2,) + tuple(g.inputs[0].shape[1:]))
    np.testing.assert_allclose(m(Tensor(x)).data, run(g, x), rtol=1e-5, atol=1e-6)


def test_unknown_model_and_setting_are_named():
    with pytest.raises(CertnnError, match="unknown zoo model 'bert'"):
        zoo.train("bert")
    with pytest.raises(CertnnError, match="unknown recipe setting"):
        zoo.train("cnn", momentun=0.5)


def test_cli_list_and_train_json(tmp_path):
    from click.testing import CliRunner

    from certnn.cli import cli
    r = CliRunner().invoke(cli, ["zoo", "list"])
    assert r.exit_code == 0 and all(name in r.output for name in zoo.ZOO)
    r = CliRunner().invoke(cli, ["zoo", "train", "gpt-adder", "--epochs", "1", "--steps-per-epoch", "2",
                                 "--set", "model.n_layer=1", "--set", "model.n_embd=6", "--set", "model.n_head=2",
                                 "--json", "--no-progress"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output.strip().splitlines()[-1])
    assert {"metric", "value", "wall_seconds", "params"} <= set(res) and res["metric"] == "exact_match"
    r = CliRunner().invoke(cli, ["zoo", "train", "cnn", "--set", "width=3"])
    assert r.exit_code != 0 and "model.KEY=VALUE" in r.output
