"""Unit tests of certnn.floats.interval against exact arithmetic: Fraction for the
correctly rounded operations and the contractions (including adversarial
cancellation and underflow), mpmath for the libm functions; hypothesis
property tests over the whole binary64 range, subnormals and overflow included."""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certnn.errors import CertnnError
from certnn.floats import interval as iv

INF = math.inf
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _contains(lo, hi, q) -> bool:
    """lo <= q <= hi for an exact value q (Fraction or mpmath number); inf endpoints unbounded."""
    lo, hi = float(lo), float(hi)
    below = lo == -INF or (lo != INF and Fraction(lo) <= Fraction(q) if isinstance(q, Fraction) else lo <= q)
    above = hi == INF or (hi != -INF and Fraction(q) <= Fraction(hi) if isinstance(q, Fraction) else q <= hi)
    return bool(below and above)


@st.composite
def intervals(draw, elems=finite):
    a, b = draw(elems), draw(elems)
    return (min(a, b), max(a, b))


def _pts(lo, hi):
    """Exact points of [lo, hi]: both ends and the exact midpoint."""
    return [Fraction(lo), Fraction(hi), (Fraction(lo) + Fraction(hi)) / 2]


def _call(fn, *bounds):
    out = fn(*[np.float64(b) for b in bounds])
    return float(out[0]), float(out[1])


# ---------------------------------------------------------------- validation and constants

def test_interval_error_is_a_certnn_value_error():
    assert issubclass(iv.IntervalError, CertnnError) and issubclass(iv.IntervalError, ValueError)


def test_check_rejects_nan_crossed_and_mismatched():
    with pytest.raises(iv.IntervalError, match="NaN"):
        iv.check(np.array([0.0, np.nan]), np.array([1.0, 1.0]), "x")
    with pytest.raises(iv.IntervalError, match="lower bound above upper bound"):
        iv.check(np.array([2.0]), np.array([1.0]), "x")
    with pytest.raises(iv.IntervalError, match="shape"):
        iv.check(np.zeros(2), np.zeros(3), "x")
    lo, hi = iv.check(np.array([-INF, 0.0]), np.array([INF, INF]), "x")
    assert lo.dtype == np.float64


def test_inputs_names_the_op():
    with pytest.raises(iv.IntervalError, match="myop: input 1"):
        iv.inputs("myop", [np.zeros(2), np.zeros(2)], [np.ones(2), np.array([1.0, np.nan])])


def test_uses_rejects_unknown_assumption():
    with pytest.raises(ValueError):
        iv.uses("no-such-boundary")
    assert "libm-float64-within-4ulp" in iv.ASSUMPTIONS


@pytest.mark.parametrize("n", [1, 2, 10, 784, 10**6, 2**40])
def test_gamma_constants_round_up(n):
    u = Fraction(1, 2**53)
    g = n * u / (1 - n * u)
    assert Fraction(iv.gamma(n)) >= g
    assert Fraction(iv._grow(n)) >= 1 / (1 - Fraction(iv.gamma(n)))
    assert Fraction(iv._shrink(n)) <= 1 / (1 + Fraction(iv.gamma(n)))


def test_gamma_rejects_huge_n():
    with pytest.raises(iv.IntervalError):
        iv.gamma(2**52)


def test_inv_sqrt2_encloses():
    lo, hi = iv.INV_SQRT2
    assert Fraction(lo) ** 2 <= Fraction(1, 2) <= Fraction(hi) ** 2


def test_gelu_constants():
    from certnn.ops import activations as a
    with mpmath.workdps(60):
        gp = lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x)  # noqa: E731
        assert gp(mpmath.mpf(a._GELU_LEFT)) < 0 < gp(mpmath.mpf(a._GELU_RIGHT))
        xs = mpmath.findroot(gp, mpmath.mpf(-0.75))
        assert a._GELU_LEFT < xs < a._GELU_RIGHT
        assert mpmath.mpf(a._GELU_MIN) < xs * mpmath.ncdf(xs)


