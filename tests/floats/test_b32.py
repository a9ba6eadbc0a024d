"""binary32 kernels: exactness against independent oracles.

* basic arithmetic against MPFR at binary32 (precision 24, binary32 exponent
  range, subnormalize) on random bit patterns and special values;
* transcendentals against MPFR on 10^5 random inputs per function plus edge
  cases: every result correctly rounded (the documented guarantee);
* sequential reductions against scalar np.float32 loops, pairwise reductions
  against the recursive definition of the tree;
* the numba fast path against the NumPy fallback, bit for bit, on many shapes.
"""

from __future__ import annotations

import math
from pathlib import Path

import gmpy2
import numpy as np
import pytest

from certnn.errors import ShapeError
from certnn.floats import b32, b32_numba
from certnn.ops import all_ops, get_op


def b32rule(name):
    """The op table's binary32 rule of op ``name``."""
    return get_op(name).binary32

F32 = np.float32
C32 = gmpy2.ieee(32)
BACKENDS = ["numpy"] + (["numba"] if b32_numba.AVAILABLE else [])
ROOT = Path(__file__).resolve().parents[2]


def bits(a) -> np.ndarray:
    """uint32 bit patterns with every NaN made canonical (payloads are unspecified)."""
    a = np.asarray(a, F32)
    return np.where(np.isnan(a), F32(np.nan), a).view(np.uint32)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, F32), np.asarray(b, F32)
    return a.shape == b.shape and np.array_equal(bits(a), bits(b))


def random_f32(rng, n, finite=True) -> np.ndarray:
    x = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(F32)
    if finite:
        x = x[np.isfinite(x)]
    return x


SPECIALS = np.array([0.0, -0.0, 1.0, -1.0, 2.0 ** -149, -2.0 ** -149, 2.0 ** -126 - 2.0 ** -149,
                     2.0 ** -126, -2.0 ** -126, 3.4028235e38, -3.4028235e38, np.inf, -np.inf, np.nan,
                     0.5, 1.5, 3.0, 1e-30, 1e30, 16777216.0, 16777217.0], dtype=F32)


# ---------------------------------------------------------------- coverage

def test_every_op_has_a_kernel_and_a_row_in_the_table():
    from certnn.ops.coverage import LIMITATIONS
    gaps = {name for name, rule in LIMITATIONS if rule == "binary32"}   # listed with a reason (e.g. derivative)
    names = {op.name for op in all_ops()} - gaps
    lacking = sorted(op.name for op in all_ops() if op.binary32 is None and op.name not in gaps)
    assert not lacking, lacking
    assert names <= b32.ops_in_table(), sorted(names - b32.ops_in_table())
    doc = (ROOT / "docs" / "binary32.md").read_text()
    assert b32.semantics_table() in doc, "docs/binary32.md must contain b32.semantics_table()"
    for name in {a for _, _, assume in b32.SEMANTICS.values() for a in assume}:
        assert name in b32.ASSUMPTIONS


def test_float_environment_is_ieee():
    b32.check_float_env()


def test_non_float32_input_is_refused():
    with pytest.raises(b32.Binary32TypeError, match="float32"):
        b32rule("add")(np.ones(3), np.ones(3, F32))


# ---------------------------------------------------------------- basic arithmetic vs MPFR

def _mp(v):
    return gmpy2.mpfr(float(v))


_ORACLE2 = {"add": C32.add, "sub": C32.sub, "mul": C32.mul, "div": C32.div}


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_arithmetic_is_correctly_rounded(op):
    rng = np.random.default_rng(1)
    n = 20000
    a = random_f32(rng, 3 * n)[:n]
    b = random_f32(rng, 3 * n)[:n]
    # also operands of similar magnitude (cancellation, subnormal results)
    a2 = rng.uniform(-4, 4, n).astype(F32) * F32(2.0 ** -125)
    b2 = (a2 * rng.uniform(0.5, 2, n).astype(F32)).astype(F32)
    sp = np.array(np.meshgrid(SPECIALS, SPECIALS)).reshape(2, -1).astype(F32)
    A = np.concatenate([a, a2, sp[0]])
    B = np.concatenate([b, b2, sp[1]])
    got = b32rule(op)(A, B)
    want = np.array([float(_ORACLE2[op](_mp(x), _mp(y))) for x, y in zip(A, B)], dtype=np.float64)
    with np.errstate(over="ignore"):
        want = want.astype(F32)          # exact: MPFR already rounded to binary32
    assert same_bits(got, want)
    # and it is NumPy's float32 real rule, bit for bit
    with np.errstate(all="ignore"):
        assert same_bits(got, get_op(op).real(A, B))


