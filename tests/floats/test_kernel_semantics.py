"""Documented kernel semantics, case by case: signed zeros, the NaN policy,
flags, overflow per rounding mode, formats without infinities, comparisons,
IEEE 754-2019 minimum/maximum(Number), nextUp/nextDown, ulp, conversions,
flush-to-zero, and bad input. Plus an independent oracle for every format and
rounding mode: the exact result (Fraction) placed between the two nearest
encodings found by bisection in the sorted table of all finite values."""

import bisect
import struct
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from certnn.errors import CertnnError
from certnn.floats import (BFLOAT16, BINARY16, BINARY32 as B32, BINARY64, E4M3, E5M2, FORMATS, Flags,
                           FloatFormatError, Format, get_format)
from certnn.floats import kernel as K

from ._gen import rng_for

ONE, TWO, MAX, MINSUB, MAXSUB, MINNORM = 0x3F800000, 0x40000000, 0x7F7FFFFF, 1, 0x007FFFFF, 0x00800000
PZ, NZ, PINF, NINF, QNAN, SNAN = 0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001
ALL_MODES = list(K.Rounding)


def f32(x: float) -> int:
    return int(np.array(x, dtype=np.float32).view(np.uint32))


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize("name,p,emin,emax,max_value,min_sub", [
    ("binary32", 24, -126, 127, float(np.finfo(np.float32).max), 2.0 ** -149),
    ("binary16", 11, -14, 15, 65504.0, 2.0 ** -24),
    ("bfloat16", 8, -126, 127, float(ml_dtypes.finfo(ml_dtypes.bfloat16).max), 2.0 ** -133),
    ("e4m3", 4, -6, 8, float(ml_dtypes.finfo(ml_dtypes.float8_e4m3fn).max), 2.0 ** -9),
    ("e5m2", 3, -14, 15, float(ml_dtypes.finfo(ml_dtypes.float8_e5m2).max), 2.0 ** -16),
    ("binary64", 53, -1022, 1023, float(np.finfo(np.float64).max), 5e-324),
])
def test_format_constants(name, p, emin, emax, max_value, min_sub):
    fmt = get_format(name)
    assert (fmt.p, fmt.emin, fmt.emax) == (p, emin, emax)
    assert fmt.max_value == Fraction(max_value) and fmt.min_subnormal == Fraction(min_sub)
    assert K.to_fraction(fmt, fmt.max_finite) == fmt.max_value
    assert K.classify(fmt, fmt.qnan) == "nan" and not K.is_signaling(fmt, fmt.qnan)


def test_canonical_nans_are_the_documented_ones():
    assert {n: f.qnan for n, f in FORMATS.items()} == {
        "binary32": 0x7FC00000, "binary16": 0x7E00, "bfloat16": 0x7FC0, "e4m3": 0x7F, "e5m2": 0x7E,
        "binary64": 0x7FF8000000000000}


def test_format_names_and_errors():
    assert get_format("float32") is B32 and get_format("E4M3FN") is E4M3 and get_format(B32) is B32
    ftz = get_format("binary16-ftz")
    assert ftz.ftz and ftz.p == 11
    with pytest.raises(FloatFormatError, match="unknown float format 'binary8'.*binary32, binary16, bfloat16, "
                                               "e4m3, e5m2"):
        get_format("binary8")
    assert issubclass(FloatFormatError, CertnnError) and issubclass(FloatFormatError, ValueError)
    with pytest.raises(FloatFormatError):
        Format("bad", 1, 8)
    with pytest.raises(FloatFormatError):
        Format("bad", 4, 4, has_inf=True, nan="fn")