# ---------------------------------------------------------------- correctly rounded arithmetic

@SETTINGS
@given(intervals(), intervals())
def test_add_sub_mul_contain_exact(a, b):
    for fn, op in ((iv.add, lambda x, y: x + y), (iv.sub, lambda x, y: x - y), (iv.mul, lambda x, y: x * y)):
        lo, hi = _call(fn, *a, *b)
        assert not (math.isnan(lo) or math.isnan(hi)) and lo <= hi
        for x in _pts(*a):
            for y in _pts(*b):
                assert _contains(lo, hi, op(x, y)), (fn.__name__, a, b, x, y, lo, hi)


@SETTINGS
@given(intervals(), intervals())
def test_div_contains_exact_or_is_whole_line(a, b):
    lo, hi = _call(iv.div, *a, *b)
    assert lo <= hi
    if b[0] <= 0 <= b[1]:
        assert (lo, hi) == (-INF, INF)
        return
    for x in _pts(*a):
        for y in _pts(*b):
            assert _contains(lo, hi, x / y), (a, b, lo, hi)


@SETTINGS
@given(intervals())
def test_square_abs_sqrt_contain_exact(a):
    lo, hi = _call(iv.square, *a)
    for x in _pts(*a) + [Fraction(0)] * (a[0] <= 0 <= a[1]):
        assert _contains(lo, hi, x * x)
    lo, hi = _call(iv.abs_, *a)
    for x in _pts(*a):
        assert _contains(lo, hi, abs(x))
    if a[0] < 0:
        assert _call(iv.sqrt, *a) == (-INF, INF)
    else:
        lo, hi = _call(iv.sqrt, *a)
        for x in (a[0], a[1]):
            q = Fraction(x)
            assert (lo <= 0 or Fraction(lo) ** 2 <= q) and (hi == INF or q <= Fraction(hi) ** 2)


@SETTINGS
@given(intervals(st.floats(allow_nan=False, width=64)), intervals(st.floats(allow_nan=False, width=64)))
def test_infinite_endpoints_never_give_nan(a, b):
    for fn in (iv.add, iv.sub, iv.mul, iv.div):
        lo, hi = _call(fn, *a, *b)
        assert not (math.isnan(lo) or math.isnan(hi)) and lo <= hi, (fn.__name__, a, b, lo, hi)
    for fn in (iv.square, iv.abs_, iv.sqrt, iv.exp, iv.log, iv.log1p, iv.tanh, iv.erf, iv.sigmoid,
               iv.softplus):
        lo, hi = _call(fn, *a)
        assert not (math.isnan(lo) or math.isnan(hi)) and lo <= hi, (fn.__name__, a, lo, hi)


def test_indeterminate_forms():
    assert _call(iv.add, -INF, 0.0, INF, INF) == (-INF, INF)      # [inf, inf] + [-inf, 0]
    assert _call(iv.mul, 0.0, 1.0, 1.0, INF) == (-5e-324, INF)   # 0 * inf counts as 0
    assert _call(iv.mul, 0.0, 0.0, -INF, INF)[1] <= 5e-324
    assert _call(iv.div, 1.0, 2.0, -1.0, 1.0) == (-INF, INF)
    assert _call(iv.div, -INF, 1.0, 1.0, INF) == (-INF, 1.0000000000000002)
    assert _call(iv.log, 0.0, 1.0)[0] == -INF
    assert _call(iv.log, 0.0, 0.0) == (-INF, -INF)
    assert _call(iv.sqrt, -1.0, 4.0) == (-INF, INF)


def test_overflow_is_sound():
    big = 1.7e308
    lo, hi = _call(iv.add, big, big, big, big)
    assert hi == INF and Fraction(lo) <= 2 * Fraction(big)
    lo, hi = _call(iv.mul, -big, -big, big, big)
    assert lo == -INF and Fraction(hi) >= -Fraction(big) ** 2


