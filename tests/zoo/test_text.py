"""The language-model recipe (certnn.zoo.text): the n-gram baselines on a toy
corpus whose entropies are worked out by hand, and a tiny char-GPT and Mamba
that learn more than the unigram statistics of real Python source in a few
seconds."""

import math
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from certnn import zoo
from certnn.zoo import text


def toy(train: str, val: str) -> text.Corpus:
    c = text.Corpus(np.empty(0, np.int64), np.empty(0, np.int64), "ab" + text.OTHER, 1, "")
    c.train, c.val = c.encode(train), c.encode(val)
    return c


def test_baselines_by_hand():
    c = toy("aab", "ab")                      # V = 3 tokens: a, b and the non-ASCII token
    # unigram, add-1: p(a) = (2+1)/(3+3) = 1/2, p(b) = (1+1)/6 = 1/3
    assert text.ngram_bits_per_char(c, 1, k=1) == pytest.approx(-(math.log2(1 / 2) + math.log2(1 / 3)) / 2)
    # bigram, add-1: the pairs aa, ab; p(b | a) = (1+1)/(2+3) = 2/5, scored on the one pair a -> b
    assert text.ngram_bits_per_char(c, 2, k=1) == pytest.approx(-math.log2(2 / 5))
    # unsmoothed, a text with as many a's as b's is 1 bit per character for the unigram
    assert text.ngram_bits_per_char(toy("abbaab", "abba"), 1, k=0) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def source_folder(tmp_path_factory):
    """20 files: the first 3,000 characters of 20 stdlib modules (real Python source)."""
    folder = tmp_path_factory.mktemp("corpus")
    for f in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:20]:
        (folder / f.name).write_text(f.read_text(encoding="utf-8", errors="replace")[:3000], encoding="utf-8")
    return folder


@pytest.mark.parametrize("name, model", [("chargpt", {"n_layer": 1, "n_embd": 32, "n_head": 2}),
                                         ("mamba", {"n_layer": 1, "d_model": 32, "d_state": 4})])
def test_tiny_language_model_beats_the_unigram_baseline(name, model, source_folder):
    res = zoo.train(name, data_dir=source_folder, progress=False, log=lambda s: None, epochs=1,
                    steps_per_epoch=80, batch_size=8, lr=1e-2, warmup_steps=10, model=model,
                    data={"block_size": 32, "eval_chars": 6000, "sample_chars": 10})
    assert res["corpus"]["files"] == 20 and not res["corpus"]["matches_reference"]
    assert res["value"] < res["baselines"]["unigram_bits_per_char"] < math.log2(res["corpus"]["vocab_size"])
    assert res["sample"].startswith("def ") and len(res["sample"]) == 14