# ------------------------------------------------------------------ signed zeros
@pytest.mark.parametrize("rm", ALL_MODES, ids=lambda m: m.name)
def test_signed_zero_rules(rm):
    neg_if_rdn = NZ if rm is K.RDN else PZ
    assert K.add(B32, PZ, NZ, rm) == neg_if_rdn
    assert K.add(B32, NZ, PZ, rm) == neg_if_rdn
    assert K.add(B32, NZ, NZ, rm) == NZ and K.add(B32, PZ, PZ, rm) == PZ
    assert K.sub(B32, PZ, PZ, rm) == neg_if_rdn and K.sub(B32, NZ, PZ, rm) == NZ
    x = f32(1.75)
    assert K.add(B32, x, x ^ NZ, rm) == neg_if_rdn                      # exact cancellation
    assert K.sub(B32, MINSUB, MINSUB, rm) == neg_if_rdn
    assert K.mul(B32, NZ, f32(3.0), rm) == NZ and K.mul(B32, NZ, NZ, rm) == PZ
    assert K.div(B32, f32(-1.0), PINF, rm) == NZ and K.div(B32, PZ, f32(-2.0), rm) == NZ
    assert K.sqrt(B32, NZ, rm) == NZ
    assert K.fma(B32, PZ, f32(-1.0), PZ, rm) == neg_if_rdn              # -0 + +0
    assert K.fma(B32, NZ, ONE, NZ, rm) == NZ
    assert K.fma(B32, f32(3.0), f32(5.0), f32(-15.0), rm) == neg_if_rdn
    assert K.add(B32, x, NZ, rm) == x and K.add(B32, NZ, x, rm) == x       # x + -0 = x


def test_nonzero_results_rounding_to_zero_keep_their_sign():
    fl = Flags()
    assert K.mul(B32, MINSUB ^ NZ, f32(0.25), K.RNE, fl) == NZ
    assert fl.names() == {"underflow", "inexact"}
    assert K.mul(B32, MINSUB ^ NZ, f32(0.25), K.RDN) == MINSUB ^ NZ      # away from zero downward
    assert K.mul(B32, MINSUB, f32(0.25), K.RUP) == MINSUB


# ------------------------------------------------------------------ NaN policy
@pytest.mark.parametrize("name", list(FORMATS))
def test_every_nan_result_is_the_canonical_quiet_nan(name):
    fmt = get_format(name)
    one = K.from_int(fmt, 1)
    nans = [b for b in range(min(1 << fmt.width, 1 << 16)) if K.is_nan(fmt, b)]
    if fmt.width > 16:
        nans = [fmt.qnan, fmt.qnan | 1, fmt.qnan | (1 << fmt.sign_bit), fmt.inf | 1]
    nans += [n | (1 << fmt.sign_bit) for n in nans[:3]]
    for n in nans:
        results = [K.add(fmt, n, one), K.sub(fmt, one, n), K.mul(fmt, n, n), K.div(fmt, one, n),
                   K.sqrt(fmt, n), K.fma(fmt, one, one, n), K.fma(fmt, n, one, one), K.minimum(fmt, n, one),
                   K.maximum_number(fmt, n, n), K.next_up(fmt, n), K.next_down(fmt, n),
                   K.convert(B32, fmt, K.convert(fmt, B32, n)), K.from_string(fmt, "-nan")]
        assert results == [fmt.qnan] * len(results), (name, hex(n), [hex(r) for r in results])
        assert K.convert(fmt, BINARY64, n) == BINARY64.qnan
    # neg/abs/copysign are bit operations: payloads and signs of NaNs are kept
    assert K.neg(B32, 0x7FC00123) == 0xFFC00123 and K.abs_(B32, 0xFFC00123) == 0x7FC00123


def test_signalling_nans_signal_invalid_quiet_ones_do_not():
    for op in (K.add, K.sub, K.mul, K.div):
        fl = Flags()
        assert op(B32, QNAN, ONE, K.RNE, fl) == QNAN and not fl
        fl = Flags()
        assert op(B32, ONE, SNAN, K.RNE, fl) == QNAN and fl.names() == {"invalid"}
    fl = Flags()
    K.sqrt(B32, SNAN, K.RNE, fl)
    assert fl.invalid
    fl = Flags()
    assert K.convert(B32, BINARY16, SNAN, K.RNE, fl) == BINARY16.qnan and fl.invalid


@pytest.mark.parametrize("expr", [
    lambda fl: K.add(B32, PINF, NINF, K.RNE, fl), lambda fl: K.sub(B32, PINF, PINF, K.RNE, fl),
    lambda fl: K.mul(B32, PZ, NINF, K.RNE, fl), lambda fl: K.div(B32, PZ, NZ, K.RNE, fl),
    lambda fl: K.div(B32, NINF, PINF, K.RNE, fl), lambda fl: K.sqrt(B32, f32(-1.0), K.RNE, fl),
    lambda fl: K.sqrt(B32, NINF, K.RNE, fl), lambda fl: K.fma(B32, PZ, PINF, QNAN, K.RNE, fl),
    lambda fl: K.fma(B32, PINF, ONE, NINF, K.RNE, fl), lambda fl: K.sqrt(B32, MINSUB ^ NZ, K.RNE, fl),
])
def test_invalid_operations(expr):
    fl = Flags()
    assert expr(fl) == QNAN and fl.names() == {"invalid"}


