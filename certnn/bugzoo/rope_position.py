"""Card 3, RoPE position: the appended decode token gets the next position
(the cache length), so cached decoding with rotary embeddings equals full
recomputation.

Reports: the study of bugs in LLM inference engines (arXiv 2506.09713): wrong
positions for decoded tokens (position ids not offset by the cached length)
silently change every generated token.

``buggy``: NumPy decoding whose position ids restart at 0 for each new token
(``arange(new_len)`` instead of ``arange(past, past + new_len)``). ``fixed``: the
zoo's ``MultiheadAttention(rope=True)``, which rotates the new positions at
offset ``len(cache)``.
"""

from __future__ import annotations

from . import _decode
from .card import Findings

NUMBER = 3
TITLE = "RoPE position"
FAMILY = "rotary position ids in incremental decoding"
REPORTS = ("arXiv 2506.09713 (bugs in LLM inference engines: wrong position ids when decoding)",)
CONTRACT = ("with RoPE on q and k, decoding token by token with a cache equals full causal attention "
            "(|difference| <= 1e-12 in float64), and every cached key is rotated at its own position 0..T-1")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("decode-mismatch", "wrong-position")
WEAKENED = {"tol": 10.0, "order": False, "positions": False}


def buggy(x, weights, rope=True):
    return _decode.numpy_decode(x, weights, rope, position_bug=True)


def fixed(x, weights, rope=True):
    return _decode.certnn_decode(x, weights, rope)


def contract(impl, tol: float = 1e-12, order: bool = True, positions: bool = True):
    f = Findings()
    _decode.check(impl, True, f, tol, order, positions)
    return f.verdict("cached RoPE decoding equals full recomputation; keys rotated at their positions")
