"""BugZoo: fifteen real ML bug families, each reproduced, fixed in certnn and
caught by an executable contract (issue #17). One module per card (see
:mod:`certnn.bugzoo.card` for the protocol); ``certnn bugzoo list|run|show``."""

from __future__ import annotations

import importlib

from .card import BugZooError, Card, CardResult, Verdict, run_card  # noqa: F401

MODULES = ("attention_mask", "kv_cache", "rope_position", "tokenizer_boundary", "stable_loss", "ignored_labels",
           "normalization_state", "shape_broadcast", "compiler_boundary", "float_boundary", "autograd_domain",
           "batch_invariance", "layernorm_degenerate", "constant_slice", "camera_projection")


def cards() -> list[Card]:
    """Every card, in the issue's order."""
    out = [Card.of(importlib.import_module(f"{__name__}.{m}")) for m in MODULES]
    assert [c.number for c in out] == list(range(1, len(out) + 1)), "cards out of order"
    return out


def get(key: str) -> Card:
    """A card by number ("3") or name ("rope-position")."""
    for c in cards():
        if key in (str(c.number), c.name, c.name.replace("-", "_")):
            return c
    raise BugZooError(f"unknown card {key!r}: expected a number 1-{len(MODULES)} or one of "
                      f"{', '.join(m.replace('_', '-') for m in MODULES)}")
