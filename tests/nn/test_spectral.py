"""SpectralConv1d equals the FNO reference layer written with torch.fft and a
complex einsum, and works unchanged at another resolution."""

import numpy as np
import pytest

from certnn import Tensor
from certnn import functional as F
from certnn import nn
from certnn.random import manual_seed

torch = pytest.importorskip("torch")


def _reference(x, w, modes):
    """FNO's SpectralConv1d (channels first): irfft(einsum(rfft(x)[:modes], W))."""
    z = torch.fft.rfft(x.transpose(1, 2))[..., :modes]
    out = torch.einsum("bix,iox->box", z, w)
    return torch.fft.irfft(out, n=x.shape[1]).transpose(1, 2)


@pytest.mark.parametrize("n", [16, 33])
def test_equals_the_reference_layer_with_gradients(n):
    manual_seed(0)
    layer = nn.SpectralConv1d(3, 2, modes=5).to(np.float64)
    x = np.random.default_rng(n).normal(size=(2, n, 3))
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    w = torch.from_numpy(layer.weight.data.copy()).requires_grad_(True)          # (modes, in, out, 2)
    wc = torch.view_as_complex(w).permute(1, 2, 0)                                # (in, out, modes)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = _reference(tx, wc, 5)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-11, atol=1e-13)
    g = np.random.default_rng(1).normal(size=y.shape)
    F.sum(y * Tensor(g)).backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, w.grad.numpy(), rtol=1e-10, atol=1e-12)
