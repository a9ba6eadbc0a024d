"""Card 12, batch invariance: row i of a batched run equals running row i alone,
bit for bit. Floating-point addition is not associative, and a BLAS picks its
kernel (GEMV for one row, blocked/vectorised GEMM for many) and so its summation
order by the batch size: the same input gives different bits depending on what
else is in the batch.

Reports: Thinking Machines Lab, "Defeating nondeterminism in LLM inference"
(He et al., 2025): the lack of batch invariance of matmul, normalisation and
attention kernels is why LLM inference at temperature 0 is not reproducible.

``buggy``: NumPy float32 ``x @ W.T + b`` (the installed BLAS; with OpenBLAS
every batch size tried here differs from the single-row result somewhere).
``fixed``: the same ``nn.Linear`` compiled and run under certnn's binary32
semantics, whose sums are in a fixed order per output element whatever the
batch.
"""

from __future__ import annotations

import functools

import numpy as np

from .card import Findings

NUMBER = 12
TITLE = "Batch invariance"
FAMILY = "batch-size-dependent float32 results (kernel choice changes the summation order)"
REPORTS = ("Thinking Machines Lab, 'Defeating nondeterminism in LLM inference' (2025)",)
CONTRACT = ("for batch sizes 2, 3, 8 and 32: every row of the batched float32 output has the same bits as the "
            "output of that row run alone")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("batch-variant",)
WEAKENED = {"atol": 1e-4}

IN, OUT = 96, 16


def _case():
    rng = np.random.default_rng(12)
    return (rng.standard_normal((32, IN)).astype(np.float32), rng.standard_normal((OUT, IN)).astype(np.float32),
            rng.standard_normal(OUT).astype(np.float32))


def buggy(x, w, b):
    return x @ w.T + b


@functools.lru_cache(maxsize=2)
def _graph(w_bytes: bytes, b_bytes: bytes):
    """nn.Linear with these parameters, compiled once (dynamic batch)."""
    from .. import compile as compile_, nn
    lin = nn.Linear(IN, OUT)
    lin.weight.data[...] = np.frombuffer(w_bytes, np.float32).reshape(OUT, IN)
    lin.bias.data[...] = np.frombuffer(b_bytes, np.float32)
    return compile_(lin, np.zeros((1, IN), np.float32)).graph


def fixed(x, w, b):
    from ..ir.run import run
    return np.asarray(run(_graph(w.tobytes(), b.tobytes()), x, semantics="binary32"))


def torch_impl(x, w, b):
    import torch
    return torch.nn.functional.linear(*(torch.from_numpy(a) for a in (x, w, b))).numpy()


def contract(impl, atol: float = 0.0):
    f = Findings()
    x, w, b = _case()
    alone = np.concatenate([impl(x[i:i + 1], w, b) for i in range(len(x))])
    differing = {}
    for n in (2, 3, 8, 32):
        y = impl(x[:n], w, b)
        same = (y.view(np.uint32) == alone[:n].view(np.uint32)) if atol == 0 else np.abs(y - alone[:n]) <= atol
        differing[n] = int((~same.all(axis=1)).sum())
        f.check(differing[n] == 0, "batch-variant",
                lambda: f"batch size {n}: {differing[n]} of {n} rows differ from the row run alone "
                        f"(max |diff| {np.abs(y - alone[:n]).max():.3g})")
    f.note(rows_differing_by_batch_size=differing)
    return f.verdict("every row has the same bits batched and alone")