# ------------------------------------------------------------------ flags, overflow
def test_division_by_zero():
    for x, y, want in ((ONE, PZ, PINF), (ONE ^ NZ, PZ, NINF), (ONE, NZ, NINF), (MINSUB, PZ, PINF)):
        fl = Flags()
        assert K.div(B32, x, y, K.RNE, fl) == want and fl.names() == {"divbyzero"}
    assert K.div(B32, PINF, PZ) == PINF                 # inf / 0 is exact: no flag
    fl = Flags()
    assert K.div(E4M3, 0x38, 0x00, K.RNE, fl) == E4M3.qnan and fl.names() == {"divbyzero"}


@pytest.mark.parametrize("rm,pos,neg", [
    (K.RNE, PINF, NINF), (K.RNA, PINF, NINF), (K.RTZ, MAX, MAX ^ NZ), (K.RUP, PINF, MAX ^ NZ),
    (K.RDN, MAX, NINF)])
def test_overflow_result_depends_on_the_direction(rm, pos, neg):
    fl = Flags()
    assert K.mul(B32, MAX, TWO, rm, fl) == pos and fl.names() == {"overflow", "inexact"}
    assert K.mul(B32, MAX ^ NZ, TWO, rm) == neg
    assert K.from_int(B32, 2 ** 200, rm) == pos


def test_overflow_threshold_is_after_rounding():
    half_ulp_above = K.ulp(B32, MAX) / 2
    fl = Flags()
    assert K.from_fraction(B32, B32.max_value + half_ulp_above - Fraction(1, 2 ** 200), K.RNE, fl) == MAX
    assert fl.names() == {"inexact"}
    assert K.from_fraction(B32, B32.max_value + half_ulp_above, K.RNE) == PINF     # tie to even overflows
    assert K.from_fraction(E4M3, Fraction(464)) == 0x7E                              # 448: even, no overflow
    assert K.from_fraction(E4M3, Fraction(465)) == E4M3.qnan


def test_format_without_infinities():
    fl = Flags()
    assert K.from_float(E4M3, 1e6, K.RNE, fl) == E4M3.qnan and fl.names() == {"overflow", "inexact"}
    assert K.from_float(E4M3, -1e6, K.RTZ) == 0xFE                   # -448
    fl = Flags()
    assert K.convert(B32, E4M3, PINF, K.RNE, fl) == E4M3.qnan and fl.names() == {"invalid"}
    assert K.mul(E4M3, 0x7E, 0x40) == E4M3.qnan                      # 448 * 2
    sat = Format("e4m3-sat", 4, 4, has_inf=False, nan="fn", saturate=True)
    assert K.mul(sat, 0x7E, 0x40) == 0x7E and K.convert(B32, sat, NINF) == 0xFE
    assert K.next_up(E4M3, 0x7E) == E4M3.qnan and K.next_down(E4M3, 0xFE) == E4M3.qnan
    assert all(K.classify(E4M3, b) != "inf" for b in range(256))
    assert [b for b in range(256) if K.is_nan(E4M3, b)] == [0x7F, 0xFF]


def test_flags_object():
    fl = Flags("inexact", "overflow")
    assert fl.overflow and fl.inexact and not fl.invalid and fl == {"overflow", "inexact"}
    fl.clear()
    assert not fl and repr(fl) == "Flags()"
    with pytest.raises(FloatFormatError, match="unknown flag"):
        Flags("denormal")


# ------------------------------------------------------------------ rounding modes
def test_rounding_modes_on_ties_and_thirds():
    tie = Fraction(1) + Fraction(1, 2 ** 24)
    assert K.from_fraction(B32, tie, K.RNE) == ONE and K.from_fraction(B32, tie, K.RNA) == ONE + 1
    assert K.from_fraction(B32, -tie, K.RNA) == (ONE + 1) ^ NZ
    assert K.from_fraction(B32, tie + Fraction(1, 2 ** 23), K.RNE) == ONE + 2      # odd -> even upward
    third = Fraction(1, 3)
    lo, hi = 0x3EAAAAAA, 0x3EAAAAAB
    assert [K.from_fraction(B32, third, m) for m in (K.RNE, K.RNA, K.RTZ, K.RUP, K.RDN)] == [hi, hi, lo, hi, lo]
    assert [K.from_fraction(B32, -third, m) for m in (K.RNE, K.RNA, K.RTZ, K.RUP, K.RDN)] == \
        [hi ^ NZ, hi ^ NZ, lo ^ NZ, lo ^ NZ, hi ^ NZ]
    with pytest.raises(FloatFormatError, match="rounding mode"):
        K.from_fraction(B32, third, "nearest")


