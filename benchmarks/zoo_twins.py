"""PyTorch twins of the zoo's architectures (same layers, widths and data flow),
the peers of ``benchmarks/zoo.py``. Idiomatic torch: fused library layers where
torch has them (nn.LSTM, nn.BatchNorm2d, F.scaled_dot_product_attention,
torch.fft), a Python loop over time for Mamba's scan as in mamba-minimal."""

from __future__ import annotations

import math

import torch
import torch.nn as tnn
import torch.nn.functional as TF


def cnn(width=32, hidden=128, **_):
    return tnn.Sequential(tnn.Conv2d(1, width, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(width, 2 * width, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Flatten(), tnn.Linear(2 * width * 49, hidden), tnn.ReLU(), tnn.Linear(hidden, 10))


def mlp(hidden=(128,), **_):
    layers, w = [], 784
    for h in hidden:
        layers += [tnn.Linear(w, h), tnn.ReLU()]
        w = h
    return tnn.Sequential(*layers, tnn.Linear(w, 10))


class PreActBlock(tnn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.bn1, self.bn2 = tnn.BatchNorm2d(cin), tnn.BatchNorm2d(cout)
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = tnn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        a = TF.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(a)
        return skip + self.conv2(TF.relu(self.bn2(self.conv1(a))))


class ResNet(tnn.Module):
    def __init__(self, width=16, **_):
        super().__init__()
        self.stem = tnn.Conv2d(1, width, 3, 2, 1, bias=False)
        self.stages = tnn.Sequential(PreActBlock(width, width), PreActBlock(width, 2 * width, 2),
                                     PreActBlock(2 * width, 4 * width, 2))
        self.bn = tnn.BatchNorm2d(4 * width)
        self.fc = tnn.Linear(4 * width, 10)

    def forward(self, x):
        return self.fc(TF.relu(self.bn(self.stages(self.stem(x)))).mean(dim=(2, 3)))


class Attention(tnn.Module):
    def __init__(self, dim, heads, causal=False, rope=False):
        super().__init__()
        self.heads, self.causal, self.rope = heads, causal, rope
        self.q, self.k, self.v, self.out = (tnn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        B, T, C = x.shape
        split = lambda t: t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if self.rope:
            q, k = rope(q), rope(k)
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.out(y.transpose(1, 2).reshape(B, T, C))


def rope(x, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    freq = base ** (-torch.arange(d // 2, dtype=torch.float64) * 2 / d)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * freq[None]
    ang = torch.cat([ang, ang], -1)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Block(tnn.Module):
    def __init__(self, dim, heads, mlp_ratio=4, causal=False, rope=False):
        super().__init__()
        self.ln1, self.ln2 = tnn.LayerNorm(dim), tnn.LayerNorm(dim)
        self.attn = Attention(dim, heads, causal, rope)
        self.mlp = tnn.Sequential(tnn.Linear(dim, mlp_ratio * dim), tnn.GELU(), tnn.Linear(mlp_ratio * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(tnn.Module):
    def __init__(self, dim=64, depth=4, heads=4, mlp_ratio=2, **_):
        super().__init__()
        self.patch = tnn.Conv2d(1, dim, 7, 7)
        self.pos = tnn.Parameter(torch.randn(16, dim) * 0.02)
        self.blocks = tnn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm, self.head = tnn.LayerNorm(dim), tnn.Linear(dim, 10)

    def forward(self, x):
        h = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.blocks(h)).mean(1))


class Recurrent(tnn.Module):
    def __init__(self, cell="lstm", hidden=128, **_):
        super().__init__()
        self.rnn = {"rnn": tnn.RNN, "gru": tnn.GRU, "lstm": tnn.LSTM}[cell](28, hidden, batch_first=True)
        self.head = tnn.Linear(hidden, 10)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


class GPT(tnn.Module):
    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=128, pos="learned", **_):
        super().__init__()
        self.wte = tnn.Embedding(vocab_size, n_embd)
        self.wpe = tnn.Embedding(block_size, n_embd) if pos == "learned" else None
        self.blocks = tnn.Sequential(*[Block(n_embd, n_head, 4, True, pos == "rope") for _ in range(n_layer)])
        self.ln_f = tnn.LayerNorm(n_embd)

    def forward(self, idx):
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(idx.shape[1]))
        return TF.linear(self.ln_f(self.blocks(x)), self.wte.weight)


class MambaBlock(tnn.Module):
    """mamba-minimal's block."""

    def __init__(self, d_model, d_state, expand, d_conv=4):
        super().__init__()
        d_inner = expand * d_model
        self.d_inner, self.d_state, self.dt_rank = d_inner, d_state, math.ceil(d_model / 16)
        self.in_proj = tnn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv = tnn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        self.x_proj = tnn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = tnn.Linear(self.dt_rank, d_inner)
        self.A_log = tnn.Parameter(torch.log(torch.arange(1, d_state + 1).float().repeat(d_inner, 1)))
        self.D = tnn.Parameter(torch.ones(d_inner))
        self.out_proj = tnn.Linear(d_inner, d_model, bias=False)

    def forward(self, u):
        L = u.shape[1]
        x, res = self.in_proj(u).split(self.d_inner, dim=-1)
        x = TF.silu(self.conv(x.transpose(1, 2))[:, :, :L].transpose(1, 2))
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = TF.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log)
        h = x.new_zeros(x.shape[0], self.d_inner, self.d_state)
        ys = []
        for t in range(L):
            h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * x[:, t])[..., None] * B[:, t, None, :]
            ys.append(torch.einsum("bdn,bn->bd", h, C[:, t]))
        y = torch.stack(ys, 1) + x * self.D
        return self.out_proj(y * TF.silu(res))


class Mamba(tnn.Module):
    def __init__(self, vocab_size, d_model=128, n_layer=4, d_state=16, expand=2, **_):
        super().__init__()
        self.embedding = tnn.Embedding(vocab_size, d_model)
        self.norms = tnn.ModuleList([tnn.RMSNorm(d_model, eps=1e-6) for _ in range(n_layer)])
        self.layers = tnn.ModuleList([MambaBlock(d_model, d_state, expand) for _ in range(n_layer)])
        self.norm_f = tnn.RMSNorm(d_model, eps=1e-6)

    def forward(self, idx):
        x = self.embedding(idx)
        for n, layer in zip(self.norms, self.layers):
            x = x + layer(n(x))
        return TF.linear(self.norm_f(x), self.embedding.weight)


class SpectralConv1d(tnn.Module):
    def __init__(self, width, modes):
        super().__init__()
        self.modes = modes
        self.weight = tnn.Parameter(torch.rand(width, width, modes, dtype=torch.cfloat) / (width * width))

    def forward(self, x):                       # (B, C, n)
        z = torch.fft.rfft(x)[..., :self.modes]
        return torch.fft.irfft(torch.einsum("bix,iox->box", z, self.weight), n=x.shape[-1])


class FNO1d(tnn.Module):
    """The FNO reference code's 1-D model (channels first, 1x1 Conv1d pointwise)."""

    def __init__(self, modes=16, width=64, depth=4, **_):
        super().__init__()
        self.lift = tnn.Linear(2, width)
        self.spectral = tnn.ModuleList([SpectralConv1d(width, modes) for _ in range(depth)])
        self.pointwise = tnn.ModuleList([tnn.Conv1d(width, width, 1) for _ in range(depth)])
        self.proj = tnn.Sequential(tnn.Linear(width, 128), tnn.GELU(), tnn.Linear(128, 1))

    def forward(self, x):                       # (B, n, 2)
        v = self.lift(x).permute(0, 2, 1)
        for i, (s, w) in enumerate(zip(self.spectral, self.pointwise)):
            v = s(v) + w(v)
            if i < len(self.spectral) - 1:
                v = TF.gelu(v)
        return self.proj(v.permute(0, 2, 1))[..., 0]


def build(config: dict) -> tnn.Module:
    cfg = dict(config)
    arch = cfg.pop("arch")
    return {"mlp": mlp, "cnn": cnn, "resnet": ResNet, "vit": ViT, "rnn": Recurrent, "gpt": GPT, "mamba": Mamba,
            "fno": FNO1d}[arch](**cfg)
