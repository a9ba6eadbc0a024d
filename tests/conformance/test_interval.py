"""Interval rules of every op, on the op's own sample points.

For boxes of several radii around each sample (all float inputs intervals, and
again with only the first input an interval and the others exact, which takes
the exact-weight paths), the interval must contain the real (float64) result
at random points of the box, at box corners, and the float32 evaluation of the
real rule at float32 points well inside the box. Degenerate boxes (lo == hi)
must give tight bounds. NaN inputs raise IntervalError naming the op;
infinite endpoints keep the rule sound (no NaN, whole-line results allowed).

Points outside an op's domain (log or sqrt of a negative, var + eps <= 0)
give NaN in real arithmetic; they are skipped, and such boxes must have the
whole line for every element whose real value was NaN.
"""

import itertools

import numpy as np
import pytest

from certnn.floats.interval import ASSUMPTIONS, IntervalError
from certnn.ops import all_ops

OPS = [op for op in all_ops() if op.interval is not None]
IDS = [op.name for op in OPS]
RADII = (0.0, 1e-12, 0.1, 2.0)
N_POINTS = 200
N_CORNERS = 64
N_F32 = 40


def _is_interval_input(op, x):
    return np.asarray(x).dtype.kind == "f"


def _samples(op, seed=0):
    return op.samples(np.random.default_rng(seed))


def _boxes(op, s, rng):
    """(radius, variant, los, his, which): which = indices of interval inputs."""
    xs = [np.asarray(x) for x in s.inputs]
    floats = [i for i, x in enumerate(xs) if _is_interval_input(op, x)]
    for radius in RADII:
        for variant in ("all", "first"):
            which = floats if variant == "all" else floats[:1]
            if variant == "first" and len(floats) < 2:
                continue
            los, his = [], []
            for i, x in enumerate(xs):
                if i in which and radius > 0:
                    x = x.astype(np.float64)
                    los.append(x - radius * rng.uniform(0, 1, x.shape))
                    his.append(x + radius * rng.uniform(0, 1, x.shape))
                else:
                    los.append(x)
                    his.append(x)
            yield radius, variant, los, his, which


def _eval(op, xs, attrs):
    with np.errstate(all="ignore"):
        return np.asarray(op.real(*xs, **attrs))


def _gelu_mp(x: float) -> str:
    import mpmath
    with mpmath.workdps(40):
        return mpmath.nstr(mpmath.mpf(x) * mpmath.ncdf(mpmath.mpf(x)), 30)


_LD = np.longdouble
_REF_TOL = 16 * float(np.finfo(_LD).eps)


def _ref(op, xs, attrs):
    """The real result in extended precision (long double: 64-bit significand on
    x86), a close stand-in for the exact value: float64 evaluation at a box corner
    can fall a few ulps outside a tight interval through its own rounding. gelu
    (scipy's erf has no long-double loop) is evaluated with mpmath."""
    if op.name == "gelu":
        (x,) = xs
        return np.array([_LD(_gelu_mp(float(v))) for v in x.flat], dtype=_LD).reshape(x.shape)
    return _eval(op, [x.astype(_LD) if x.dtype.kind == "f" else x for x in xs], attrs)


def _check_contains(op, lo, hi, y, what):
    """lo <= y <= hi; for an extended-precision reference y (long double) allow its
    own evaluation error, 16 long-double ulps of max(|y|, 1)."""
    y = np.asarray(y)
    assert y.shape == lo.shape, (op.name, what, y.shape, lo.shape)
    tol = _REF_TOL * np.maximum(np.abs(y), 1) if y.dtype == _LD else 0
    nan = np.isnan(y)
    if nan.any():   # outside the domain: those elements must be the whole line
        assert np.all(np.isneginf(lo[nan]) & np.isposinf(hi[nan])), (op.name, what, "NaN not whole line")
    ok = nan | ((lo - tol <= y) & (y <= hi + tol))
    if not ok.all():
        i = np.unravel_index(int(np.argmin(ok)), ok.shape)
        pytest.fail(f"{op.name} {what}: value {y[i]!r} outside [{lo[i]!r}, {hi[i]!r}] at {i}")


