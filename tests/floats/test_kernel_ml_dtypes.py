"""The kernel's small formats against ml_dtypes (bfloat16, float8_e4m3fn,
float8_e5m2) and NumPy's float16 (binary16).

Arithmetic in these libraries is float32 arithmetic followed by a rounding to
the small format. That equals the correctly rounded operation here:
* e4m3 add/sub/mul and e5m2 mul: the float32 result is exact (checked below
  against float64), so there is only one rounding;
* e5m2 add/sub, all div, binary16/bfloat16 ops: float32 (p' = 24) has
  p' >= 2p + 2 for p = 3, 4, 8, 11, so by Figueroa's theorem double rounding
  (RNE then RNE) is innocuous for + - * /; the exhaustive float8 comparison
  checks it on every pair.
ml_dtypes converts float64 -> float8 THROUGH float32 (double rounding:
float64 1.0625 + 2**-30 gives e4m3 1.0, the correctly rounded value is
1.125), so conversions are compared from float32 sources only.
"""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from certnn.floats import kernel as K
from certnn.floats.formats import BFLOAT16, BINARY16, BINARY32, BINARY64, E4M3, E5M2

from ._gen import describe, kernel_map, mismatches, nan_mask, random_bits, rng_for

DTYPES = {"e4m3": (E4M3, ml_dtypes.float8_e4m3fn, np.uint8), "e5m2": (E5M2, ml_dtypes.float8_e5m2, np.uint8),
          "bfloat16": (BFLOAT16, ml_dtypes.bfloat16, np.uint16), "binary16": (BINARY16, np.float16, np.uint16)}
NP_OPS = {"add": (K.add, np.add), "sub": (K.sub, np.subtract), "mul": (K.mul, np.multiply),
          "div": (K.div, np.divide)}


def _assert_same(fmt, got, want_bits, want_is_nan, *operands):
    bad = mismatches(got, want_bits, nan_mask(fmt, got), want_is_nan)
    assert len(bad) == 0, describe(fmt, bad, *operands, got, want_bits)


@pytest.mark.parametrize("op", list(NP_OPS))
@pytest.mark.parametrize("name", ["e4m3", "e5m2"])
def test_float8_all_pairs(name, op):
    fmt, dt, ut = DTYPES[name]
    v = np.arange(256, dtype=np.uint64)
    a, b = np.repeat(v, 256), np.tile(v, 256)
    xa, xb = a.astype(ut).view(dt), b.astype(ut).view(dt)
    with np.errstate(all="ignore"):
        want = NP_OPS[op][1](xa, xb)
        f32 = NP_OPS[op][1](xa.astype(np.float32), xb.astype(np.float32))
        f64 = NP_OPS[op][1](xa.astype(np.float64), xb.astype(np.float64))
    assert want.dtype == dt
    # the reasoning of the module docstring: where is the float32 intermediate inexact?
    finite = np.isfinite(f64)
    inexact = int(np.sum(finite & (f32.astype(np.float64) != f64)))
    if op in ("mul",) or (op in ("add", "sub") and name == "e4m3"):
        assert inexact == 0
    got = kernel_map(NP_OPS[op][0], fmt, a, b)
    _assert_same(fmt, got, want.view(ut).astype(np.uint64), np.isnan(want.astype(np.float32)), a, b)


@pytest.mark.parametrize("name", ["e4m3", "e5m2"])
def test_float8_every_value_converts(name):
    fmt, dt, ut = DTYPES[name]
    v = np.arange(256, dtype=np.uint64)
    x = v.astype(ut).view(dt)
    for wide, wfmt, wu in ((np.float32, BINARY32, np.uint32), (np.float64, BINARY64, np.uint64)):
        want = x.astype(wide)
        got = np.array([K.convert(fmt, wfmt, int(b)) for b in v.tolist()], dtype=np.uint64)
        _assert_same(wfmt, got, want.view(wu).astype(np.uint64), np.isnan(want), v)
        back = np.array([K.convert(wfmt, fmt, int(b)) for b in got.tolist()], dtype=np.uint64)
        _assert_same(fmt, back, want.astype(dt).view(ut).astype(np.uint64), np.isnan(want), v)
    # and the kernel's own round trip is the identity except on NaN
    assert all(K.convert(BINARY32, fmt, K.convert(fmt, BINARY32, b)) == b
               for b in range(256) if not K.is_nan(fmt, b))