def test_sqrt_is_correctly_rounded():
    rng = np.random.default_rng(2)
    x = np.concatenate([np.abs(random_f32(rng, 40000)), SPECIALS])
    got = b32rule("sqrt")(x)
    want = np.array([float(C32.sqrt(_mp(v))) for v in x]).astype(F32)
    assert same_bits(got, want)


def test_signed_zero_and_nan_semantics():
    z, nz, nan = F32(0), F32(-0.0), F32(np.nan)
    a = np.array([z, nz, nz, z, nan, 1, nan], F32)
    b = np.array([nz, z, nz, z, 1, nan, nan], F32)
    mx, mn = b32rule("maximum")(a, b), b32rule("minimum")(a, b)
    assert list(bits(mx)[:4]) == list(bits(np.array([0.0, 0.0, -0.0, 0.0], F32)))
    assert list(bits(mn)[:4]) == list(bits(np.array([-0.0, -0.0, -0.0, 0.0], F32)))
    assert np.isnan(mx[4:]).all() and np.isnan(mn[4:]).all()
    r = b32rule("relu")(np.array([-0.0, 0.0, -1.0, 2.0, np.nan, -np.inf], F32))
    assert same_bits(r, np.array([0.0, 0.0, 0.0, 2.0, np.nan, 0.0], F32))
    lr = b32rule("leaky_relu")(np.array([-0.0, 0.0, -2.0, 3.0], F32), negative_slope=0.1)
    assert same_bits(lr, np.array([-0.0, 0.0, F32(0.1) * F32(-2.0), 3.0], F32))
    assert same_bits(b32rule("neg")(np.array([0.0, nan], F32))[:1], np.array([-0.0], F32))
    x = np.array([[-0.0, -0.0], [-0.0, 0.0]], F32)
    assert same_bits(b32rule("max")(x, axes=(1,)), np.array([-0.0, 0.0], F32))
    assert np.isnan(b32rule("max")(np.array([1, np.nan, 2], F32)))


def test_elementwise_kernels_equal_float32_real_rules():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 9)).astype(F32)
    y = rng.standard_normal((9,)).astype(F32)
    for op in ("maximum", "minimum"):
        assert same_bits(b32rule(op)(x, y), get_op(op).real(x, y))
    for op in ("neg", "abs", "relu"):
        assert same_bits(b32rule(op)(x), get_op(op).real(x))
    assert same_bits(b32rule("leaky_relu")(x, negative_slope=0.2), get_op("leaky_relu").real(x, negative_slope=0.2))


# ---------------------------------------------------------------- transcendentals vs MPFR

def _mp_ref(name, v, prec=200):
    """High-precision value (independent of the kernel's Ziv loop)."""
    with gmpy2.context(precision=prec, emin=-(2 ** 30), emax=2 ** 30):
        m = gmpy2.mpfr(float(v))
        if name == "exp":
            return gmpy2.exp(m)
        if name == "log":
            return gmpy2.log(m)
        if name == "tanh":
            return gmpy2.tanh(m)
        if name == "sigmoid":
            return 1 / (1 + gmpy2.exp(-m))
        if name == "softplus":
            return m + gmpy2.log1p(gmpy2.exp(-m)) if m > 0 else gmpy2.log1p(gmpy2.exp(m))
        if name == "gelu":
            if m < -40:      # |gelu| < 1e-300: rounds to -0.0 (and gelu(-inf) = -0.0)
                return gmpy2.mpfr("-0")
    if name == "gelu":
        # the erf form (independent of the kernel's erfc), with enough extra bits
        # for the cancellation in 1 + erf(x/sqrt 2) ~ erfc(|x|/sqrt 2) ~ exp(-x^2/2)
        extra = int(float(v) ** 2) + 16 if -40 <= v < 0 else 16
        with gmpy2.context(precision=prec + extra, emin=-(2 ** 30), emax=2 ** 30):
            m = gmpy2.mpfr(float(v))
            return m * (1 + gmpy2.erf(m / gmpy2.sqrt(2))) / 2
    raise KeyError(name)


