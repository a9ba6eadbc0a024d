"""The character corpus and the language-model recipe shared by ``chargpt`` and
``mamba``.

Corpus: the Python standard library's own top-level source files (``*.py``
directly in the running interpreter's stdlib directory, sorted by name; about
4.7 MB for CPython 3.11), available offline on any machine that runs certnn.
Every tenth file (sorted index 9, 19, ...) is validation text, the rest
training text. Characters outside ASCII (a few dozen in the whole corpus) map
to one extra token. The corpus is identified by its interpreter version,
file count and SHA-256 (of the files' texts concatenated in that order),
which every result records beside ``matches_reference``: whether it is the
corpus the recorded figures were measured on (:data:`REFERENCE`, CPython
3.11.7). Another Python version ships other stdlib files, so the text, the
vocabulary and every bits-per-character figure (baselines included) differ
somewhat; the comparison against the baselines, which are recomputed on the
same text, still holds. ``certnn zoo train chargpt --data DIR`` reads the
top-level ``*.py`` files of DIR instead.

Metric: bits per character, the mean next-character cross entropy over
non-overlapping windows of the validation text, in bits; against the unigram
and bigram baselines estimated on the training text (add-k smoothing).
"""

from __future__ import annotations

import hashlib
import math
import platform
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..random import manual_seed
from ..tensor import Tensor, no_grad

OTHER = "\x00"          # the token standing for every non-ASCII character
REFERENCE = {"python": "3.11.7", "files": 168,
             "sha256": "2e31e854ce7c5a39d3549a94420e7ba4b51281ef0f32fc8b6ddd601eff6d7d42"}


