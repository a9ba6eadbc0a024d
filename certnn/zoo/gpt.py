"""A GPT (decoder-only transformer) in the style of nanoGPT / minGPT: token
embedding (+ learned position embedding, or rotary embeddings in the
attention), pre-LayerNorm causal blocks, a final LayerNorm and a language-model
head tied to the token embedding. ``generate`` decodes with a KV cache.

    logits = GPT(idx)            idx (batch, T) int64 -> logits (batch, T, vocab)
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..errors import ShapeError
from ..tensor import Tensor, no_grad


class GPT(nn.Module):
    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
                 pos: str = "learned", dropout: float = 0.0):
        super().__init__()
        if pos not in ("learned", "rope"):
            raise ShapeError(f"GPT: pos must be 'learned' or 'rope', got {pos!r}")
        self.vocab_size, self.block_size, self.pos = vocab_size, block_size, pos
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd) if pos == "learned" else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[nn.TransformerBlock(n_embd, n_head, causal=True, rope=pos == "rope",
                                                          dropout=dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        nn.init_normal_(self, 0.02)

    def forward(self, idx, caches=None):
        """Logits (batch, T, vocab). ``caches``: one KVCache per block, to decode the
        positions that follow the cached ones."""
        B, T = idx.shape
        start = len(caches[0]) if caches else 0
        if start + T > self.block_size and self.wpe is not None:
            raise ShapeError(f"GPT: positions up to {start + T} exceed block_size {self.block_size}")
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(np.arange(start, start + T))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, None, caches[i] if caches else None)
        return F.linear(self.ln_f(x), self.wte.weight)          # tied head


def lm_loss(logits, targets):
    """Mean cross entropy of next-token logits (B, T, V) against targets (B, T);
    targets equal to -100 are ignored."""
    B, T, V = logits.shape
    return F.cross_entropy(F.reshape(logits, (B * T, V)), np.asarray(targets).reshape(-1))


def generate(model: GPT, idx: np.ndarray, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             rng: np.random.Generator | None = None, greedy: bool = False) -> np.ndarray:
    """Continue the prompts ``idx`` (batch, T) by ``max_new_tokens`` tokens, feeding
    one token at a time through the KV caches (the prompt once). Greedy decoding
    or sampling at ``temperature`` from the ``top_k`` most likely tokens."""
    rng = rng or np.random.default_rng(0)
    out = np.asarray(idx, dtype=np.int64)
    caches = [nn.KVCache() for _ in model.blocks]
    with no_grad():
        step_in = out
        for _ in range(max_new_tokens):
            if len(caches[0]) + step_in.shape[1] > model.block_size:   # window full: restart the cache
                caches = [nn.KVCache() for _ in model.blocks]
                step_in = out[:, -(model.block_size - 1):]
            logits = model(Tensor(step_in), caches).data[:, -1, :].astype(np.float64)
            if greedy:
                nxt = logits.argmax(axis=-1)
            else:
                logits = logits / max(temperature, 1e-8)
                if top_k is not None:
                    kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])][:, None]
                    logits = np.where(logits < kth, -np.inf, logits)
                p = np.exp(logits - logits.max(axis=-1, keepdims=True))
                p /= p.sum(axis=-1, keepdims=True)
                nxt = np.array([rng.choice(p.shape[1], p=row) for row in p])
            out = np.concatenate([out, nxt[:, None]], axis=1)
            step_in = nxt[:, None]
    return out


def gpt(vocab_size: int, block_size: int, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
        pos: str = "learned", dropout: float = 0.0):
    return GPT(vocab_size, block_size, n_layer, n_head, n_embd, pos, dropout)
