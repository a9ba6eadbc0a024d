"""The error-model constants against the kernel: on random operations in every
rounding mode the bound |fl(z) - z| <= u'|z| + eta' holds, and it is attained
up to a small factor (both the relative and the absolute term)."""

from fractions import Fraction

import numpy as np
import pytest

from certnn.floats import BINARY16, BINARY32 as B32, E4M3, FloatFormatError, error_model, eta, gamma, unit_roundoff
from certnn.floats import kernel as K

from ._gen import finite_b32, rng_for, similar_pairs


def test_constants():
    assert unit_roundoff("binary32") == Fraction(1, 2 ** 24) and eta("binary32") == Fraction(1, 2 ** 150)
    assert unit_roundoff(BINARY16) == Fraction(1, 2 ** 11) and eta(BINARY16) == Fraction(1, 2 ** 25)
    assert unit_roundoff("bfloat16") == Fraction(1, 2 ** 8) and eta("e4m3") == Fraction(1, 2 ** 10)
    assert eta("e5m2") == Fraction(1, 2 ** 17) and eta(B32.with_ftz()) == Fraction(1, 2 ** 126)
    m = error_model("binary32")
    assert m.relative(K.RNE) == m.relative(K.RNA) == m.u and m.relative(K.RUP) == 2 * m.u
    assert m.absolute(K.RNE) == m.eta and m.absolute(K.RTZ) == 2 * m.eta
    u = m.u
    assert gamma(1, "binary32") == u / (1 - u) and gamma(3, u) == 3 * u / (1 - 3 * u) and m.gamma(0) == 0
    with pytest.raises(FloatFormatError, match="n\\*u"):
        gamma(2 ** 24, "binary32")
    with pytest.raises(FloatFormatError):
        gamma(-1, "binary32")


OPS = {"add": (K.add, lambda x, y: x + y), "mul": (K.mul, lambda x, y: x * y),
       "div": (K.div, lambda x, y: x / y), "fma": (K.fma, lambda x, y, z: x * y + z)}


@pytest.mark.parametrize("rm", list(K.Rounding), ids=lambda m: m.name)
def test_bound_holds_and_is_attained(rm):
    m = error_model(B32)
    rng = rng_for("model", rm.name)
    worst_rel, worst_abs, n = Fraction(0), Fraction(0), 0
    for op, (fn, exact) in OPS.items():
        a, b = similar_pairs(rng, 1500, "mul" if op in ("mul", "div", "fma") else "add")
        cols = [a.tolist(), b.tolist()] + ([finite_b32(rng, 1500).tolist()] if op == "fma" else [])
        for args in zip(*cols):
            if any(K.classify(B32, v) in ("inf", "nan") for v in args) or (op == "div" and args[1] & 0x7FFFFFFF == 0):
                continue
            r = fn(B32, *args, rm)
            if K.classify(B32, r) in ("inf", "nan") or r & 0x7FFFFFFF == B32.max_finite:
                continue                                   # overflow: outside the model
            z = exact(*[K.to_fraction(B32, v) for v in args])
            err = m.error(z, r)
            assert err <= m.bound(z, rm), (op, [hex(v) for v in args], rm)
            n += 1
            if abs(z) >= B32.min_normal:
                worst_rel = max(worst_rel, err / (m.relative(rm) * abs(z)))
            else:
                worst_abs = max(worst_abs, err / m.absolute(rm))
    # sqrt: relative term only (roots of binary32 numbers are normal)
    for x in (finite_b32(rng, 1500) & np.uint64(0x7FFFFFFF)).tolist():
        r = K.sqrt(B32, x, rm)
        lo, hi = K.to_fraction(B32, r) ** 2, K.to_fraction(B32, x)
        assert abs(lo - hi) <= 2 * K.to_fraction(B32, r) * m.bound(K.to_fraction(B32, r), rm) + m.bound(
            K.to_fraction(B32, r), rm) ** 2
    assert n > 4000
    assert worst_rel > Fraction(9, 10), float(worst_rel)
    assert worst_abs > Fraction(9, 10), float(worst_abs)


def test_halving_the_constants_breaks_the_bound():
    """u and eta are tight: a tie at the bottom of a binade and a subnormal tie."""
    m = error_model(B32)
    z = Fraction(1) + Fraction(1, 2 ** 24)
    r = K.from_fraction(B32, z)
    assert m.error(z, r) > m.u * abs(z) * Fraction(99, 100)
    z = Fraction(3, 2 ** 150)
    r = K.from_fraction(B32, z)
    assert m.error(z, r) == m.eta


@pytest.mark.parametrize("fmt", [B32.with_ftz(), E4M3], ids=lambda f: f.name)
def test_bound_holds_for_ftz_and_fp8(fmt):
    m = error_model(fmt)
    rng = rng_for("model2", fmt.name)
    for _ in range(3000):
        x, y = (int(v) for v in rng.integers(0, 1 << fmt.width, 2))
        r = K.mul(fmt, x, y)
        classes = {K.classify(fmt, v) for v in (x, y, r)}
        if classes & {"inf", "nan"} or r & ~(1 << fmt.sign_bit) == fmt.max_finite:
            continue                                       # overflow or special: outside the model
        read = [Fraction(0) if fmt.ftz and K.classify(fmt, v) == "subnormal" else K.to_fraction(fmt, v)
                for v in (x, y)]
        z = read[0] * read[1]
        assert m.error(z, r) <= m.bound(z), (hex(x), hex(y))


def test_gamma_bounds_a_product_of_n_roundings():
    rng = rng_for("gamma")
    n = 12
    g = gamma(n - 1, B32)
    for _ in range(300):
        xs = [K.from_float(B32, float(v)) for v in rng.uniform(0.5, 2.0, n)]
        acc = xs[0]
        for x in xs[1:]:
            acc = K.mul(B32, acc, x)
        exact = Fraction(1)
        for x in xs:
            exact *= K.to_fraction(B32, x)
        assert abs(K.to_fraction(B32, acc) - exact) <= g * exact
