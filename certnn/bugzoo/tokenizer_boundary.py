"""Card 4, tokenizer boundary: a token id outside the vocabulary is rejected at
the boundary with a clear error, never silently wrapped or clamped.

Reports: the study of bugs in LLM inference engines (arXiv 2506.09713):
tokenizer/vocabulary mismatches (a tokenizer producing ids the embedding table
does not have) that silently give wrong embeddings. The silent variants are
the defaults of array libraries: NumPy indexing wraps a negative id (``-1`` is
the last row), and JAX's gather clamps out-of-range ids to the last row.

``buggy``: ``np.take(table, ids, axis=0, mode="clip")``: JAX's out-of-bounds
gather semantics (ids clamped into range, no error). ``fixed``: certnn's
``embedding`` op (``F.embedding``), which raises ``ShapeError`` naming the id
and the valid range, in its forward, vjp and jvp rules.
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 4
TITLE = "Tokenizer boundary"
FAMILY = "out-of-vocabulary token ids silently wrapped or clamped"
REPORTS = ("arXiv 2506.09713 (bugs in LLM inference engines: tokenizer/vocabulary mismatches)",
           "JAX 'sharp bits': out-of-bounds gather indices are clamped")
CONTRACT = ("in-range ids give exactly their table rows; every out-of-range id (vocab, vocab + 7, -1) "
            "raises a CertnnError whose message names the offending id")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("silent-out-of-range",)
WEAKENED = {"bad_ids": ()}

VOCAB, DIM = 11, 4


def buggy(ids, table):
    return np.take(table, ids, axis=0, mode="clip")


def fixed(ids, table):
    from .. import functional as F
    from ..tensor import Tensor
    return F.embedding(np.asarray(ids), Tensor(table)).data


def contract(impl, bad_ids=(VOCAB, VOCAB + 7, -1)):
    from ..errors import CertnnError
    f = Findings()
    table = np.arange(VOCAB * DIM, dtype=np.float32).reshape(VOCAB, DIM)
    ids = np.array([[0, 3, VOCAB - 1], [5, 5, 2]])
    out = impl(ids, table)
    f.check(np.array_equal(out, table[ids]), "wrong-row", "an in-range id does not give its table row")
    for bad in bad_ids:
        probe = np.array([[1, bad, 2]])
        try:
            got = impl(probe, table)
        except CertnnError as exc:
            f.check(str(bad) in str(exc), "unclear-error", f"id {bad}: the error does not name it: {exc}")
            f.note(**{f"id {bad}": f"refused: {exc}"})
            continue
        row = np.asarray(got)[0, 1]
        which = [i for i in range(VOCAB) if np.array_equal(table[i], row)]
        f.fail("silent-out-of-range", f"id {bad} silently gave the row of id {which[0] if which else '?'}")
        f.note(**{f"id {bad}": f"silently row {which[0] if which else '?'}"})
    return f.verdict("in-range ids give their rows; out-of-range ids are refused by name")