def _oracle32(name, v):
    """Correctly rounded binary32 result: one MPFR call at binary32 (precision 24,
    emin/emax of binary32, subnormalize) where MPFR has the function, else the
    200-bit value rounded once to binary32."""
    m = gmpy2.mpfr(float(v))
    direct = {"exp": C32.exp, "log": C32.log, "tanh": C32.tanh}
    if name in direct:
        return float(direct[name](m))
    return float(C32.plus(_mp_ref(name, v)))


def _samples(name, rng, n):
    q = n // 4
    bitpat = random_f32(rng, 2 * q)[:q]
    ranges = {"exp": (-104.0, 89.0), "log": (0.0, 4.0), "tanh": (-10.0, 10.0),
              "sigmoid": (-105.0, 20.0), "softplus": (-105.0, 25.0), "gelu": (-15.0, 12.0)}
    lo, hi = ranges[name]
    wide = rng.uniform(lo, hi, 2 * q).astype(F32)
    small = (rng.choice([-1, 1], n - 3 * q) * 2.0 ** rng.uniform(-30, 2, n - 3 * q)).astype(F32)
    x = np.concatenate([bitpat, wide, small])
    if name == "log":
        x = np.abs(x)
    edges = np.array([88.72283, 88.72284, 88.7228394, -87.33654, -103.27893, -103.972084, -103.97208,
                      9.010913, -9.010913, 0.0, -0.0, 1.0, -1.0, 2.0 ** -149, -2.0 ** -149, 2.0 ** -126,
                      1e-8, -1e-8, 3.4028235e38, -3.4028235e38, np.inf, -np.inf, np.nan, 1e-45, 20.0,
                      -20.0, 5.0, -5.0, -13.0, -14.5, -15.0, 16.0, 0.5, 2.0], F32)
    return np.concatenate([x, edges])


def _ulp32(v: float) -> float:
    """ulp of binary32 at |v| (subnormal spacing below 2**-126)."""
    v = abs(v)
    if v < 2.0 ** -126:
        return 2.0 ** -149
    return 2.0 ** (math.floor(math.log2(v)) - 23)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "softplus", "gelu"])
def test_transcendental_correctly_rounded(name):
    """The documented guarantee: every result is the correctly rounded binary32
    value (0 mismatches against MPFR), so the error is <= 0.5 ulp. Also checks the
    float64 stage against its assumed error bound, and reports how often plain
    float64-then-round-once would not have been correctly rounded."""
    rng = np.random.default_rng(10 + ["exp", "log", "tanh", "sigmoid", "softplus", "gelu"].index(name))
    x = _samples(name, rng, 100_000)
    got = b32rule(name)(x)
    want = np.array([_oracle32(name, v) for v in x], dtype=np.float64)
    with np.errstate(over="ignore"):
        want32 = want.astype(F32)
    mismatch = ~((bits(got) == bits(want32)))
    assert not mismatch.any(), (name, x[mismatch][:5], got[mismatch][:5], want32[mismatch][:5])

    # float64 stage: relative error well inside the guard window (the assumption),
    # for float64 results in the normal range (anything below 2**-1000 is far from
    # every binary32 rounding boundary, the smallest being 2**-150)
    y64, once = b32._round_once(name, x)
    fin = np.isfinite(x) & np.isfinite(y64) & (np.abs(y64) > 2.0 ** -1000)
    idx = np.flatnonzero(fin)[:20000]
    rel = 0.0
    for i in idx:
        ref = _mp_ref(name, x[i], 128)
        if ref != 0:
            rel = max(rel, float(abs((gmpy2.mpfr(float(y64[i])) - ref) / ref)))
    assert rel < b32.RELWIN[name] / 16, (name, rel)

    # error in ulps of the result (<= 0.5 by correct rounding) on finite outputs
    errs = []
    for i in np.flatnonzero(np.isfinite(got) & np.isfinite(x))[:5000]:
        ref = _mp_ref(name, x[i], 128)
        errs.append(float(abs(gmpy2.mpfr(float(got[i])) - ref)) / _ulp32(float(got[i])))
    max_ulp = max(errs)
    assert max_ulp <= 0.5

    not_cr = int(np.count_nonzero(bits(once) != bits(want32)))
    print(f"\n{name}: n={x.size}, correctly rounded {x.size - int(mismatch.sum())}/{x.size}, "
          f"max error {max_ulp:.3f} ulp, float64 stage rel. error <= {rel:.2e}, "
          f"round-once (no MPFR fallback) not correctly rounded: {not_cr}")