def _points(rng, los, his, which, n):
    for _ in range(n):
        pts = list(los)
        for i in which:
            t = rng.uniform(0, 1, los[i].shape)
            pts[i] = np.clip(los[i] + t * (his[i] - los[i]), los[i], his[i])
        yield pts


def _corners(rng, los, his, which):
    sizes = [los[i].size for i in which]
    total = sum(sizes)
    if total <= 10:
        masks = (np.array(bits, dtype=bool) for bits in itertools.product((0, 1), repeat=total))
    else:
        masks = itertools.chain([np.zeros(total, bool), np.ones(total, bool)],
                                (rng.uniform(size=total) < 0.5 for _ in range(N_CORNERS)))
    for m in masks:
        pts, k = list(los), 0
        for i, n in zip(which, sizes):
            pts[i] = np.where(m[k:k + n].reshape(los[i].shape), his[i], los[i])
            k += n
        yield pts


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_interval_contains_real_values(op):
    rng = np.random.default_rng(11)
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        for radius, variant, los, his, which in _boxes(op, s, rng):
            lo, hi = op.interval(los, his, **attrs)
            what = f"radius={radius} ({variant})"
            assert lo.dtype == np.float64 and hi.dtype == np.float64, (op.name, what)
            assert not np.isnan(lo).any() and not np.isnan(hi).any(), (op.name, what)
            assert np.all(lo <= hi), (op.name, what)
            assert lo.shape == tuple(op.shape([np.shape(x) for x in s.inputs], **attrs)), (op.name, what)
            _check_contains(op, lo, hi, _ref(op, list(s.inputs), attrs), what + " sample")
            for pts in _points(rng, los, his, which, N_POINTS if radius > 0 else 1):
                _check_contains(op, lo, hi, _ref(op, pts, attrs), what + " random point")
            if radius > 0:
                for pts in _corners(rng, los, his, which):
                    _check_contains(op, lo, hi, _ref(op, pts, attrs), what + " corner")


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_interval_contains_float32_evaluation(op):
    """float32 points in the inner half of moderate and large boxes: the op's float32
    evaluation (rounding included) lies in the interval. Holds for every op here,
    because the rounding error is far below the distance of such points' values
    from the range's ends; for a degenerate box it would not (the interval encloses
    the exact value only), so radius 0 is not checked."""
    rng = np.random.default_rng(12)
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        for radius, variant, los, his, which in _boxes(op, s, rng):
            if radius < 0.1 or variant != "all":   # every float input a box, so float32 points fit
                continue
            lo, hi = op.interval(los, his, **attrs)
            for _ in range(N_F32):
                pts = list(los)
                for i in which:
                    mid, half = 0.5 * (los[i] + his[i]), 0.5 * (his[i] - los[i])
                    pts[i] = (mid + half * rng.uniform(-0.5, 0.5, mid.shape)).astype(np.float32)
                y = _eval(op, pts, attrs)
                assert y.dtype == np.float32, (op.name, y.dtype)
                _check_contains(op, lo, hi, y, f"radius={radius} float32 point")


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_degenerate_box_is_tight(op):
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        xs = [np.asarray(x) for x in s.inputs]
        lo, hi = op.interval(xs, xs, **attrs)
        y = _ref(op, xs, attrs)
        _check_contains(op, lo, hi, y, "degenerate")
        width = hi - lo
        tol = 1e-6 * np.abs(y.astype(np.float64)) + 1e-10
        assert np.all(width <= tol), (op.name, float(np.max(width - tol)))


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_nan_input_raises_naming_the_op(op):
    s = _samples(op)[0]
    attrs = op.normalize(s.attrs)
    xs = [np.asarray(x) for x in s.inputs]
    i = next(k for k, x in enumerate(xs) if x.dtype.kind == "f")
    for side in (0, 1):
        los, his = [x.copy() for x in xs], [x.copy() for x in xs]
        (los, his)[side][i].flat[0] = np.nan
        with pytest.raises(IntervalError, match=op.name):
            op.interval(los, his, **attrs)


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_crossed_bounds_raise(op):
    s = _samples(op)[0]
    attrs = op.normalize(s.attrs)
    xs = [np.asarray(x) for x in s.inputs]
    i = next(k for k, x in enumerate(xs) if x.dtype.kind == "f")
    los, his = list(xs), list(xs)
    los[i] = xs[i] + 1.0
    with pytest.raises(IntervalError, match=op.name):
        op.interval(los, his, **attrs)


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_infinite_endpoints_stay_sound(op):
    rng = np.random.default_rng(13)
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        xs = [np.asarray(x) for x in s.inputs]
        y = _ref(op, xs, attrs)
        for i, x in enumerate(xs):
            if x.dtype.kind != "f":
                continue
            for kind in ("lo", "hi", "both", "all"):
                los = [v.astype(np.float64) if v.dtype.kind == "f" else v for v in xs]
                his = [v.copy() for v in los]
                los[i], his[i] = los[i] - 0.5, his[i] + 0.5
                sel = rng.uniform(size=x.shape) < 0.3 if kind != "all" else np.ones(x.shape, bool)
                if kind in ("lo", "both", "all"):
                    los[i] = np.where(sel, -np.inf, los[i])
                if kind in ("hi", "both", "all"):
                    his[i] = np.where(sel, np.inf, his[i])
                lo, hi = op.interval(los, his, **attrs)
                assert not np.isnan(lo).any() and not np.isnan(hi).any(), (op.name, i, kind)
                assert np.all(lo <= hi), (op.name, i, kind)
                _check_contains(op, lo, hi, y, f"input {i} with infinite endpoints ({kind})")


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_rule_names_its_assumptions(op):
    names = getattr(op.interval, "assumptions", None)
    assert names is not None, f"{op.name}: interval rule does not record its assumptions"
    assert set(names) <= set(ASSUMPTIONS), (op.name, names)


