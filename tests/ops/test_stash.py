"""The stash of forward intermediates: found only under the very array it was
stored under, gone when that array is freed or the byte budget is exceeded."""

import gc

import numpy as np

from certnn.ops.stash import Stash


def test_hit_only_for_the_same_array_and_key():
    s = Stash(1 << 20)
    x, v = np.ones(4), np.arange(3.0)
    s.put(x, "k", v)
    assert s.get(x, "k") is v
    assert s.get(x, "other") is None
    assert s.get(x.copy(), "k") is None           # equal values, another array
    assert s.get(x[:], "k") is None               # a view is another array


def test_entry_goes_with_its_array_and_over_budget():
    s = Stash(100)
    x = np.ones(4)
    s.put(x, None, np.zeros(5))                   # 40 bytes
    assert s.nbytes == 40
    del x
    gc.collect()
    assert s.nbytes == 0 and not s._entries
    a, b = np.ones(1), np.ones(1)
    s.put(a, None, np.zeros(8))                   # 64 bytes
    s.put(b, None, np.zeros(8))                   # 128 > 100: a's entry is evicted
    assert s.get(a, None) is None and s.get(b, None) is not None and s.nbytes == 64
    s.put(b, None, np.zeros(20))                  # larger than the budget: not kept
    assert s.get(b, None) is None and s.nbytes == 0
