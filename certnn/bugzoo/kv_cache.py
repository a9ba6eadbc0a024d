"""Card 2, KV cache: decoding with a key/value cache must give exactly the
outputs of full (causal) attention over the prefix: the appended key/value is
the cache's last entry and the positions agree.

Reports: the study of bugs in LLM inference engines (arXiv 2506.09713), where
cache handling in incremental decoding is one of the bug sources; the symptom
is silently wrong tokens, not a crash.

``buggy``: a preallocated NumPy cache whose write pointer advances before the
write (an off-by-one slot): the new key/value lands one slot late, the query
attends over an unwritten zero slot and misses its own key. ``fixed``: the model
zoo's ``MultiheadAttention`` decoding through ``KVCache`` (``concat`` of the new
positions, ``len(cache)`` the next position).
"""

from __future__ import annotations

from . import _decode
from .card import Findings

NUMBER = 2
TITLE = "KV cache"
FAMILY = "KV-cache management: cached decoding diverges from full attention"
REPORTS = ("arXiv 2506.09713 (bugs in LLM inference engines: KV-cache handling in decoding)",)
CONTRACT = ("for a causal head decoded token by token: every decoded output equals full causal attention "
            "over the prefix (|difference| <= 1e-12 in float64), and the cache's last entry is the key of "
            "the token just appended")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("decode-mismatch", "cache-order")
WEAKENED = {"tol": 10.0, "order": False}


def buggy(x, weights, rope=False):
    return _decode.numpy_decode(x, weights, rope, pointer_bug=True)


def fixed(x, weights, rope=False):
    return _decode.certnn_decode(x, weights, rope)


def contract(impl, tol: float = 1e-12, order: bool = True):
    f = Findings()
    _decode.check(impl, False, f, tol, order)
    return f.verdict("decoded outputs equal full attention; the last cache entry is the new key")
