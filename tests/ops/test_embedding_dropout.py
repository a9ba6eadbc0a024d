"""embedding (gather) and dropout (fixed mask): values, gradients, errors."""

import numpy as np
import pytest

from certnn import Tensor
from certnn import functional as F
from certnn import nn
from certnn.errors import ShapeError
from certnn.ops import get_op


def test_embedding_gathers_and_scatters_repeated_indices():
    w = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    idx = np.array([[0, 2], [2, 2]])
    y = F.embedding(idx, w)
    assert np.array_equal(y.data, w.data[idx])
    F.sum(y).backward()
    assert np.array_equal(w.grad, np.array([[1.0] * 3, [0.0] * 3, [3.0] * 3, [0.0] * 3]))


def test_embedding_rejects_bad_indices():
    w = np.zeros((4, 3))
    with pytest.raises(ShapeError, match="index 4 out of range for 4"):
        get_op("embedding").real(np.array([1, 4]), w)
    with pytest.raises(ShapeError, match="integers"):
        get_op("embedding").real(np.array([1.5]), w)


def test_dropout_mask_and_scale():
    x = np.array([[1.0, -2.0, 3.0, 4.0]], np.float32)
    keep = np.array([[True, False, True, False]])
    y = get_op("dropout").real(x, keep, p=0.5)
    assert np.array_equal(y, np.array([[2.0, 0.0, 6.0, 0.0]], np.float32)) and y.dtype == np.float32
    assert np.array_equal(get_op("dropout").binary32(x, keep, p=0.5), y)


def test_dropout_layer_draws_masks_in_training_only():
    from certnn.random import manual_seed
    manual_seed(0)
    d = nn.Dropout(0.25)
    x = Tensor(np.ones((200, 50), np.float32))
    y = d(x).data
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8 and np.allclose(y[kept], 1 / 0.75)
    assert d(x).data.tolist() != y.tolist()          # a fresh mask each call
    assert d.eval()(x) is x