def test_hard_cases_are_decided_by_mpfr():
    """Inputs whose float64 value rounds to the wrong binary32 number: found by
    search, fixed by the fallback."""
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(30):
        x = rng.uniform(-20, 20, 200_000).astype(F32)
        y64, once = b32._round_once("exp", x)
        hard = b32._hard_mask(y64, once, b32.RELWIN["exp"])
        for i in np.flatnonzero(hard)[:20]:
            want = F32(_oracle32("exp", x[i]))
            assert same_bits(b32rule("exp")(x[i:i + 1]), np.array([want]))
            found += 1
        if found >= 20:
            break
    assert found > 0


def test_transcendental_special_values():
    inf, nan = np.inf, np.nan
    x = np.array([-inf, inf, nan, 0.0, -0.0], F32)
    assert same_bits(b32rule("exp")(x), np.array([0.0, inf, nan, 1.0, 1.0], F32))
    assert same_bits(b32rule("log")(np.array([0.0, -0.0, -1.0, inf, 1.0], F32)),
                     np.array([-inf, -inf, nan, inf, 0.0], F32))
    assert same_bits(b32rule("tanh")(x), np.array([-1.0, 1.0, nan, 0.0, -0.0], F32))
    assert same_bits(b32rule("sigmoid")(x), np.array([0.0, 1.0, nan, 0.5, 0.5], F32))
    assert same_bits(b32rule("gelu")(x), np.array([-0.0, inf, nan, 0.0, -0.0], F32))
    assert same_bits(b32rule("softplus")(x)[:3], np.array([0.0, inf, nan], F32))


# ---------------------------------------------------------------- reductions: definitions

def seq(terms):
    """Sequential binary32 sum, the definition: starts at the first term."""
    if len(terms) == 0:
        return F32(0)
    acc = F32(terms[0])
    for t in terms[1:]:
        acc = F32(acc + F32(t))
    return acc


def pw(terms):
    """Pairwise binary32 sum, the definition: split at the largest power of two < n."""
    n = len(terms)
    if n == 0:
        return F32(0)
    if n == 1:
        return F32(terms[0])
    h = 1 << ((n - 1).bit_length() - 1)
    return F32(pw(terms[:h]) + pw(terms[h:]))


REF = {"sequential": seq, "pairwise": pw}