# ------------------------------------------------------------------ comparisons, min/max
def test_comparisons():
    assert K.eq(B32, PZ, NZ) and K.le(B32, NZ, PZ) and not K.lt(B32, NZ, PZ)
    assert K.lt(B32, NINF, MAX ^ NZ) and K.gt(B32, PINF, MAX) and K.ge(B32, ONE, ONE)
    fl = Flags()
    assert not K.eq(B32, QNAN, QNAN, fl) and not fl                  # quiet
    assert K.unordered(B32, QNAN, ONE, fl) and not fl
    assert not K.lt(B32, QNAN, ONE, fl) and fl.invalid                # signalling
    fl = Flags()
    assert not K.eq(B32, SNAN, ONE, fl) and fl.invalid


def test_comparisons_agree_with_hardware_order():
    rng = rng_for("cmp")
    a = rng.integers(0, 2 ** 32, 20000, dtype=np.uint64)
    b = np.where(rng.random(20000) < 0.3, a ^ rng.integers(0, 4, 20000).astype(np.uint64), rng.integers(
        0, 2 ** 32, 20000, dtype=np.uint64))
    fa, fb = a.astype(np.uint32).view(np.float32), b.astype(np.uint32).view(np.float32)
    with np.errstate(invalid="ignore"):
        for op, ref in ((K.eq, np.equal), (K.lt, np.less), (K.le, np.less_equal), (K.gt, np.greater),
                        (K.ge, np.greater_equal), (K.unordered, lambda x, y: np.isnan(x) | np.isnan(y))):
            got = [op(B32, int(x), int(y)) for x, y in zip(a.tolist(), b.tolist())]
            assert got == ref(fa, fb).tolist()


def test_total_order():
    seq = [0xFFC00000, 0xFF800001, NINF, MAX ^ NZ, ONE ^ NZ, MINSUB ^ NZ, NZ, PZ, MINSUB, ONE, MAX, PINF,
           0x7F800001, QNAN, 0x7FC00001]
    assert sorted(seq, key=lambda x: [K.total_order(B32, x, y) for y in seq].count(True), reverse=True) == seq
    assert all(K.total_order(B32, x, y) == (i <= j) for i, x in enumerate(seq) for j, y in enumerate(seq))


def test_ieee_2019_minimum_maximum():
    one, two = ONE, TWO
    assert K.minimum(B32, PZ, NZ) == NZ and K.minimum(B32, NZ, PZ) == NZ
    assert K.maximum(B32, PZ, NZ) == PZ and K.maximum(B32, NZ, PZ) == PZ
    assert K.minimum(B32, one, two) == one and K.maximum(B32, one, two) == two
    assert K.minimum(B32, NINF, one) == NINF and K.maximum(B32, PINF, one) == PINF
    fl = Flags()
    assert K.minimum(B32, QNAN, one, fl) == QNAN and K.maximum(B32, one, QNAN, fl) == QNAN and not fl
    assert K.minimum_number(B32, QNAN, two) == two and K.maximum_number(B32, two, QNAN) == two
    assert K.minimum_number(B32, QNAN, QNAN) == QNAN
    fl = Flags()
    assert K.minimum_number(B32, SNAN, two, fl) == two and fl.invalid
    fl = Flags()
    assert K.maximum(B32, SNAN, two, fl) == QNAN and fl.invalid
    assert K.minimum_number(B32, PZ, NZ) == NZ and K.maximum_number(B32, NZ, PZ) == PZ