@pytest.mark.parametrize("name", ["binary16", "bfloat16"])
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
def test_16_bit_formats_every_value_converts(name):
    fmt, dt, ut = DTYPES[name]
    v = np.arange(1 << 16, dtype=np.uint64)
    x = v.astype(ut).view(dt)
    for wide, wfmt, wu in ((np.float32, BINARY32, np.uint32), (np.float64, BINARY64, np.uint64)):
        want = x.astype(wide)
        got = kernel_map(lambda f, b: K.convert(fmt, wfmt, b), None, v)
        _assert_same(wfmt, got, want.view(wu).astype(np.uint64), np.isnan(want), v)
    back = kernel_map(lambda f, b: K.convert(BINARY32, fmt, b), None, want.astype(np.float32).view(np.uint32))
    _assert_same(fmt, back, v, np.isnan(want), v)


def _float32_sample(fmt, rng, n):
    """float32 values around fmt's range: random fractions over fmt's
    exponents +-4, exact midpoints between neighbours of fmt (ties), the
    float32 neighbours of those midpoints, and values near overflow."""
    lo, hi = fmt.qmin - 4, fmt.emax + 3
    e = rng.integers(lo + 127, hi + 127, n).clip(1, 254)
    x = (rng.integers(0, 2, n).astype(np.uint64) << np.uint64(31)) | (e.astype(np.uint64) << np.uint64(23)) \
        | rng.integers(0, 1 << 23, n).astype(np.uint64)
    # midpoints between random consecutive fmt values, and their float32 neighbours
    fb = random_bits(rng, n // 4, fmt.width)
    fb = np.array([b for b in fb.tolist() if K.classify(fmt, b) in ("normal", "subnormal", "zero")
                   and K.is_nan(fmt, K.next_up(fmt, b)) is False and K.classify(fmt, K.next_up(fmt, b)) != "inf"])
    mids = [K.from_fraction(BINARY32, (K.to_fraction(fmt, b) + K.to_fraction(fmt, K.next_up(fmt, b))) / 2)
            for b in fb.tolist()]
    assert all(K.to_fraction(BINARY32, m) == (K.to_fraction(fmt, b) + K.to_fraction(fmt, K.next_up(fmt, b))) / 2
               for m, b in zip(mids[:200], fb.tolist()[:200]))            # midpoints are exact in float32
    near = [K.next_up(BINARY32, m) for m in mids] + [K.next_down(BINARY32, m) for m in mids]
    top = K.from_fraction(BINARY32, fmt.max_value)
    over = [top + d for d in range(-40, 40)] + [K.from_fraction(BINARY32, fmt.max_value + K.ulp(fmt, K.from_fraction(
        fmt, fmt.max_value)) / 2)]
    extra = np.array(mids + near + over + [0x7F800000, 0xFF800000, 0x7FC00000, 0, 0x80000000], dtype=np.uint64)
    return np.concatenate([x, extra, extra | np.uint64(1 << 31)])


@pytest.mark.parametrize("name", list(DTYPES))
def test_float32_to_small_format_rounding(name):
    fmt, dt, ut = DTYPES[name]
    rng = rng_for("f32to", name)
    bits = _float32_sample(fmt, rng, 150_000 if name == "binary16" else 40_000)
    f = bits.astype(np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        want = f.astype(dt)
    got = kernel_map(lambda _, b: K.convert(BINARY32, fmt, b), None, bits)
    _assert_same(fmt, got, want.view(ut).astype(np.uint64), np.isnan(want.astype(np.float32)), bits)


@pytest.mark.parametrize("op", list(NP_OPS))
@pytest.mark.parametrize("name", ["binary16", "bfloat16"])
def test_16_bit_arithmetic_random(name, op):
    fmt, dt, ut = DTYPES[name]
    rng = rng_for("arith16", name, op)
    n = 20_000
    a, b = random_bits(rng, n, 16), random_bits(rng, n, 16)
    # plus pairs with close exponents (cancellation, carries, quotients near 1)
    close = (a[: n // 2] & np.uint64(0xFF00)) | (b[: n // 2] & np.uint64(0x00FF))
    b[: n // 2] = close ^ (rng.integers(0, 2, n // 2).astype(np.uint64) << np.uint64(15))
    with np.errstate(all="ignore"):
        want = NP_OPS[op][1](a.astype(ut).view(dt), b.astype(ut).view(dt))
    got = kernel_map(NP_OPS[op][0], fmt, a, b)
    _assert_same(fmt, got, want.view(ut).astype(np.uint64), np.isnan(want.astype(np.float32)), a, b)


def test_float64_source_double_rounding_is_avoided():
    """The kernel rounds float64 -> e4m3 once (ml_dtypes goes through float32)."""
    x = 1.0625 + 2.0 ** -30
    bits = K.from_float(E4M3, x)
    assert K.to_fraction(E4M3, bits) == Fraction(9, 8)
    assert K.from_float(E4M3, 1.0625) == K.from_float(E4M3, 1.0)     # the exact tie goes to even