def _data(rng, *shape):
    # wide dynamic range: orders of summation give different results
    return (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(F32)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.mark.parametrize("order", b32.ORDERS)
def test_sum_and_mean_follow_the_definition(order, backend):
    rng = np.random.default_rng(20)
    x = _data(rng, 3, 5, 7)
    for axes in [None, (1,), (0, 2), (-1,), (2, 0)]:
        got = b32rule("sum")(x, axes=axes, order=order, backend=backend)
        ax = tuple(range(3)) if axes is None else tuple(sorted(a % 3 for a in axes))
        rest = [i for i in range(3) if i not in ax]
        xt = np.transpose(x, ax + tuple(rest)).reshape(-1, math.prod(x.shape[i] for i in rest))
        want = np.array([REF[order](list(xt[:, r])) for r in range(xt.shape[1])], F32)
        assert same_bits(got.reshape(-1), want), axes
        m = b32rule("mean")(x, axes=axes, order=order, backend=backend)
        assert same_bits(m.reshape(-1), want / F32(xt.shape[0]))
    # keepdims, signed zeros, empty sums
    assert b32rule("sum")(x, axes=(1,), keepdims=True, order=order, backend=backend).shape == (3, 1, 7)
    negz = np.full((4,), -0.0, F32)
    assert same_bits(b32rule("sum")(negz, order=order, backend=backend), F32(-0.0))
    assert same_bits(b32rule("sum")(np.zeros((0, 3), F32), axes=(0,), order=order, backend=backend),
                     np.zeros(3, F32))


@pytest.mark.parametrize("order", b32.ORDERS)
def test_long_sums(order, backend):
    rng = np.random.default_rng(21)
    for n in (1, 2, 3, 8, 100, 1000, 1025):
        x = _data(rng, n)
        assert same_bits(b32rule("sum")(x, order=order, backend=backend), REF[order](list(x))), n


def _matmul_ref(a, b, order):
    M, K = a.shape
    N = b.shape[1]
    out = np.empty((M, N), F32)
    for i in range(M):
        for j in range(N):
            out[i, j] = REF[order]([F32(a[i, k] * b[k, j]) for k in range(K)])
    return out


@pytest.mark.parametrize("order", b32.ORDERS)
def test_matmul_and_linear_follow_the_definition(order, backend):
    rng = np.random.default_rng(22)
    for (M, K, N) in [(1, 1, 1), (3, 5, 4), (6, 9, 3), (5, 17, 7), (9, 2, 11)]:
        a, b = _data(rng, M, K), _data(rng, K, N)
        want = _matmul_ref(a, b, order)
        assert same_bits(b32rule("matmul")(a, b, order=order, backend=backend), want)
        bias = _data(rng, N)
        got = b32rule("linear")(a, np.ascontiguousarray(b.T), bias, order=order, backend=backend)
        assert same_bits(got, want + bias)               # bias added last
    # batched matmul broadcasts
    a, b = _data(rng, 2, 1, 3, 4), _data(rng, 3, 4, 2)
    got = b32rule("matmul")(a, b, order=order, backend=backend)
    for i in range(2):
        for j in range(3):
            assert same_bits(got[i, j], _matmul_ref(a[i, 0], b[j], order))
    # K = 0: empty sums are +0.0
    assert same_bits(b32rule("matmul")(np.ones((2, 0), F32), np.ones((0, 3), F32), backend=backend),
                     np.zeros((2, 3), F32))


@pytest.mark.parametrize("order", b32.ORDERS)
def test_conv2d_follows_the_definition(order, backend):
    rng = np.random.default_rng(23)
    cases = [((2, 3, 5, 4), (4, 3, 3, 2), dict(stride=(1, 1), padding=(1, 0), dilation=(1, 1), groups=1)),
             ((1, 4, 6, 5), (2, 2, 2, 3), dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2))]
    for xs, ws, at in cases:
        x, w, b = _data(rng, *xs), _data(rng, *ws), _data(rng, ws[0])
        y = b32rule("conv2d")(x, w, b, order=order, backend=backend, **at)
        N, C, H, W = xs
        O, cg, kh, kw = ws
        (sh, sw), (ph, pw_), (dh, dw), g = at["stride"], at["padding"], at["dilation"], at["groups"]
        xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw_), F32)
        xp[:, :, ph:ph + H, pw_:pw_ + W] = x
        og = O // g
        for n in range(N):
            for o in range(O):
                gi = o // og
                for i in range(y.shape[2]):
                    for j in range(y.shape[3]):
                        terms = [F32(w[o, c, p, q] * xp[n, gi * cg + c, i * sh + p * dh, j * sw + q * dw])
                                 for c in range(cg) for p in range(kh) for q in range(kw)]
                        assert same_bits(y[n, o, i, j], F32(REF[order](terms) + b[o]))


@pytest.mark.parametrize("order", b32.ORDERS)
def test_pools_and_norms_follow_the_definition(order, backend):
    rng = np.random.default_rng(24)
    x = _data(rng, 2, 2, 5, 6)
    for at in [dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=True),
               dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), count_include_pad=False)]:
        y = b32rule("avg_pool2d")(x, order=order, backend=backend, **at)
        (kh, kw), (sh, sw), (ph, pw_) = at["kernel_size"], at["stride"], at["padding"]
        xp = np.zeros((2, 2, 5 + 2 * ph, 6 + 2 * pw_), F32)
        xp[:, :, ph:ph + 5, pw_:pw_ + 6] = x
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                for n in range(2):
                    for c in range(2):
                        terms = [xp[n, c, i * sh + p, j * sw + q] for p in range(kh) for q in range(kw)]
                        if at["count_include_pad"]:
                            div = kh * kw
                        else:
                            div = sum(1 for p in range(kh) for q in range(kw)
                                      if ph <= i * sh + p < ph + 5 and pw_ <= j * sw + q < pw_ + 6)
                        assert same_bits(y[n, c, i, j], F32(REF[order](terms) / F32(div)))
        if order == "sequential":   # the float32 real rule is exactly this order
            assert same_bits(y, get_op("avg_pool2d").real(x, **at))

    # layer_norm
    x = _data(rng, 3, 2, 4)
    w, bb = _data(rng, 2, 4), _data(rng, 2, 4)
    y = b32rule("layer_norm")(x, w, bb, order=order, backend=backend, eps=1e-5)
    for r in range(3):
        v = x[r].reshape(-1)
        d = (v - v[0]).astype(F32)              # shifted data: a constant row centres to exact zeros
        mu = F32(REF[order](list(d)) / F32(8))
        xc = (d - mu).astype(F32)
        var = F32(REF[order]([F32(t * t) for t in xc]) / F32(8))
        rr = F32(F32(1) / F32(np.sqrt(F32(var + F32(1e-5)))))
        want = ((xc * rr) * w.reshape(-1) + bb.reshape(-1)).astype(F32)
        assert same_bits(y[r].reshape(-1), want)