def test_min_max_agree_with_numpy_on_numbers():
    rng = rng_for("minmax")
    a = rng.integers(0, 2 ** 32, 5000, dtype=np.uint64).tolist()
    b = rng.integers(0, 2 ** 32, 5000, dtype=np.uint64).tolist()
    for x, y in zip(a, b):
        fx, fy = np.uint32(x).view(np.float32), np.uint32(y).view(np.float32)
        mn, mx = K.minimum(B32, x, y), K.maximum(B32, x, y)
        if np.isnan(fx) or np.isnan(fy):
            assert mn == mx == QNAN
            assert K.minimum_number(B32, x, y) == (y if np.isnan(fx) and not np.isnan(fy) else
                                                   x if not np.isnan(fx) and np.isnan(fy) else QNAN)
        elif fx != fy:
            assert np.uint32(mn).view(np.float32) == np.minimum(fx, fy)
            assert np.uint32(mx).view(np.float32) == np.maximum(fx, fy)


# ------------------------------------------------------------------ neighbours, ulp
def test_next_up_next_down():
    assert K.next_up(B32, NZ) == MINSUB and K.next_up(B32, PZ) == MINSUB
    assert K.next_up(B32, MINSUB ^ NZ) == NZ and K.next_down(B32, MINSUB) == PZ
    assert K.next_down(B32, PZ) == MINSUB ^ NZ
    assert K.next_up(B32, MAXSUB) == MINNORM and K.next_up(B32, MAX) == PINF and K.next_up(B32, PINF) == PINF
    assert K.next_up(B32, NINF) == MAX ^ NZ and K.next_down(B32, NINF) == NINF
    assert K.next_up(B32, ONE) == ONE + 1 and K.next_down(B32, ONE) == ONE - 1
    fl = Flags()
    assert K.next_up(B32, SNAN, fl) == QNAN and fl.invalid
    rng = rng_for("nextafter")
    xs = rng.integers(0, 2 ** 32, 3000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    xs = xs[np.isfinite(xs)]
    up = np.nextafter(xs, np.float32(np.inf)).view(np.uint32).tolist()
    dn = np.nextafter(xs, np.float32(-np.inf)).view(np.uint32).tolist()
    for x, u, d in zip(xs.view(np.uint32).tolist(), up, dn):
        assert K.to_fraction(B32, K.next_up(B32, x)) == K.to_fraction(B32, u)
        assert K.to_fraction(B32, K.next_down(B32, x)) == K.to_fraction(B32, d)


def test_ulp():
    assert K.ulp(B32, ONE) == Fraction(1, 2 ** 23) and K.ulp(B32, ONE - 1) == Fraction(1, 2 ** 24)
    assert K.ulp(B32, PZ) == K.ulp(B32, MAXSUB) == K.ulp(B32, MINNORM) == Fraction(1, 2 ** 149)
    assert K.ulp(B32, MAX) == 2 ** 104 and K.ulp(E4M3, 0x7E) == 32
    for bad in (PINF, QNAN):
        with pytest.raises(FloatFormatError, match="ulp of"):
            K.ulp(B32, bad)


# ------------------------------------------------------------------ conversions
def test_conversions_from_python_numbers():
    assert K.from_int(B32, 2 ** 24 + 1) == f32(2.0 ** 24)
    fl = Flags()
    assert K.from_int(B32, 2 ** 24 + 3, K.RNE, fl) == f32(2.0 ** 24 + 4) and fl.inexact
    assert K.from_int(B32, -3) == f32(-3.0) and K.from_int(B32, 0) == PZ
    assert K.to_fraction(B32, K.from_fraction(B32, Fraction(1, 3))) == Fraction(11184811, 33554432)
    assert K.from_float(B32, -0.0) == NZ and K.from_float(B32, float("inf")) == PINF
    assert K.from_float(B32, float("nan")) == QNAN and K.from_float(B32, np.float32(1.5)) == f32(1.5)
    assert K.to_float(E5M2, 0x7B) == 57344.0 and K.to_float(B32, NZ) == 0.0
    assert struct.pack("<d", K.to_float(B32, NZ)) == struct.pack("<d", -0.0)
    assert np.isnan(K.to_float(BFLOAT16, BFLOAT16.qnan))
    assert K.from_string(B32, "-0") == NZ and K.from_string(B32, "0.1") == f32(0.1)
    assert K.from_string(B32, "-Infinity") == NINF and K.from_string(BINARY16, "1/3") == 0x3555


def test_float64_to_float32_matches_hardware():
    rng = rng_for("cvt64")
    x = rng.integers(0, 2 ** 64, 60000, dtype=np.uint64)
    e = rng.integers(1023 - 160, 1023 + 135, 30000).astype(np.uint64)      # the binary32 range and beyond
    x[:30000] = (x[:30000] & np.uint64(0x800FFFFFFFFFFFFF)) | (e << np.uint64(52))
    d = x.view(np.float64)
    with np.errstate(all="ignore"):
        want = d.astype(np.float32)
    for v, w in zip(d.tolist(), want.tolist()):
        got = K.from_float(B32, v)
        assert (np.isnan(w) and got == QNAN) or got == f32(w), (v, hex(got))


def test_every_format_round_trips_through_binary64():
    rng = rng_for("rt")
    for fmt in FORMATS.values():
        bits = range(1 << fmt.width) if fmt.width <= 16 else rng.integers(0, 1 << fmt.width, 5000,
                                                                           dtype=np.uint64).tolist()
        for b in bits:
            if not K.is_nan(fmt, b):
                assert K.from_float(fmt, K.to_float(fmt, b)) == b


# ------------------------------------------------------------------ flush to zero
def test_flush_to_zero():
    F = B32.with_ftz()
    assert F.name == "binary32-ftz"
    fl = Flags()
    assert K.mul(F, MINNORM, f32(0.5), K.RNE, fl) == PZ and fl.names() == {"underflow", "inexact"}
    assert K.mul(F, MINNORM ^ NZ, f32(0.5)) == NZ
    assert K.add(F, MAXSUB, MINNORM) == MINNORM                       # the subnormal input reads as 0
    assert K.add(F, MINSUB, PZ) == PZ and K.eq(F, MINSUB, NZ) and K.lt(F, PZ, MINNORM)
    assert K.minimum(F, MINSUB, NZ) == NZ and K.maximum(F, MINSUB ^ NZ, f32(-1.0)) == NZ
    assert K.sub(F, f32(1.5 * 2.0 ** -126), MINNORM) == PZ              # exact subnormal difference
    assert K.to_fraction(F, MINSUB) == Fraction(1, 2 ** 149)         # decoding ignores ftz


def test_flush_to_zero_equals_flushing_around_the_ieee_op():
    F = B32.with_ftz()
    rng = rng_for("ftz")

    def flush(x):
        return x & NZ if K.classify(B32, x) == "subnormal" else x
    vals = [int(v) for v in rng.integers(0, 2 ** 25, 2000)] + [int(v) | NZ for v in rng.integers(0, 2 ** 25, 2000)]
    for x, y in zip(vals, vals[::-1]):
        for op in (K.add, K.mul, K.div):
            for rm in (K.RNE, K.RUP):
                got = op(F, x, y, rm)
                want = flush(op(B32, flush(x), flush(y), rm))
                assert got == want or (K.is_nan(B32, got) and K.is_nan(B32, want))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call,match", [
    (lambda: K.add(B32, 2 ** 32, 0), "does not fit in 32 bits"),
    (lambda: K.mul(E4M3, -1, 0), "does not fit in 8 bits"),
    (lambda: K.neg(B32, 1.5), "must be an int"),
    (lambda: K.to_fraction(B32, QNAN), "is nan: it has no exact rational value"),
    (lambda: K.to_fraction(B32, NINF), "is inf"),
    (lambda: K.from_float(B32, "1.5"), "not a number"),
    (lambda: K.from_float(B32, None), "not a number"),
    (lambda: K.from_int(B32, 1.5), "needs an int"),
    (lambda: K.from_fraction(B32, 0.5), "needs a Fraction"),
    (lambda: K.from_string(B32, "0x3f800000"), "not a decimal number"),
    (lambda: K.from_string(B32, "1e5e5"), "not a decimal number"),
    (lambda: K.from_string(B32, ""), "not a decimal number"),
])
def test_bad_input_raises_float_format_error(call, match):
    with pytest.raises(FloatFormatError, match=match):
        call()