DOMAIN_CASES = [
    ("log", [np.array([-1.0, 0.5])], [np.array([2.0, 1.0])], [True, False]),
    ("sqrt", [np.array([-1e-300, 0.0])], [np.array([2.0, 4.0])], [True, False]),
    ("div", [np.array([1.0, 1.0]), np.array([-1.0, 0.5])], [np.array([2.0, 2.0]), np.array([1.0, 2.0])],
     [True, False]),
]


@pytest.mark.parametrize("name,los,his,whole", DOMAIN_CASES, ids=[c[0] for c in DOMAIN_CASES])
def test_outside_domain_is_the_whole_line(name, los, his, whole):
    op = next(o for o in OPS if o.name == name)
    lo, hi = op.interval(los, his)
    for k, w in enumerate(whole):
        assert (np.isneginf(lo[k]) and np.isposinf(hi[k])) == w, (name, k, lo[k], hi[k])


def test_batch_norm_nonpositive_variance_box_is_whole_line():
    op = next(o for o in OPS if o.name == "batch_norm")
    x = np.ones((2, 2))
    p = [np.ones(2), np.zeros(2), np.zeros(2)]
    vl, vh = np.array([-1.0, 1.0]), np.array([1.0, 1.0])
    lo, hi = op.interval([x] + p + [vl], [x] + p + [vh], eps=1e-5)
    assert np.all(np.isneginf(lo[:, 0]) & np.isposinf(hi[:, 0]))
    assert np.all(np.isfinite(lo[:, 1]) & np.isfinite(hi[:, 1]))


def test_cross_entropy_target_must_be_exact():
    op = next(o for o in OPS if o.name == "cross_entropy")
    x = np.zeros((2, 3))
    with pytest.raises(IntervalError, match="cross_entropy"):
        op.interval([x, np.array([0, 1])], [x, np.array([0, 2])])



@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_every_rule_returns_through_finish(op, monkeypatch):
    """IBP takes a rule's bounds without a NaN pass of its own: the claim is that every
    rule's result is what ``interval.finish`` (which raises on NaN or crossed bounds)
    returned."""
    from certnn.floats import interval as iv
    seen = []
    real_finish = iv.finish

    def spy(name, lo, hi):
        out = real_finish(name, lo, hi)
        seen.append(out)
        return out
    monkeypatch.setattr(iv, "finish", spy)
    rng = np.random.default_rng(5)
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        for _radius, _variant, los, his, _which in _boxes(op, s, rng):
            seen.clear()
            lo, hi = op.interval(los, his, **attrs)
            assert seen and lo is seen[-1][0] and hi is seen[-1][1], op.name