@dataclass
class Corpus:
    train: np.ndarray           # int64 token ids
    val: np.ndarray
    chars: str                  # token id -> character
    files: int
    sha256: str
    source: str = ""

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.chars)}
        other = index[OTHER]
        return np.array([index.get(c, other) for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join("?" if self.chars[i] == OTHER else self.chars[i] for i in np.asarray(ids).reshape(-1))

    def describe(self) -> dict:
        return {"source": self.source, "python": platform.python_version(), "files": self.files,
                "sha256": self.sha256, "matches_reference": self.sha256 == REFERENCE["sha256"],
                "train_chars": int(self.train.size), "val_chars": int(self.val.size), "vocab_size": self.vocab_size}


def stdlib_corpus(stdlib: str | Path | None = None) -> Corpus:
    root = Path(stdlib or sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))
    if not files:
        raise DataError(f"{root}: no Python source files found for the text corpus")
    texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    ascii_text = lambda t: "".join(c if ord(c) < 128 else OTHER for c in t)  # noqa: E731
    train = "".join(ascii_text(t) for i, t in enumerate(texts) if i % 10 != 9)
    val = "".join(ascii_text(t) for i, t in enumerate(texts) if i % 10 == 9)
    chars = "".join(sorted(set(train) | set(val) | {OTHER}))
    digest = hashlib.sha256("".join(texts).encode("utf-8", errors="replace")).hexdigest()
    source = "stdlib top-level *.py" if stdlib is None else f"{root.name}/*.py"
    corpus = Corpus(np.empty(0, np.int64), np.empty(0, np.int64), chars, len(files), digest, source)
    corpus.train, corpus.val = corpus.encode(train), corpus.encode(val)
    return corpus


# ---------------------------------------------------------------- baselines

def ngram_bits_per_char(corpus: Corpus, order: int, k: float = 0.1, limit: int | None = None) -> float:
    """Bits per character on the validation text of the add-k smoothed unigram
    (order 1) or bigram (order 2) model counted on the training text."""
    V = corpus.vocab_size
    tr, va = corpus.train, corpus.val[:limit]
    if order == 1:
        p = (np.bincount(tr, minlength=V) + k) / (tr.size + k * V)
        return float(-np.log2(p[va]).mean())
    counts = np.zeros((V, V))
    np.add.at(counts, (tr[:-1], tr[1:]), 1.0)
    p = (counts + k) / (counts.sum(axis=1, keepdims=True) + k * V)
    return float(-np.log2(p[va[:-1], va[1:]]).mean())


# ---------------------------------------------------------------- batches and evaluation

def random_windows(tokens: np.ndarray, batch: int, length: int, rng: np.random.Generator):
    """nanoGPT's get_batch: ``batch`` random windows of ``length`` + 1 tokens, as (inputs, targets)."""
    start = rng.integers(0, tokens.size - length - 1, batch)
    idx = start[:, None] + np.arange(length + 1)[None]
    w = tokens[idx]
    return w[:, :-1], w[:, 1:]


def bits_per_char(run, tokens: np.ndarray, length: int, batch: int = 32, limit: int | None = None) -> float:
    """Mean next-token cross entropy in bits over non-overlapping windows of ``length``."""
    from .gpt import lm_loss
    tokens = tokens[:limit]
    n = (tokens.size - 1) // length
    x = tokens[:n * length].reshape(n, length)
    y = tokens[1:n * length + 1].reshape(n, length)
    total = 0.0
    with no_grad():
        for i in range(0, n, batch):
            total += float(lm_loss(run(Tensor(x[i:i + batch])), y[i:i + batch]).data) * len(x[i:i + batch])
    return total / max(n, 1) / math.log(2)


# ---------------------------------------------------------------- the recipe

def train_language_model(name: str, recipe, data_dir=None, out=None, progress: bool = True, log=print) -> dict:
    """Train ``recipe.model`` (a gpt or mamba config; its vocabulary and context come
    from the corpus and ``recipe.data["block_size"]``) on random windows of the
    training text; report validation bits per character beside the baselines and
    a sample continuation. ``data_dir``: the folder whose top-level ``*.py`` files
    are the corpus (default: the running interpreter's stdlib)."""
    from . import build
    from .train import fit, runner, save, threads_limited
    t0 = time.perf_counter()
    corpus = stdlib_corpus(data_dir)
    data = {"block_size": 128, "eval_chars": 200_000, "sample_chars": 300, **recipe.data}
    L = int(data["block_size"])
    mcfg = {**recipe.model, "vocab_size": corpus.vocab_size}
    if mcfg["arch"] == "gpt":
        mcfg["block_size"] = L
    with threads_limited(recipe.threads):
        manual_seed(recipe.seed)
        model = build(mcfg)
        rng = np.random.default_rng(recipe.seed)
        example = corpus.train[:L][None]
        run = runner(model, np.repeat(example, recipe.batch_size, 0), recipe.compiled)
        steps = recipe.steps_per_epoch

        def batches(epoch):
            for _ in range(steps):
                yield random_windows(corpus.train, recipe.batch_size, L, rng)

        def loss_fn(run, batch):
            from .gpt import lm_loss
            x, y = batch
            return lm_loss(run(Tensor(x)), y), x.size

        evaluate = lambda: {"val_bits_per_char": bits_per_char(run, corpus.val, L, limit=data["eval_chars"])}  # noqa: E731
        history = fit(model, run, batches, loss_fn, recipe, steps, evaluate, progress, log)
        bpc = history[-1]["val_bits_per_char"]
        prompt = corpus.encode("def ")
        sample = corpus.decode(sample_text(model, prompt, int(data["sample_chars"]), L))
    result = {"model": name, "metric": "val_bits_per_char", "value": bpc, "params": model.num_parameters(),
              "baselines": {"unigram_bits_per_char": ngram_bits_per_char(corpus, 1, limit=data["eval_chars"]),
                            "bigram_bits_per_char": ngram_bits_per_char(corpus, 2, limit=data["eval_chars"])},
              "corpus": corpus.describe(), "sample": sample, "history": history,
              "train_seconds_per_epoch": min(h["train_seconds"] for h in history),
              "steps": recipe.epochs * steps, "tokens_per_step": recipe.batch_size * L}
    if out is not None:
        save(out, model, mcfg, example, result)
    result["wall_seconds"] = time.perf_counter() - t0
    return result


def sample_text(model, prompt: np.ndarray, n: int, block_size: int, temperature: float = 0.8, seed: int = 0):
    """Sampled continuation of ``prompt``: GPT decodes through its KV cache; other
    models re-read the last ``block_size`` tokens at every step."""
    from .gpt import GPT, generate
    if isinstance(model, GPT):
        return generate(model, prompt[None], n, temperature=temperature, top_k=None,
                        rng=np.random.default_rng(seed))[0]
    rng = np.random.default_rng(seed)
    out = list(prompt)
    with no_grad():
        for _ in range(n):
            ctx = np.array(out[-block_size:])[None]
            logits = model(Tensor(ctx)).data[0, -1].astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            out.append(int(rng.choice(p.size, p=p / p.sum())))
    return np.array(out)
