import numpy as np
import pytest

from certnn.zoo import load_checkpoint
from certnn.errors import TrainingError
from certnn.data.mnist import mnist_arrays
from certnn.zoo import input_shape
from certnn.zoo.train import TrainConfig, train_mnist
from certnn import Tensor

QUICK = dict(epochs=1, limit_train=3000, limit_test=1000)


def test_quick_mlp_training_learns_and_checkpoints(tmp_path):
    res = train_mnist(TrainConfig(**QUICK), out=tmp_path / "ck", progress=False, log=lambda s: None)
    assert res["test_accuracy"] > 0.8
    assert res["params"] == 784 * 128 + 128 + 128 * 10 + 10
    assert set(res) >= {"test_accuracy", "epochs", "wall_seconds", "params"}
    m, meta = load_checkpoint(tmp_path / "ck")
    x, y = mnist_arrays(input_shape(meta["config"]), None, "test")
    acc = float((m(Tensor(x[:1000])).data.argmax(1) == y[:1000]).mean())
    assert acc == pytest.approx(res["test_accuracy"], abs=0)


def test_same_seed_identical_weights_eager_and_compiled(tmp_path):
    a = train_mnist(TrainConfig(**QUICK), out=tmp_path / "a",
                    progress=False, log=lambda s: None)
    b = train_mnist(TrainConfig(**QUICK, compiled=False), out=tmp_path / "b", progress=False, log=lambda s: None)
    wa = np.load(tmp_path / "a" / "weights.npz")
    wb = np.load(tmp_path / "b" / "weights.npz")
    for k in wa.files:
        assert np.array_equal(wa[k], wb[k]), k
    assert a["test_accuracy"] == b["test_accuracy"]


def test_cnn_trains():
    res = train_mnist(TrainConfig(arch="cnn", width=4, epochs=1, limit_train=2000, limit_test=500, lr=0.1),
                      progress=False, log=lambda s: None)
    assert res["test_accuracy"] > 0.5


def test_nan_loss_stops_with_step(tmp_path):
    with pytest.raises(TrainingError, match=r"epoch 1, step \d+"):
        train_mnist(TrainConfig(epochs=1, limit_train=2000, limit_test=100, lr=1e8, optimizer="sgd",
                                momentum=0.0, schedule="constant"),
                    out=tmp_path / "ck", progress=False, log=lambda s: None)
    assert not (tmp_path / "ck").exists()
