"""Attention building blocks: masks, KV-cache decoding, RoPE; torch's
scaled_dot_product_attention as the oracle."""

import numpy as np
import pytest

from certnn import Tensor
from certnn import functional as F
from certnn import nn
from certnn.random import manual_seed

torch = pytest.importorskip("torch")


def _mha(causal=False, rope=False, dim=8, heads=2):
    manual_seed(0)
    return nn.MultiheadAttention(dim, heads, causal=causal, rope=rope).to(np.float64).eval()


def test_sdpa_equals_torch_with_causal_and_padding_masks():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 5, 4)) for _ in range(3))
    pad = np.array([[True, True, True, False, False], [True] * 5])[:, None, None, :]
    for mask, causal in ((None, True), (pad, False), (pad, True), (None, False)):
        y = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask, is_causal=causal).data
        tmask = None if mask is None else torch.from_numpy(np.broadcast_to(mask, (2, 3, 5, 5)).copy())
        if causal:
            c = torch.from_numpy(F.causal_mask(5, 5))
            tmask = c if tmask is None else tmask & c
        want = torch.nn.functional.scaled_dot_product_attention(
            torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), attn_mask=tmask).numpy()
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-14)


def test_query_with_no_visible_key_gets_zeros_not_nan():
    rng = np.random.default_rng(1)
    q, k, v = (Tensor(rng.normal(size=(1, 1, 3, 2)), requires_grad=True) for _ in range(3))
    mask = np.array([[[[False, False, False], [True, True, False], [True, True, True]]]])
    y = F.scaled_dot_product_attention(q, k, v, mask)
    assert np.all(y.data[0, 0, 0] == 0) and np.all(np.isfinite(y.data))
    F.sum(y).backward()
    assert all(np.all(np.isfinite(t.grad)) for t in (q, k, v))


def test_padding_mask_equals_dropping_the_padded_keys():
    m = _mha()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 5, 8))
    y = m(Tensor(x), np.array([[True, True, True, True, False]])).data
    # a query's output ignores the padded key: recompute without it
    y_short = m(Tensor(x[:, :4])).data
    np.testing.assert_allclose(y[:, :4], y_short, rtol=1e-12)


@pytest.mark.parametrize("rope", [False, True])
def test_kv_cache_decoding_equals_the_full_causal_pass(rope):
    m = _mha(causal=True, rope=rope)
    x = np.random.default_rng(3).normal(size=(2, 6, 8))
    full = m(Tensor(x)).data
    cache = nn.KVCache()
    steps = [m(Tensor(x[:, :2]), None, cache).data]           # a two-token prompt, then one at a time
    for t in range(2, 6):
        steps.append(m(Tensor(x[:, t:t + 1]), None, cache).data)
    assert len(cache) == 6
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-12, atol=1e-14)


def test_rope_scores_depend_on_the_offset_only():
    r = nn.RotaryEmbedding(8)
    rng = np.random.default_rng(4)
    q, k = rng.normal(size=(1, 8)), rng.normal(size=(1, 8))
    score = lambda m, n: float((r(Tensor(q), m).data @ r(Tensor(k), n).data.T)[0, 0])  # noqa: E731
    assert score(3, 1) == pytest.approx(score(10, 8), rel=1e-12)
    assert score(0, 0) == pytest.approx(float((q @ k.T)[0, 0]), rel=1e-12)
    assert score(3, 1) != pytest.approx(score(3, 2))
    # a rotation: norms are kept
    np.testing.assert_allclose(np.linalg.norm(r(Tensor(q), 5).data), np.linalg.norm(q), rtol=1e-12)


def test_gpt_generate_with_cache_equals_recomputation():
    from certnn import zoo
    from certnn.zoo.gpt import generate
    manual_seed(5)
    m = zoo.gpt(11, 12, n_layer=2, n_head=2, n_embd=8, pos="learned").to(np.float64).eval()
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    out = generate(m, prompt, 5, greedy=True)
    seq = prompt
    for _ in range(5):
        nxt = m(Tensor(seq)).data[:, -1].argmax(-1)
        seq = np.concatenate([seq, nxt[:, None]], axis=1)
    assert np.array_equal(out, seq)