def test_batch_norm_and_max_pool_equal_float32_real_rules():
    rng = np.random.default_rng(25)
    x = rng.standard_normal((2, 3, 5, 4)).astype(F32)
    ps = [rng.uniform(0.5, 1.5, 3).astype(F32), rng.uniform(-1, 1, 3).astype(F32),
          rng.uniform(-1, 1, 3).astype(F32), rng.uniform(0.3, 2, 3).astype(F32)]
    assert same_bits(b32rule("batch_norm")(x, *ps, eps=1e-3), get_op("batch_norm").real(x, *ps, eps=1e-3))
    at = dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1))
    assert same_bits(b32rule("max_pool2d")(x, **at), get_op("max_pool2d").real(x, **at))
    z = np.array([[[[-0.0, 0.0], [-0.0, -0.0]]]], F32)
    assert same_bits(b32rule("max_pool2d")(z, kernel_size=(1, 2)), np.array([[[[0.0], [-0.0]]]], F32))


@pytest.mark.parametrize("order", b32.ORDERS)
def test_softmax_family_follows_the_definition(order, backend):
    rng = np.random.default_rng(26)
    x = (rng.standard_normal((4, 7)) * 3).astype(F32)
    sm = b32rule("softmax")(x, order=order, backend=backend)
    ls = b32rule("log_softmax")(x, order=order, backend=backend)
    t = np.array([0, 6, 3, -100])
    ce = b32rule("cross_entropy")(x, t, order=order, backend=backend, reduction="none")
    losses = []
    for r in range(4):
        m = x[r].max()
        z = (x[r] - m).astype(F32)
        e = b32rule("exp")(z)
        s = REF[order](list(e))
        assert same_bits(sm[r], (e / s).astype(F32))
        lse = b32rule("log")(np.array([s], F32))[0]
        assert same_bits(ls[r], (z - lse).astype(F32))
        losses.append(F32(lse - z[t[r]]) if t[r] != -100 else F32(0))
    assert same_bits(ce, np.array(losses, F32))
    tot = REF[order](losses)
    assert same_bits(b32rule("cross_entropy")(x, t, order=order, backend=backend, reduction="sum"), tot)
    assert same_bits(b32rule("cross_entropy")(x, t, order=order, backend=backend), F32(tot / F32(3)))
    # along another axis
    assert same_bits(b32rule("softmax")(x.T, axis=0, order=order, backend=backend), sm.T)
    # mse
    p, q = _data(rng, 3, 5), _data(rng, 3, 5)
    d2 = ((p - q) * (p - q)).astype(F32)
    assert same_bits(b32rule("mse")(p, q, order=order, backend=backend, reduction="none"), d2)
    s = REF[order](list(d2.reshape(-1)))
    assert same_bits(b32rule("mse")(p, q, order=order, backend=backend, reduction="sum"), s)
    assert same_bits(b32rule("mse")(p, q, order=order, backend=backend), F32(s / F32(15)))
    with pytest.raises(ShapeError):
        b32rule("cross_entropy")(x, np.array([0, 9, 1, 1]))