def test_elementwise_helper():
    a = np.array([ONE, TWO, MAX], dtype=np.uint32)
    out = K.elementwise(K.add, B32, a, a)
    assert out.dtype == np.uint64 and out.tolist() == [TWO, f32(4.0), PINF]
    assert K.elementwise(K.sqrt, B32, np.array([f32(4.0)])).tolist() == [TWO]


# ------------------------------------------------------------------ independent oracle
class Table:
    """All finite non-negative values of a format, sorted, plus the virtual
    neighbour above max (max + ulp(max)): rounding to it means overflow."""

    def __init__(self, fmt):
        self.fmt = fmt
        pos = [b for b in range(1 << (fmt.width - 1)) if K.classify(fmt, b) in ("zero", "subnormal", "normal")]
        self.vals = [K.to_fraction(fmt, b) for b in pos]
        self.bits = pos
        self.vals.append(fmt.max_value + K.ulp(fmt, fmt.max_finite))
        self.bits.append(fmt.max_finite + 1)          # parity of the virtual neighbour's last bit

    def round(self, z: Fraction, rm):
        """(bits, inexact, overflow) of z != 0 rounded in mode rm."""
        neg = z < 0
        a = -z if neg else z
        i = bisect.bisect_left(self.vals, a)
        if i < len(self.vals) and self.vals[i] == a:
            choice, inexact = i, False
        else:
            inexact = True
            lo, hi = i - 1, i                        # hi == len(vals): beyond the virtual neighbour
            toward_zero = {K.RTZ: True, K.RUP: neg, K.RDN: not neg}.get(rm)
            if toward_zero is not None:
                choice = lo if toward_zero else hi
            else:
                dl = a - self.vals[lo]
                dh = (self.vals[hi] - a) if hi < len(self.vals) else dl + 1
                if dl != dh:
                    choice = lo if dl < dh else hi
                else:
                    choice = hi if rm is K.RNA else (lo if self.bits[lo] % 2 == 0 else hi)
        sign = int(neg) << self.fmt.sign_bit
        if choice >= len(self.vals) - 1:                 # overflow: inf, or max when rounding toward zero
            if rm in (K.RTZ, K.RUP if neg else K.RDN):
                return sign | self.fmt.max_finite, True, True
            return (sign | self.fmt.inf) if self.fmt.inf is not None else self.fmt.qnan, True, True
        return sign | self.bits[choice], inexact, False


