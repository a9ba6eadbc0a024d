import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certnn.data import DataLoader


def _data(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.uint8)
    return x, y


def test_in_order_batches_and_len():
    x, y = _data(10)
    dl = DataLoader((x, y), batch_size=4)
    assert len(dl) == 3
    batches = list(dl)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)


def test_drop_last():
    x, y = _data(10)
    dl = DataLoader((x, y), batch_size=4, drop_last=True)
    assert len(dl) == 2
    assert [len(b[1]) for b in dl] == [4, 4]
    assert len(DataLoader((x,), batch_size=20, drop_last=True)) == 0
    assert list(DataLoader((x,), batch_size=20, drop_last=True)) == []


def test_single_array_yields_tuples():
    x, _ = _data(5)
    (b,) = next(iter(DataLoader(x, batch_size=5)))
    np.testing.assert_array_equal(b, x)


def test_shuffle_keeps_rows_paired_and_covers_everything():
    x, y = _data(23)
    dl = DataLoader((x, y), batch_size=5, shuffle=True, seed=3)
    for _ in range(3):
        bx, by = (np.concatenate(parts) for parts in zip(*dl))
        np.testing.assert_array_equal(bx[:, 0] / 3, by)  # row i of x goes with y[i]
        assert sorted(by.tolist()) == list(range(23))


def test_shuffle_new_order_each_epoch_and_deterministic():
    x, y = _data(50)

    def orders(dl, epochs):
        return [np.concatenate([b[1] for b in dl]).tolist() for _ in range(epochs)]

    a = orders(DataLoader((x, y), 8, shuffle=True, seed=7), 3)
    b = orders(DataLoader((x, y), 8, shuffle=True, seed=7), 3)
    c = orders(DataLoader((x, y), 8, shuffle=True, seed=8), 3)
    assert a == b
    assert a[0] != a[1] != a[2]
    assert a != c
    assert a[0] != list(range(50))


def test_resume_with_set_epoch():
    x, y = _data(30)
    full = DataLoader((x, y), 4, shuffle=True, seed=1)
    epochs = [[b[1].tolist() for b in full] for _ in range(3)]
    resumed = DataLoader((x, y), 4, shuffle=True, seed=1)
    resumed.set_epoch(2)
    assert [b[1].tolist() for b in resumed] == epochs[2]
    assert [b[1].tolist() for b in full.batches(1)] == epochs[1]
    assert full.epoch == 3


def test_order_is_documented_permutation():
    x, y = _data(17)
    dl = DataLoader((x, y), 17, shuffle=True, seed=5)
    dl.set_epoch(4)
    (_, by), = list(dl)
    np.testing.assert_array_equal(by, np.random.default_rng([5, 4]).permutation(17))


def test_no_shuffle_batches_are_views():
    x, y = _data(8)
    bx, _ = next(iter(DataLoader((x, y), 4)))
    assert np.shares_memory(bx, x)


@pytest.mark.parametrize("bs", [0, -1, 2.5, True, "4"])
def test_bad_batch_size(bs):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_data(), batch_size=bs)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match=r"equal first dimensions.*\(10, 3\), \(9,\)"):
        DataLoader((np.zeros((10, 3)), np.zeros(9)), batch_size=2)


def test_empty_and_scalar_inputs():
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader((), batch_size=2)
    with pytest.raises(ValueError, match="scalar"):
        DataLoader((np.float32(1),), batch_size=2)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(_data(), batch_size=2, seed=-1)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), bs=st.integers(1, 12), shuffle=st.booleans(), drop_last=st.booleans(),
       seed=st.integers(0, 2**32))
def test_coverage_property(n, bs, shuffle, drop_last, seed):
    x, y = _data(n)
    dl = DataLoader((x, y), bs, shuffle=shuffle, seed=seed, drop_last=drop_last)
    batches = list(dl)
    assert len(batches) == len(dl)
    seen = [int(v) for b in batches for v in b[1]]
    assert all(len(b[1]) == bs for b in batches[:-1] if b)
    assert len(seen) == len(set(seen))  # no repeats
    if drop_last:
        assert len(seen) == (n // bs) * bs
    else:
        assert sorted(seen) == list(range(n))