def test_subnormal_results_are_sound():
    eta = 5e-324
    lo, hi = _call(iv.mul, eta, eta, 0.5, 0.5)          # exact eta/2, RN gives 0 (tie to even)
    assert Fraction(lo) <= Fraction(eta) / 2 <= Fraction(hi)
    lo, hi = _call(iv.div, 3 * eta, 3 * eta, 2.0, 2.0)
    assert Fraction(lo) <= Fraction(3 * eta) / 2 <= Fraction(hi)


# ---------------------------------------------------------------- libm functions (mpmath reference)

LIBM = [
    (iv.exp, mpmath.exp, st.floats(-745.0, 709.0)),
    (iv.log, mpmath.log, st.floats(min_value=5e-324, max_value=1e308)),
    (iv.log1p, mpmath.log1p, st.floats(min_value=-1.0 + 2**-53, max_value=1e308)),
    (iv.tanh, mpmath.tanh, st.floats(-40.0, 40.0)),
    (iv.erf, mpmath.erf, st.floats(-8.0, 8.0)),
    (iv.sigmoid, lambda x: 1 / (1 + mpmath.exp(-x)), st.floats(-800.0, 800.0)),
    (iv.softplus, lambda x: mpmath.log1p(mpmath.exp(x)), st.floats(-800.0, 800.0)),
]


@pytest.mark.parametrize("fn,ref,elems", LIBM, ids=[f[0].__name__ for f in LIBM])
def test_libm_functions_contain_mpmath_value(fn, ref, elems):
    @SETTINGS
    @given(intervals(elems))
    def check(a):
        lo, hi = _call(fn, *a)
        with mpmath.workdps(60):
            for x in (mpmath.mpf(a[0]), mpmath.mpf(a[1]), (mpmath.mpf(a[0]) + mpmath.mpf(a[1])) / 2):
                assert _contains(lo, hi, ref(x)), (fn.__name__, a, x, lo, hi)
    check()


def test_monotone_decreasing():
    lo, hi = iv.monotone(lambda x: iv.exp(-x, -x), np.array([1.0]), np.array([2.0]), increasing=False)
    with mpmath.workdps(40):
        assert lo[0] <= mpmath.exp(-2) and mpmath.exp(-1) <= hi[0]


# ---------------------------------------------------------------- sums and contractions

def _exact_matmul(A, B):
    A = [[Fraction(float(v)) for v in row] for row in A]
    Bt = [[Fraction(float(v)) for v in col] for col in np.asarray(B).T]
    return [[sum((a * b for a, b in zip(row, col)), Fraction(0)) for col in Bt] for row in A]


def _ill_conditioned(rng, m, n, p):
    """A (m, n), B (n, p) whose products have huge, cancelling terms: the last column of
    A is chosen so that every exact dot product is tiny (Fraction residue of a rounded
    cancellation), while the float64 result errs by far more than its size."""
    A = rng.standard_normal((m, n)) * 2.0 ** rng.integers(-40, 40, (m, n))
    B = rng.standard_normal((n, p)) * 2.0 ** rng.integers(-20, 20, (n, p))
    B[-1] = 1.0
    A[:, -1] = 0.0
    for i in range(m):
        partial = sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(A[i, :-1], B[:-1, 0])),
                      Fraction(0))
        A[i, -1] = -float(partial)
    return A, B


@pytest.mark.parametrize("seed", range(5))
def test_bilinear_adversarial_cancellation(seed):
    rng = np.random.default_rng(seed)
    A, B = _ill_conditioned(rng, 4, 50, 3)
    exact = _exact_matmul(A, B)
    c = A @ B
    rel = [abs(Fraction(float(c[i, 0])) - exact[i][0]) / max(abs(exact[i][0]), Fraction(1, 10**300))
           for i in range(4)]
    assert max(rel) > 1e-3      # the float64 product really is badly wrong
    for a_exact in (True, False):
        for b_exact in (True, False):
            al, ah = (A, A) if a_exact else (A, A.copy())
            bl, bh = (B, B) if b_exact else (B, B.copy())
            lo, hi = iv.bilinear(np.matmul, al, ah, bl, bh, A.shape[1])
            for i in range(4):
                for j in range(3):
                    assert _contains(lo[i, j], hi[i, j], exact[i][j]), (a_exact, b_exact, i, j)


