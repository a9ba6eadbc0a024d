"""minGPT's addition task: a GPT learns two-digit addition from token sequences.

For a, b in [0, 100) the sequence is the digits of a, the digits of b, then the
three digits of c = a + b reversed (the model emits the ones digit first, as
one adds by hand): 2 + 2 + 3 = 7 tokens, the model reads the first 6 and is
trained on the 3 answer positions only. All 10,000 pairs exist; a seeded 10 %
is held out. The metric is exact match of greedily decoded answers (KV-cache
decoding) on all 10,000 pairs, with the held-out figure beside it.
"""

from __future__ import annotations

import time

import numpy as np

from ..random import manual_seed
from ..tensor import Tensor

NDIGIT = 2


def encode_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 7) token rows: digits of a, of b, of a + b reversed."""
    digits = lambda v, n: np.stack([(v // 10 ** (n - 1 - i)) % 10 for i in range(n)], axis=1)  # noqa: E731
    return np.concatenate([digits(a, NDIGIT), digits(b, NDIGIT), digits(a + b, NDIGIT + 1)[:, ::-1]], axis=1)


def all_pairs():
    a, b = np.divmod(np.arange(10 ** (2 * NDIGIT)), 10 ** NDIGIT)
    return a, b


def inputs_targets(rows: np.ndarray):
    """Next-token pairs; only the answer positions are trained (-100 elsewhere)."""
    x, y = rows[:, :-1], rows[:, 1:].copy()
    y[:, :2 * NDIGIT - 1] = -100
    return x, y


def exact_match(model, rows: np.ndarray, batch: int = 2500) -> np.ndarray:
    """Per row: does greedy decoding from the 4 input digits give the 3 answer digits?"""
    from .gpt import generate
    ok = []
    for i in range(0, len(rows), batch):
        r = rows[i:i + batch]
        out = generate(model, r[:, :2 * NDIGIT], NDIGIT + 1, greedy=True)
        ok.append(np.all(out[:, 2 * NDIGIT:] == r[:, 2 * NDIGIT:], axis=1))
    return np.concatenate(ok)


def train_adder(name: str, recipe, data_dir=None, out=None, progress: bool = True, log=print) -> dict:
    from . import build
    from .gpt import lm_loss
    from .train import fit, runner, save, threads_limited
    t0 = time.perf_counter()
    a, b = all_pairs()
    rows = encode_pairs(a, b)
    perm = np.random.default_rng(1337).permutation(len(rows))
    n_test = len(rows) // 10
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    mcfg = {**recipe.model, "vocab_size": 10, "block_size": 3 * NDIGIT}
    with threads_limited(recipe.threads):
        manual_seed(recipe.seed)
        model = build(mcfg)
        x_all, y_all = inputs_targets(rows)
        run = runner(model, x_all[:recipe.batch_size], recipe.compiled)
        rng = np.random.default_rng(recipe.seed)

        def batches(epoch):
            for _ in range(recipe.steps_per_epoch):
                idx = train_idx[rng.integers(0, len(train_idx), recipe.batch_size)]
                yield x_all[idx], y_all[idx]

        def loss_fn(run, batch):
            x, y = batch
            return lm_loss(run(Tensor(x)), y), len(x)

        def evaluate():
            ok = exact_match(model, rows)
            return {"exact_match": float(ok.mean()), "held_out_exact_match": float(ok[test_idx].mean())}

        history = fit(model, run, batches, loss_fn, recipe, recipe.steps_per_epoch, evaluate, progress, log)
    last = history[-1]
    result = {"model": name, "metric": "exact_match", "value": last["exact_match"],
              "held_out_exact_match": last["held_out_exact_match"], "pairs": len(rows), "held_out": n_test,
              "params": model.num_parameters(), "history": history,
              "train_seconds_per_epoch": min(h["train_seconds"] for h in history),
              "steps": recipe.epochs * recipe.steps_per_epoch}
    if out is not None:
        save(out, model, mcfg, x_all[:1], result)
    result["wall_seconds"] = time.perf_counter() - t0
    return result
