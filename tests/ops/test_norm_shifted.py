"""layer_norm and BatchNorm2d centre by shifted data (x - x_0, then minus its mean):
a constant slice normalises to exactly the bias in every semantics (BugZoo
cards 13 and 14), where x - mean(x) leaves a rounding residue."""

import numpy as np

from certnn import compile as compile_, nn, run
from certnn.ops.norm import centred
from certnn.tensor import Tensor


def test_centred_is_exact_on_a_constant_slice_and_equals_x_minus_mean_otherwise():
    x = np.full((2, 1083), 1e6, np.float32)
    assert not np.all(x - x.mean(axis=1, keepdims=True) == 0)          # the residue certnn avoids
    assert np.all(centred(x, (1,)) == 0)
    y = np.random.default_rng(0).standard_normal((3, 7))
    np.testing.assert_allclose(centred(y, (1,)), y - y.mean(axis=1, keepdims=True), rtol=0, atol=1e-15)


class LN(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(1083)

    def forward(self, x):
        return self.ln(x)


def test_binary32_layer_norm_of_a_constant_row_is_the_bias():
    m = LN().eval()
    m.ln.bias.data[...] = 0.25
    x = np.full((1, 1083), 1e6, np.float32)
    g = compile_(m, x).graph
    for semantics in ("real", "binary32"):
        y = np.asarray(run(g, x, semantics=semantics))
        assert np.all(y == np.float32(0.25)), semantics


def test_batchnorm_running_mean_is_the_true_mean_with_shifted_data():
    bn = nn.BatchNorm2d(1, momentum=1.0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((4, 1, 3, 3)) + 5.0
    bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, [x.mean()], rtol=1e-15)