@pytest.mark.parametrize("seed", range(4))
def test_bilinear_interval_operands_at_corners(seed):
    rng = np.random.default_rng(10 + seed)
    A, B = _ill_conditioned(rng, 3, 20, 2)
    ra = np.abs(A) * 2.0 ** -50 * rng.uniform(0, 1, A.shape)
    rb = np.abs(B) * 2.0 ** -50 * rng.uniform(0, 1, B.shape)
    for b_interval in (False, True):
        bl, bh = (B - rb, B + rb) if b_interval else (B, B)
        lo, hi = iv.bilinear(np.matmul, A - ra, A + ra, bl, bh, A.shape[1])
        for _ in range(8):
            ca = np.where(rng.uniform(size=A.shape) < 0.5, A - ra, A + ra)
            cb = np.where(rng.uniform(size=B.shape) < 0.5, bl, bh)
            exact = _exact_matmul(ca, cb)
            for i in range(3):
                for j in range(2):
                    assert _contains(lo[i, j], hi[i, j], exact[i][j])


@pytest.mark.parametrize("seed", range(4))
def test_bilinear_exact_weights_with_shift_at_corners(seed):
    """The weights case's own tail (B exact, an exact shift added before the one
    outward step): ill-conditioned products, and shifts of 2^60 that make c + shift
    inexact, so the shift's rounding error has to be in the radius."""
    rng = np.random.default_rng(20 + seed)
    A, B = _ill_conditioned(rng, 3, 20, 2)
    ra = np.abs(A) * 2.0 ** -50 * rng.uniform(0, 1, A.shape)
    for shift in (np.array([2.0 ** 60 + 2.0 ** 8, -3.0]), np.array([-(2.0 ** 60), 0.0]),
                  rng.standard_normal(2) * 2.0 ** rng.integers(-30, 30, 2)):
        lo, hi = iv.bilinear(np.matmul, A - ra, A + ra, B, B, A.shape[1], shift=shift)
        for _ in range(6):
            ca = np.where(rng.uniform(size=A.shape) < 0.5, A - ra, A + ra)
            exact = _exact_matmul(ca, B)
            for i in range(3):
                for j in range(2):
                    assert _contains(lo[i, j], hi[i, j], exact[i][j] + Fraction(float(shift[j])))


