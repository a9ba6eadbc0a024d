"""Operand generators and comparison helpers shared by the kernel tests."""

from __future__ import annotations

import zlib

import numpy as np

from certnn.floats import kernel as K
from certnn.floats.formats import BINARY32


def rng_for(*key) -> np.random.Generator:
    """A generator seeded from the test's parameters (stable across runs)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def random_bits(rng, n: int, width: int = 32) -> np.ndarray:
    return rng.integers(0, 1 << width, n, dtype=np.uint64)


def b32_from_fields(sign, e_field, frac) -> np.ndarray:
    return ((np.asarray(sign, np.uint64) << np.uint64(31)) | (np.asarray(e_field, np.uint64) << np.uint64(23))
            | np.asarray(frac, np.uint64))


def similar_pairs(rng, n: int, op: str, spread: int = 30):
    """binary32 pairs whose exponents are close (so sums cancel and carry,
    quotients are near 1) -- for mul the exponents are near-opposite so
    products stay in range, and a fifth of the pairs sit near the subnormal
    and overflow boundaries."""
    e1 = rng.integers(0, 255, n)
    d = rng.integers(-spread, spread + 1, n)
    if op == "mul":
        e2 = np.clip(254 - e1 + d, 0, 254)
        k = n // 5                                        # products near 2**-126 and near max
        e2[:k // 2] = np.clip(1 + 127 - e1[:k // 2] + d[:k // 2] // 6, 0, 254)
        e2[k // 2:k] = np.clip(254 + 127 - e1[k // 2:k] + d[k // 2:k] // 6, 0, 254)
    else:
        e2 = np.clip(e1 + d, 0, 254)
    f1 = rng.integers(0, 1 << 23, n)
    f2 = rng.integers(0, 1 << 23, n)
    same = rng.random(n) < 0.25                           # equal or nearly equal significands
    f2[same] = np.clip(f1[same] + rng.integers(-4, 5, same.sum()), 0, (1 << 23) - 1)
    s1, s2 = rng.integers(0, 2, n), rng.integers(0, 2, n)
    return b32_from_fields(s1, e1, f1), b32_from_fields(s2, e2, f2)


def finite_b32(rng, n: int) -> np.ndarray:
    """Finite binary32 values: random bits, small and subnormal magnitudes."""
    x = random_bits(rng, n)
    x[(x >> np.uint64(23) & np.uint64(255)) == 255] ^= np.uint64(1 << 30)   # inf/NaN -> finite
    k = n // 4
    x[:k] = b32_from_fields(rng.integers(0, 2, k), rng.integers(0, 40, k), rng.integers(0, 1 << 23, k))
    return x


SPECIAL_B32 = [
    0x00000000, 0x80000000,                 # +-0
    0x00000001, 0x80000001,                 # +-min subnormal
    0x00000002, 0x00000003, 0x00400000,     # small subnormals, half of min normal
    0x007FFFFF, 0x807FFFFF,                 # +-max subnormal
    0x00800000, 0x80800000,                 # +-min normal
    0x00800001, 0x00FFFFFF,
    0x3F800000, 0xBF800000,                 # +-1
    0x3F800001, 0x3F7FFFFF, 0x3FC00000,     # 1+ulp, 1-ulp/2, 1.5
    0x40000000, 0x40400000, 0x34000000,     # 2, 3, 2**-23
    0x33800000, 0x33000000,                 # 2**-24, 2**-25
    0x7F7FFFFF, 0xFF7FFFFF,                 # +-max
    0x7F000000, 0x7E800000,                 # 2**127, 2**126
    0x7F800000, 0xFF800000,                 # +-inf
    0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF,   # NaNs (quiet, signalling)
]


def kernel_map(fn, fmt, *cols, **kw):
    """Apply a scalar kernel op over integer arrays; returns an int64 array."""
    lists = [np.asarray(c).astype(np.uint64).tolist() for c in cols]
    return np.array([fn(fmt, *args, **kw) for args in zip(*lists)], dtype=np.uint64)


def mismatches(got_bits: np.ndarray, want_bits: np.ndarray, is_nan_got, is_nan_want) -> np.ndarray:
    """Indices where results differ: NaN-ness must agree, other bits exactly."""
    got_bits = np.asarray(got_bits, np.uint64)
    want_bits = np.asarray(want_bits, np.uint64)
    return np.nonzero((is_nan_got != is_nan_want) | (~is_nan_want & (got_bits != want_bits)))[0]


def nan_mask(fmt, bits) -> np.ndarray:
    return np.array([K.is_nan(fmt, int(b)) for b in np.asarray(bits).tolist()], dtype=bool)


def describe(fmt, idx, *cols, limit: int = 5) -> str:
    w = fmt.hex_digits
    rows = []
    for i in idx[:limit]:
        rows.append(" ".join(f"{int(c[i]):#0{w + 2}x}" for c in cols))
    return f"{len(idx)} mismatches, e.g. (operands..., kernel, reference):\n  " + "\n  ".join(rows)


B32 = BINARY32