def test_shape_ops_are_exact():
    rng = np.random.default_rng(27)
    x = rng.standard_normal((2, 3, 4)).astype(F32)
    assert same_bits(b32rule("reshape")(x, shape=(6, 4)), x.reshape(6, 4))
    assert same_bits(b32rule("flatten")(x), x.reshape(2, 12))
    assert same_bits(b32rule("transpose")(x, perm=(2, 0, 1)), x.transpose(2, 0, 1))
    assert same_bits(b32rule("concat")(x, x, axis=1), np.concatenate([x, x], 1))
    assert same_bits(b32rule("slice")(x, starts=(1,), ends=(3,), axes=(2,)), x[:, :, 1:3])


# ---------------------------------------------------------------- numba == NumPy fallback

needs_numba = pytest.mark.skipif(not b32_numba.AVAILABLE, reason="numba not installed")

SHAPES = [(1, 1, 1), (1, 7, 1), (2, 3, 5), (3, 4, 1), (4, 4, 4), (5, 257, 3), (7, 13, 9), (8, 300, 33),
          (13, 1, 17), (4, 513, 16), (33, 64, 65), (17, 259, 8), (6, 5, 130), (64, 784, 40)]


@needs_numba
@pytest.mark.parametrize("order", b32.ORDERS)
def test_numba_equals_numpy_matmul(order):
    rng = np.random.default_rng(30)
    for M, K, N in SHAPES:
        a, b = _data(rng, M, K), _data(rng, K, N)
        y1 = b32.matmul2d(a, b, order, "numba")
        y2 = b32.matmul2d(a, b, order, "numpy")
        assert same_bits(y1, y2), (M, K, N)
    x, w, bias = _data(rng, 37, 70), _data(rng, 21, 70), _data(rng, 21)
    assert same_bits(b32rule("linear")(x, w, bias, order=order, backend="numba"),
                     b32rule("linear")(x, w, bias, order=order, backend="numpy"))


@needs_numba
@pytest.mark.parametrize("order", b32.ORDERS)
def test_numba_equals_numpy_conv_and_sum(order):
    rng = np.random.default_rng(31)
    for xs, ws, at in [((2, 3, 9, 8), (5, 3, 3, 3), dict(padding=(1, 1))),
                       ((3, 4, 7, 7), (6, 2, 2, 3), dict(stride=(2, 1), groups=2)),
                       ((1, 1, 12, 10), (3, 1, 5, 5), dict(dilation=(2, 1), padding=(2, 2)))]:
        x, w, b = _data(rng, *xs), _data(rng, *ws), _data(rng, ws[0])
        assert same_bits(b32rule("conv2d")(x, w, b, order=order, backend="numba", **at),
                         b32rule("conv2d")(x, w, b, order=order, backend="numpy", **at))
    for shape, axes in [((1000,), None), ((37, 41), (0,)), ((37, 41), (1,)), ((5, 6, 7), (0, 2)),
                        ((3, 1, 9), None), ((1, 4097), (1,))]:
        x = _data(rng, *shape)
        assert same_bits(b32rule("sum")(x, axes=axes, order=order, backend="numba"),
                         b32rule("sum")(x, axes=axes, order=order, backend="numpy")), (shape, axes)


@needs_numba
def test_numba_parallel_rows_equal_serial():
    rng = np.random.default_rng(32)
    a, b = _data(rng, 45, 300), _data(rng, 300, 37)
    ref = b32.matmul2d(a, b, "sequential", "numpy")
    with b32.settings(threads=2):
        assert same_bits(b32.matmul2d(a, b, "sequential", "numba"), ref)


@needs_numba
def test_numba_kernel_has_no_fma():
    import numba
    fn = numba.njit(fastmath=False, cache=False)(b32_numba._matmul_seq)   # fresh: cached code has no asm
    a = np.ones((4, 8), F32)
    fn(a, np.ones((8, 3), F32), np.empty((4, 3), F32), b32_numba.KBLOCK)
    asm = fn.inspect_asm(fn.signatures[0]).lower()
    assert "vfmadd" not in asm and "vfmsub" not in asm and "vfnmadd" not in asm
    assert "mulps" in asm or "mulss" in asm


def test_numpy_accumulate_is_sequential():
    """The assumption behind the NumPy fallback of sequential sums."""
    rng = np.random.default_rng(33)
    x = _data(rng, 500, 3)
    acc = np.add.accumulate(x, axis=0)[-1]
    assert same_bits(acc, np.array([seq(list(x[:, r])) for r in range(3)], F32))