@pytest.mark.parametrize("seed", range(3))
def test_bilinear_weights_tail_matches_general_path(seed):
    """The fast tail and the general path (then an interval add) give the same
    enclosure up to a few units in the last place of the radius."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 40))
    r = rng.uniform(0, 0.1, x.shape)
    w, b = rng.standard_normal((40, 7)), rng.standard_normal(7)
    fast = iv.bilinear(np.matmul, x - r, x + r, w, w, 40, shift=b)
    with np.errstate(all="ignore"):
        general = iv.add(*iv._bilinear_general(np.matmul, x - r, x + r, w, w, 40, None, False, True), b, b)
    width = general[1] - general[0]
    for f, g in zip(fast, general):
        assert np.all(np.abs(f - g) <= 1e-14 * width)
    assert np.all(fast[0] <= x @ w + b) and np.all(x @ w + b <= fast[1])


def test_bilinear_shift_with_unbounded_elements_falls_back():
    al = np.array([[-INF, 1.0], [0.5, 1.0]])
    ah = np.array([[0.0, 1.0], [0.75, 1.0]])
    B, shift = np.array([[10.0], [10.0]]), np.array([3.0])
    lo, hi = iv.bilinear(np.matmul, al, ah, B, B, 2, shift=shift)
    assert lo[0, 0] == -INF and not np.isnan(lo).any() and not np.isnan(hi).any()
    assert _contains(lo[1, 0], hi[1, 0], Fraction(5 + 10 + 3)) and _contains(lo[1, 0], hi[1, 0], Fraction(35, 2) + 3)
    assert hi[1, 0] - lo[1, 0] < 2.6


def test_bilinear_underflow_term():
    # each product is 0.75 * 2^-1080 < eta / 2: every one rounds to 0, the exact sum is ~11.7 eta
    n = 1000
    A = np.full((1, n), 2.0 ** -540)
    B = np.full((n, 1), 0.75 * 2.0 ** -540)
    exact = n * Fraction(2) ** -540 * Fraction(3, 4) * Fraction(2) ** -540
    assert (A @ B)[0, 0] == 0.0
    lo, hi = iv.bilinear(np.matmul, A, A, B, B, n)
    assert _contains(lo[0, 0], hi[0, 0], exact)


def test_bilinear_overflow_and_infinite_inputs_give_whole_line():
    A = np.array([[1e308, 1e308]])
    B = np.array([[10.0], [10.0]])
    lo, hi = iv.bilinear(np.matmul, A, A, B, B, 2)
    assert lo[0, 0] == -INF and hi[0, 0] == INF
    al, ah = np.array([[-INF, 1.0]]), np.array([[0.0, 1.0]])
    lo, hi = iv.bilinear(np.matmul, al, ah, B, B, 2)
    assert lo[0, 0] == -INF and hi[0, 0] == INF and not np.isnan(lo).any()


@SETTINGS
@given(st.lists(moderate, min_size=1, max_size=30), st.lists(moderate, min_size=1, max_size=30))
def test_bilinear_random_points(xs, ws):
    n = min(len(xs), len(ws))
    x, w = np.array(xs[:n])[None, :], np.array(ws[:n])[:, None]
    lo, hi = iv.bilinear(np.matmul, x - 0.5, x + 0.25, w, w, n)
    for corner in (x - 0.5, x + 0.25, x):
        assert _contains(lo[0, 0], hi[0, 0], _exact_matmul(corner, w)[0][0])


def test_sum_enclosure_cancellation():
    x = np.array([1e16, 1.0, -1e16, 1.0, 3e-300, -1.0])
    assert np.sum(x) != 2.0 + 3e-300
    exact = sum((Fraction(float(v)) for v in x), Fraction(0))
    lo, hi = iv.sum_enclosure(np.sum, x, x, x.size)
    assert _contains(lo, hi, exact)


@SETTINGS
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=20))
def test_sum_enclosure_contains_exact(pairs):
    lo_in = np.array([min(p) for p in pairs])
    hi_in = np.array([max(p) for p in pairs])
    lo, hi = iv.sum_enclosure(np.sum, lo_in, hi_in, lo_in.size)
    for v in (lo_in, hi_in):
        assert _contains(lo, hi, sum((Fraction(float(t)) for t in v), Fraction(0)))


@SETTINGS
@given(st.lists(st.floats(0.0, 1e300), min_size=1, max_size=12))
def test_exclusive_sum_bounds(ts):
    t = np.array(ts)
    lo, hi = iv.nonneg_sum_bounds(iv.exclusive_sum(t[None, :], axis=1), t.size)
    for i in range(t.size):
        exact = sum((Fraction(float(v)) for k, v in enumerate(ts) if k != i), Fraction(0))
        assert _contains(lo[0, i], hi[0, i], exact)


@SETTINGS
@given(intervals())
def test_midrad_covers(a):
    m, r = iv.midrad(np.float64(a[0]), np.float64(a[1]))
    m, r = float(m), float(r)
    assert r >= 0
    if r != INF:
        assert Fraction(m) - Fraction(r) <= Fraction(a[0]) and Fraction(a[1]) <= Fraction(m) + Fraction(r)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_up_and_down_equal_nextafter_bit_for_bit(k):
    """The bit-pattern steps against numpy's nextafter on random bit patterns (every
    class of binary64: normals, subnormals, zeros of both signs, infinities, NaNs)
    and the edges: k steps each way, same values, signs and shapes."""
    rng = np.random.default_rng(k)
    bits = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 200_004, dtype=np.int64, endpoint=True)
    edges = [0.0, -0.0, INF, -INF, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308,
             1.7976931348623157e308, -1.7976931348623157e308, 1.0]
    x = np.concatenate([bits.view(np.float64), edges]).reshape(4, 3, -1)
    want_up, want_down = x.copy(), x.copy()
    with np.errstate(over="ignore", invalid="ignore"):     # (signalling NaNs among the patterns)
        for _ in range(k):
            want_up, want_down = np.nextafter(want_up, INF), np.nextafter(want_down, -INF)
    for got, want in ((iv.up(x, k), want_up), (iv.down(x, k), want_down)):
        assert got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True)
        ok = ~np.isnan(want)
        assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok]))
    assert iv.up(-0.0) == 5e-324 and iv.down(0.0) == -5e-324 and np.ndim(iv.up(1.0)) == 0


def test_infinite_weights_on_the_weights_path_give_the_whole_line():
    """The weights path has no finiteness pass over the weights: an infinite weight
    must still reach the tail's check (through the radius, P > 0) and give the whole
    line on the outputs it feeds, never NaN and never a finite bound."""
    x = np.array([[0.0, 1.0], [2.0, -1.0]])
    for w in (np.array([[INF, 0.0], [1.0, 2.0]]), np.array([[1.0, 0.0], [-INF, 2.0]])):
        lo, hi = iv.bilinear(np.matmul, x - 0.5, x + 0.5, w, w, 2, shift=np.array([1.0, 1.0]))
        assert not np.isnan(lo).any() and not np.isnan(hi).any()
        assert np.all(lo[:, 0] == -INF) and np.all(hi[:, 0] == INF)
        for corner in (x - 0.5, x + 0.5):
            y = corner @ np.where(np.isinf(w), 0.0, w) + 1.0
            assert np.all(lo[:, 1] <= y[:, 1]) and np.all(y[:, 1] <= hi[:, 1])


def test_freeze_copies_validates_once_and_keeps_the_absolute_value():
    src = np.array([[1.0, -2.0], [3.0, -4.0]])
    w = iv.freeze(src)
    assert not w.flags.writeable and w is not src and np.array_equal(w, src)
    assert iv.freeze(w) is w
    src[0, 0] = np.nan                             # the source changing does not reach the copy
    assert iv.check(w, w)[0] is w
    assert np.array_equal(iv._abs(w), np.abs(w)) and iv._abs(w) is iv._abs(w)
    big = iv.freeze(np.ones(iv.ABS_CACHE_BYTES // 8 + 1))
    assert iv._abs(big) is not iv._abs(big) and np.array_equal(iv._abs(big), big)
    x = np.array([[1.0, 2.0]])
    frozen = iv.bilinear(np.matmul, x - 0.25, x + 0.25, w, w, 2)
    plain = iv.bilinear(np.matmul, x - 0.25, x + 0.25, np.abs(w) * np.sign(w), np.abs(w) * np.sign(w), 2)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, plain))


def test_a_frozen_array_with_nan_is_checked_and_none_can_be_written():
    bad = iv.freeze(np.array([1.0, np.nan]))
    with pytest.raises(iv.IntervalError, match="NaN"):
        iv.check(bad, bad)
    w = iv.freeze(np.arange(6.0).reshape(2, 3))
    assert w.flags.aligned
    for a in (w, w.base, w[:, 1:], w.T):          # the copy lives in immutable bytes
        if isinstance(a, np.ndarray):
            with pytest.raises(ValueError):
                a.setflags(write=True)
            with pytest.raises(ValueError):
                a[...] = 0.0
    assert np.array_equal(w, np.arange(6.0).reshape(2, 3))