_TABLES = {}


def _table(name):
    if name not in _TABLES:
        _TABLES[name] = Table(get_format(name))
    return _TABLES[name]


def _exact(op, xs):
    if op == "add":
        return xs[0] + xs[1]
    if op == "sub":
        return xs[0] - xs[1]
    if op == "mul":
        return xs[0] * xs[1]
    if op == "div":
        return xs[0] / xs[1]
    if op == "fma":
        return xs[0] * xs[1] + xs[2]
    return None


@pytest.mark.parametrize("rm", ALL_MODES, ids=lambda m: m.name)
@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e4m3", "e5m2"])
def test_small_formats_against_an_independent_rounding_oracle(name, rm):
    fmt, tab = get_format(name), _table(name)
    rng = rng_for("oracle", name, rm.name)
    finite = [b for b in range(1 << min(fmt.width, 16)) if K.classify(fmt, b) != "nan"
              and K.classify(fmt, b) != "inf"]
    ops = {"add": K.add, "sub": K.sub, "mul": K.mul, "div": K.div, "fma": K.fma}
    checked = 0
    for op, fn in ops.items():
        arity = 3 if op == "fma" else 2
        picks = rng.choice(len(finite), size=(400, arity))
        for row in picks:
            args = [finite[i] for i in row]
            xs = [K.to_fraction(fmt, a) for a in args]
            if op == "div" and xs[1] == 0:
                continue
            z = _exact(op, xs)
            if z == 0:
                continue                      # exact zeros: the sign rules are tested above
            want, inexact, overflow = tab.round(z, rm)
            fl = Flags()
            got = fn(fmt, *args, rm, fl)
            assert got == want, (op, [hex(a) for a in args], hex(got), hex(want))
            assert fl.inexact == inexact and fl.overflow == overflow
            checked += 1
    # sqrt of (a sample of) the positive finite values
    for i in rng.choice(len(finite), size=min(len(finite), 600), replace=False):
        b = finite[i]
        x = K.to_fraction(fmt, b)
        if x <= 0:
            continue
        got = K.sqrt(fmt, b, rm)
        r = K.to_fraction(fmt, got)
        lo, hi = K.to_fraction(fmt, K.next_down(fmt, got)), K.to_fraction(fmt, K.next_up(fmt, got))
        # the exact root lies within the rounding interval of r for this mode
        if rm in (K.RNE, K.RNA):
            assert ((lo + r) / 2) ** 2 <= x <= ((r + hi) / 2) ** 2
        elif rm in (K.RTZ, K.RDN):
            assert r * r <= x < hi * hi
        else:
            assert lo * lo < x <= r * r
        checked += 1
    assert checked > 1800
