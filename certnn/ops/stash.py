"""Forward intermediates kept for the backward rule, as autograd frameworks save
tensors for backward: a ``real`` rule that computes something its ``vjp`` needs
again (conv2d's im2col columns, gelu's erf) puts it here under its input array,
and the vjp takes it back instead of recomputing it.

An entry is found only for the very array object it was stored under (a weak
reference, checked by identity, plus a key for the attributes it depends on),
so a hit returns exactly the bits the vjp would have recomputed from that array,
provided the array was not modified in place between the two calls, as autograd
never does. An entry goes when its array is freed (after the backward sweep
drops the tape) or when the stash is over its byte budget (oldest first). A miss
is always safe: the rule recomputes.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np


class Stash:
    def __init__(self, max_bytes: int):
        self.max_bytes, self.nbytes = max_bytes, 0
        self._entries: OrderedDict = OrderedDict()   # (id(array), key) -> (weakref, value)

    def put(self, array: np.ndarray, key, value) -> None:
        """Keep ``value`` (an array or a tuple of arrays) for ``array`` and ``key``."""
        k = (id(array), key)
        self._drop(k)
        size = _nbytes(value)
        if size > self.max_bytes:
            return
        ref = weakref.ref(array, lambda r, k=k: self._drop(k, r))
        self._entries[k] = (ref, value, size)
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def get(self, array: np.ndarray, key):
        """The value stored under this very array and key, or None."""
        e = self._entries.get((id(array), key))
        return e[1] if e is not None and e[0]() is array else None

    def _drop(self, k, ref=None) -> None:
        e = self._entries.get(k)
        if e is not None and (ref is None or e[0] is ref):
            del self._entries[k]
            self.nbytes -= e[2]

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.nbytes = 0


def _nbytes(value) -> int:
    return sum(v.nbytes for v in value) if isinstance(value, tuple) else value.nbytes
