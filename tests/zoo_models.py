"""Small models covering every layer and op family; the compile and
serialisation tests run on all of them."""

import numpy as np

from certnn import functional as F
from certnn import nn
from certnn import zoo
from certnn.random import manual_seed


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.conv1 = nn.Conv2d(3, 3, 4, stride=2, padding=1)
        self.shortcut = nn.Conv2d(3, 3, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(3, 3, 4, stride=2, padding=1)
        self.fc = nn.Linear(3 * 2 * 2, 10)

    def forward(self, x):
        y = F.relu(self.conv1(self.bn(x)))
        y = y + self.shortcut(x)
        y = F.relu(self.conv2(y))
        return self.fc(F.flatten(y))


class Mixer(nn.Module):
    """Exercises concat, slice, transpose, reshape, softmax, layer norm, gelu, reductions."""

    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(6)
        self.fc = nn.Linear(6, 6)
        self.out = nn.Linear(12, 4)

    def forward(self, x):                    # x: (N, 2, 6)
        h = F.gelu(self.fc(self.ln(x)))      # (N, 2, 6)
        t = F.transpose(h, (0, 2, 1))        # (N, 6, 2)
        a = F.reshape(t, (x.shape[0], 12))
        b = F.concat([a[:, :6], F.tanh(a[:, 6:])], axis=1)
        s = F.softmax(b, axis=-1) * F.mean(b, axis=1, keepdims=True) + F.max(b, axis=1, keepdims=True)
        return F.log_softmax(self.out(F.leaky_relu(s, 0.1) - F.sigmoid(b) * F.softplus(b)))


def build_all(dtype=np.float32):
    """(name, module in eval mode, example input) for every zoo model."""
    manual_seed(123)
    rng = np.random.default_rng(7)
    models = [
        ("mlp", nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 5)),
         rng.standard_normal((4, 20))),
        ("cnn", nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.Sigmoid(), nn.AvgPool2d(2),
                              nn.Flatten(), nn.Linear(4 * 2 * 2, 3)),
         rng.standard_normal((3, 1, 8, 8))),
        ("residual_bn", Residual(), rng.standard_normal((2, 3, 8, 8))),
        ("mixer", Mixer(), rng.standard_normal((3, 2, 6))),
        ("zoo_mlp", zoo.mlp(784, [32, 16], 10), rng.random((3, 784))),
        ("zoo_cnn", zoo.cnn(1, 10, width=4), rng.random((2, 1, 28, 28))),
        ("dropout_softmax", nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Dropout(0.3), nn.Linear(8, 4),
                                          nn.Softmax()), rng.standard_normal((5, 8))),
        # the model zoo's families at small size (certnn.zoo)
        ("zoo_resnet", zoo.resnet(1, 10, width=2), rng.random((2, 1, 8, 8))),
        ("zoo_vit", zoo.vit(image_size=14, patch=7, dim=8, depth=1, heads=2, mlp_ratio=2), rng.random((2, 1, 14, 14))),
        ("zoo_rnn", zoo.recurrent("rnn", input_size=2, hidden=2, num_classes=2), rng.random((2, 3, 2))),
        ("zoo_gru", zoo.recurrent("gru", input_size=2, hidden=2, num_classes=2), rng.random((2, 3, 2))),
        ("zoo_lstm", zoo.recurrent("lstm", input_size=2, hidden=2, num_classes=2), rng.random((2, 3, 2))),
        ("zoo_fno", zoo.fno(modes=3, width=4, depth=2), rng.standard_normal((2, 8, 2)) * 0.5),
    ]
    out = []
    for name, m, x in models:
        m.to(dtype).eval()
        for _, b in m.named_buffers():  # non-trivial BatchNorm statistics
            b.data[...] = rng.uniform(0.5, 1.5, b.shape).astype(dtype)
        out.append((name, m, x.astype(dtype)))
    return out


def build_token_models(dtype=np.float32):
    """(name, module in eval mode, int64 token input) for the zoo's language models
    (their input is discrete: no input gradient, no input region to bound)."""
    manual_seed(321)
    rng = np.random.default_rng(8)
    models = [
        ("zoo_chargpt", zoo.gpt(11, 6, n_layer=1, n_head=2, n_embd=8, pos="rope"), rng.integers(0, 11, (2, 6))),
        ("zoo_adder", zoo.gpt(10, 6, n_layer=1, n_head=2, n_embd=8), rng.integers(0, 10, (3, 6))),
        ("zoo_mamba", zoo.mamba(11, d_model=8, n_layer=1, d_state=2), rng.integers(0, 11, (2, 5))),
    ]
    return [(name, m.to(dtype).eval(), x) for name, m, x in models]
