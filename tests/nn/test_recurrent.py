"""RNN / GRU / LSTM layers equal torch's nn.RNN / nn.GRU / nn.LSTM (float64,
same parameters): outputs and every gradient."""

import numpy as np
import pytest

from certnn import Tensor
from certnn import functional as F
from certnn import nn
from certnn.random import manual_seed

torch = pytest.importorskip("torch")

PAIRS = {"rnn": (nn.RNN, torch.nn.RNN), "gru": (nn.GRU, torch.nn.GRU), "lstm": (nn.LSTM, torch.nn.LSTM)}


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_equals_torch_outputs_and_gradients(kind):
    ours, theirs = PAIRS[kind]
    manual_seed(1)
    m = ours(3, 4, return_sequence=True).to(np.float64)
    t = theirs(3, 4, batch_first=True).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(t, name + "_l0").copy_(torch.from_numpy(getattr(m.cell, name).data))
    x = np.random.default_rng(2).normal(size=(2, 5, 3))
    xt = Tensor(x, requires_grad=True)
    y = m(xt)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = t(tx)[0]
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(3).normal(size=y.shape)
    F.sum(y * Tensor(g)).backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(getattr(m.cell, name).grad, getattr(t, name + "_l0").grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_last_state_is_the_last_row_of_the_sequence():
    manual_seed(0)
    seq = nn.LSTM(3, 4, return_sequence=True)
    last = nn.LSTM(3, 4)
    last.load_state_dict(seq.state_dict())
    x = Tensor(np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32))
    assert np.array_equal(seq(x).data[:, -1], last(x).data)
