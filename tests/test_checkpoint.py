import json

import numpy as np
import pytest

from certnn import Tensor
from certnn.interop.checkpoint import load_graph, save_checkpoint
from certnn.zoo import load_checkpoint
from certnn.ir.compile import compile
from certnn.errors import CheckpointError
from certnn.ir import evaluate
from certnn.random import manual_seed
from certnn.zoo import build


@pytest.fixture
def ckpt(tmp_path):
    manual_seed(1)
    cfg = {"arch": "cnn", "in_channels": 1, "num_classes": 10, "width": 4, "image_size": 28}
    m = build(cfg).eval()
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    save_checkpoint(tmp_path / "ck", m, cfg, compile(m, x).graph, info={"note": "test"})
    return tmp_path / "ck", m, x


def test_load_reproduces_predictions_exactly(ckpt):
    path, m, x = ckpt
    m2, meta = load_checkpoint(path)
    assert np.array_equal(m(Tensor(x)).data, m2(Tensor(x)).data)
    g = load_graph(path / "checkpoint.json")
    (y,), _, _ = evaluate(g, {"x": x})
    assert np.array_equal(y, m(Tensor(x)).data)
    assert meta["info"]["note"] == "test"


def test_truncated_weights_rejected(ckpt):
    path, _, _ = ckpt
    w = path / "weights.npz"
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="SHA-256.*truncated or modified"):
        load_checkpoint(path)


def test_truncated_or_wrong_version_json_rejected(ckpt):
    path, _, _ = ckpt
    meta = path / "checkpoint.json"
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)
    meta.write_text(json.dumps(json.loads(text) | {"version": 7}))
    with pytest.raises(CheckpointError, match="version 7"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(path / "nope")


def test_no_partial_files_on_failure(tmp_path, monkeypatch):
    import certnn.interop.checkpoint as ck
    m = build({"arch": "mlp", "hidden": [4], "in_features": 3})

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ck.json, "dump", boom)
    with pytest.raises(RuntimeError):
        save_checkpoint(tmp_path / "ck", m, {"arch": "mlp", "hidden": [4], "in_features": 3})
    assert not (tmp_path / "ck" / "checkpoint.json").exists()
    assert not [p for p in (tmp_path / "ck").iterdir() if p.name.endswith(".tmp")]


def test_weights_file_is_not_a_pickle(ckpt):
    path, _, _ = ckpt
    with np.load(path / "weights.npz", allow_pickle=False) as z:
        assert "0.weight" in z.files
