"""Shape ops: reshape, flatten, transpose, concat, slice, pad. All are linear
(each output element is one input element, or for pad a constant), so vjp and
jvp are the adjoint/same data movement; nothing is computed, the dtype is
always kept, and the real rules return NumPy views where NumPy can.

reshape(x; shape)            ONNX semantics (allowzero=0): an entry 0 copies the
                             input dim at that position, one entry -1 is inferred.
flatten(x; start_dim=1, end_dim=-1)
                             PyTorch semantics: dims start_dim..end_dim (inclusive)
                             merge into one; a 0-d input counts as shape (1,).
transpose(x; perm)           y = x.transpose(perm); vjp applies the inverse perm.
concat(*xs; axis=0)          y = concatenate(xs, axis); vjp splits the cotangent.
slice(x; starts, ends, axes=None, steps=None)
                             per listed axis, Python slice semantics
                             x[start:end:step] (negative indices count from the end,
                             out-of-range bounds clamp); axes default 0..len(starts)-1,
                             steps default 1 and must be positive. vjp scatters the
                             cotangent into zeros.
pad(x; pads, value=0.0)      ONNX Pad, mode "constant": pads = (b_0, ..., b_{n-1},
                             e_0, ..., e_{n-1}) adds b_i entries before and e_i after
                             axis i, all >= 0, filled with the finite constant
                             ``value`` (in x's dtype). vjp crops the cotangent; the
                             padding is constant, so its tangent is 0. In binary32
                             the fill is RN32(value), so the error rule is the input
                             error moved, and |RN32(value) - value| on the padding.

Dynamic dims (``None``): reshape propagates a ``None`` copied by 0 and infers
``None`` for -1 when a ``None`` input dim is not copied by a 0; flatten gives
``None`` when a merged dim is ``None``; concat gives ``None`` on the axis when
any input has ``None`` there, and elsewhere ``None`` matches any size; slice
gives ``None`` for a sliced ``None`` dim; pad keeps a ``None`` dim ``None``.

Interval rules: pure data movement, so the op applied to the lower and to the
upper bounds is exact.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, ieee
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import fmt, norm_axis, rand_samples
from .registry import REQUIRED, OpDef, Sample, register

_M = __name__


def _prod(dims):
    return math.prod(dims)


# ---- reshape ----------------------------------------------------------------------

def reshape_shape(in_shapes, shape):
    s = tuple(in_shapes[0])
    target = tuple(int(d) for d in shape)
    if sum(d == -1 for d in target) > 1:
        raise ShapeError(f"reshape: at most one -1 allowed in shape {target} (input {fmt(s)})")
    if any(d < -1 for d in target):
        raise ShapeError(f"reshape: invalid entry in shape {target} (input {fmt(s)}): "
                         f"entries are sizes >= 1, 0 (copy input dim) or -1 (infer)")
    out = []
    unknown = [i for i, d in enumerate(s) if d is None]  # input None dims not copied by a 0
    for j, d in enumerate(target):
        if d == 0:
            if j >= len(s):
                raise ShapeError(f"reshape: shape {target} has 0 at position {j}, but the input "
                                 f"{fmt(s)} has only {len(s)} dims to copy from")
            out.append(s[j])
            if s[j] is None:
                unknown.remove(j)
        else:
            out.append(d)
    known_out = [d for d in out if d is not None and d != -1]
    if unknown:
        # total size unknown: -1 cannot be inferred, nothing to check
        return tuple(None if d == -1 else d for d in out)
    total = _prod(d for d in s if d is not None)
    rest = _prod(known_out)
    # with dynamic dims copied by 0, the counts are those of the remaining dims
    what = "elements" if None not in s else "elements besides the copied dynamic dims"
    if -1 in out:
        if rest == 0 or total % rest:
            raise ShapeError(f"reshape: cannot reshape {fmt(s)} into {target}: {total} {what} "
                             f"is not a multiple of {rest}")
        out[out.index(-1)] = total // rest
    elif rest != total:
        raise ShapeError(f"reshape: cannot reshape {fmt(s)} into {target}: {total} {what} "
                         f"in, {rest} out")
    return tuple(out)


def reshape_real(x, shape):
    return x.reshape(reshape_shape([x.shape], shape=shape))


def reshape_vjp(ct, out, x, shape):
    return (np.reshape(ct, x.shape),)


def reshape_jvp(tangents, out, x, shape):
    return np.reshape(tangents[0], out.shape)


# ---- flatten ----------------------------------------------------------------------

def _flatten_dims(s, start_dim, end_dim):
    n = max(len(s), 1)
    a, b = norm_axis("flatten", start_dim, n), norm_axis("flatten", end_dim, n)
    if a > b:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for input {fmt(s)}")
    return a, b


def flatten_shape(in_shapes, start_dim=1, end_dim=-1):
    s = tuple(in_shapes[0]) or (1,)
    a, b = _flatten_dims(tuple(in_shapes[0]), start_dim, end_dim)
    merged = s[a:b + 1]
    m = None if None in merged else _prod(merged)
    return s[:a] + (m,) + s[b + 1:]


def flatten_real(x, start_dim=1, end_dim=-1):
    return x.reshape(flatten_shape([x.shape], start_dim=start_dim, end_dim=end_dim))


def flatten_vjp(ct, out, x, start_dim=1, end_dim=-1):
    return (np.reshape(ct, x.shape),)


def flatten_jvp(tangents, out, x, start_dim=1, end_dim=-1):
    return np.reshape(tangents[0], out.shape)


# ---- transpose --------------------------------------------------------------------

def _perm(s, perm):
    p = tuple(int(i) for i in perm)
    n = len(s)
    if len(p) != n or sorted(i % n if -n <= i < n else i for i in p) != list(range(n)):
        raise ShapeError(f"transpose: perm {p} is not a permutation of the {n} axes of input {fmt(s)}")
    return tuple(i % n for i in p)


def transpose_shape(in_shapes, perm):
    s = tuple(in_shapes[0])
    return tuple(s[i] for i in _perm(s, perm))


def transpose_real(x, perm):
    return np.transpose(x, _perm(x.shape, perm))


def transpose_vjp(ct, out, x, perm):
    return (np.transpose(ct, np.argsort(_perm(x.shape, perm))),)


def transpose_jvp(tangents, out, x, perm):
    return np.transpose(tangents[0], _perm(x.shape, perm))


# ---- concat -----------------------------------------------------------------------

def concat_shape(in_shapes, axis=0):
    shapes = [tuple(s) for s in in_shapes]
    nd = len(shapes[0])
    if nd == 0:
        raise ShapeError("concat: cannot concatenate 0-d inputs")
    if any(len(s) != nd for s in shapes):
        raise ShapeError(f"concat: inputs must have the same number of dims, got "
                         f"{', '.join(fmt(s) for s in shapes)}")
    ax = norm_axis("concat", axis, nd)
    out = []
    for i in range(nd):
        dims = [s[i] for s in shapes]
        if i == ax:
            out.append(None if None in dims else sum(dims))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ShapeError(f"concat: shapes {', '.join(fmt(s) for s in shapes)} differ in dim {i} "
                             f"(only the concat axis {ax} may differ)")
        out.append(known.pop() if known else None)
    return tuple(out)


def concat_real(*xs, axis=0):
    concat_shape([x.shape for x in xs], axis=axis)
    return np.concatenate(xs, axis=axis)


def concat_vjp(ct, out, *xs, axis=0):
    ax = axis % ct.ndim
    cuts = np.cumsum([x.shape[ax] for x in xs[:-1]])
    return tuple(np.split(ct, cuts, axis=ax))


def concat_jvp(tangents, out, *xs, axis=0):
    return np.concatenate(tangents, axis=axis)


# ---- slice ------------------------------------------------------------------------

def _slices(op_shape, starts, ends, axes, steps):
    s = tuple(op_shape)
    n = len(starts)
    axes = tuple(range(n)) if axes is None else tuple(axes)
    steps = (1,) * n if steps is None else tuple(steps)
    if not (len(ends) == n and len(axes) == n and len(steps) == n):
        raise ShapeError(f"slice: starts {tuple(starts)}, ends {tuple(ends)}, axes {axes} and "
                         f"steps {steps} must have the same length (input {fmt(s)})")
    if any(int(st) <= 0 for st in steps):
        raise ShapeError(f"slice: steps must be positive, got {steps} (input {fmt(s)})")
    ax = [norm_axis("slice", int(a), len(s)) for a in axes]
    if len(set(ax)) != len(ax):
        raise ShapeError(f"slice: repeated axis in axes {axes} (input {fmt(s)})")
    idx = [slice(None)] * len(s)
    for a, b, e, st in zip(ax, starts, ends, steps):
        idx[a] = slice(int(b), int(e), int(st))
    return tuple(idx)


def slice_shape(in_shapes, starts, ends, axes=None, steps=None):
    s = tuple(in_shapes[0])
    idx = _slices(s, starts, ends, axes, steps)
    return tuple(None if d is None else len(range(*sl.indices(d))) for d, sl in zip(s, idx))


def slice_real(x, starts, ends, axes=None, steps=None):
    return x[_slices(x.shape, starts, ends, axes, steps)]


def slice_vjp(ct, out, x, starts, ends, axes=None, steps=None):
    g = np.zeros(x.shape, dtype=ct.dtype)
    g[_slices(x.shape, starts, ends, axes, steps)] = ct
    return (g,)


def slice_jvp(tangents, out, x, starts, ends, axes=None, steps=None):
    return tangents[0][_slices(x.shape, starts, ends, axes, steps)]


# ---- pad --------------------------------------------------------------------------

def _pad_pairs(s, pads, value=0.0):
    s = tuple(s)
    p = tuple(int(v) for v in pads)
    if len(p) != 2 * len(s):
        raise ShapeError(f"pad: pads {p} must have 2 entries per axis of input {fmt(s)} "
                         f"(all befores, then all afters)")
    if any(v < 0 for v in p):
        raise ShapeError(f"pad: pads {p} must be >= 0 (input {fmt(s)})")
    if not math.isfinite(float(value)):
        raise ShapeError(f"pad: value must be finite, got {value}")
    n = len(s)
    return tuple((p[i], p[n + i]) for i in range(n))


def pad_shape(in_shapes, pads, value=0.0):
    s = tuple(in_shapes[0])
    pairs = _pad_pairs(s, pads, value)
    return tuple(None if d is None else d + b + e for d, (b, e) in zip(s, pairs))


def pad_real(x, pads, value=0.0):
    return np.pad(x, _pad_pairs(x.shape, pads, value), mode="constant", constant_values=value)


def _crop(x_shape, pads):
    return tuple(slice(b, b + d) for d, (b, _) in zip(x_shape, _pad_pairs(x_shape, pads)))


def pad_vjp(ct, out, x, pads, value=0.0):
    return (ct[_crop(x.shape, pads)],)


def pad_jvp(tangents, out, x, pads, value=0.0):
    return np.pad(tangents[0], _pad_pairs(x.shape, pads), mode="constant")


def pad_error(los, his, errs, out_lo, out_hi, order="sequential", pads=(), value=0.0):
    """Moved input error; on the padding, the rounding of the fill to binary32."""
    fill = abs(float(np.float32(value)) - float(value))
    return er.finish(pad_real(np.asarray(errs[0], np.float64), pads, fill))


@iv.uses()
def pad_interval(los, his, pads, value=0.0):
    """Exact on the moved values; the padding is [value, value] widened to hold
    RN32(value) as well, so a float32 evaluation also lies inside."""
    (lo,), (hi,) = iv.inputs("pad", los, his, 1)
    v, v32 = float(value), float(np.float32(value))
    return iv.finish("pad", pad_real(lo, pads, min(v, v32)), pad_real(hi, pads, max(v, v32)))


# ---- interval rules -----------------------------------------------------------------

def _movement(name, real):
    """Interval rule of a data-movement op: exact, real applied to both bounds."""
    @iv.uses()
    def interval(los, his, **attrs):
        los, his = iv.inputs(name, los, his)
        return iv.finish(name, real(*los, **attrs), real(*his, **attrs))
    interval.__name__ = f"{name}_interval"
    return interval


# ---- samples ----------------------------------------------------------------------

def _attr_samples(cases):
    """cases: list of (shapes, attrs); shapes a shape or a tuple of shapes."""
    def samples(rng):
        out = []
        for shapes, attrs in cases:
            out.append(Sample(rand_samples([shapes])(rng)[0].inputs, attrs))
        return out
    return samples


_reshape_samples = _attr_samples([
    ((2, 3, 4), {"shape": (6, 4)}), ((2, 3, 4), {"shape": (0, -1)}), ((2, 3, 4), {"shape": (-1,)}),
    ((12,), {"shape": (2, 1, 6)}), ((2, 3, 4), {"shape": (0, 0, 2, 2)})])
_flatten_samples = _attr_samples([
    ((2, 3, 4), {}), ((2, 3, 4, 5), {"start_dim": 1, "end_dim": 2}), ((2, 3, 4), {"start_dim": 0}),
    ((3, 4), {"start_dim": -1})])
_transpose_samples = _attr_samples([
    ((3, 4), {"perm": (1, 0)}), ((2, 3, 4), {"perm": (2, 0, 1)}), ((2, 3, 4, 5), {"perm": (0, 2, 3, 1)})])
_concat_samples = _attr_samples([
    (((3, 4), (2, 4)), {}), (((2, 3), (2, 1), (2, 4)), {"axis": 1}), (((2, 3, 4), (2, 3, 2)), {"axis": -1}),
    (((3, 4),), {})])
_slice_samples = _attr_samples([
    ((5, 6), {"starts": (1,), "ends": (4,)}),
    ((5, 6), {"starts": (0, -4), "ends": (100, -1), "axes": (0, 1), "steps": (2, 1)}),
    ((2, 5, 6), {"starts": (-3,), "ends": (10**9,), "axes": (-1,), "steps": (2,)}),
    ((4, 3), {"starts": (1, 0), "ends": (3, 3), "axes": (1, 0)})])
_pad_samples = _attr_samples([
    ((3, 4), {"pads": (1, 0, 2, 3)}), ((2, 3, 4, 5), {"pads": (0, 0, 1, 0, 0, 0, 2, 1)}),
    ((2, 3), {"pads": (0, 0, 0, 0)}), ((2, 1, 3, 3), {"pads": (0, 0, 1, 1, 0, 0, 1, 1), "value": 0.1}),
    ((4,), {"pads": (2, 1), "value": -1.5})])


# ---- binary32 rules: data movement is exact, so binary32 is the real rule on float32 arrays

def _exact32(name, real):
    def kernel(*xs, order=None, backend=None, **attrs):
        return real(*(as_f32(x, name) for x in xs), **attrs)
    kernel.__name__ = f"b32_{name}"
    kernel.__doc__ = f"{name}: data movement only, exact (the real rule on float32 arrays)."
    return ieee(kernel)

# ---- error rules: these ops only move values, so errors move with them (er.structural)

register(OpDef(name="reshape", binary32=_exact32("reshape", reshape_real), module=_M, arity=(1,), attrs={"shape": REQUIRED}, shape=reshape_shape,
               real=reshape_real, vjp=reshape_vjp, jvp=reshape_jvp, samples=_reshape_samples,
               interval=_movement("reshape", reshape_real), error=er.structural(reshape_real), linear=True, doc=__doc__))
register(OpDef(name="flatten", binary32=_exact32("flatten", flatten_real), module=_M, arity=(1,), attrs={"start_dim": 1, "end_dim": -1},
               shape=flatten_shape, real=flatten_real, vjp=flatten_vjp, jvp=flatten_jvp,
               interval=_movement("flatten", flatten_real), error=er.structural(flatten_real), samples=_flatten_samples, linear=True,
               doc=__doc__))
register(OpDef(name="transpose", binary32=_exact32("transpose", transpose_real), module=_M, arity=(1,), attrs={"perm": REQUIRED}, shape=transpose_shape,
               real=transpose_real, vjp=transpose_vjp, jvp=transpose_jvp, samples=_transpose_samples,
               interval=_movement("transpose", transpose_real), error=er.structural(transpose_real), linear=True, doc=__doc__))
register(OpDef(name="concat", binary32=_exact32("concat", concat_real), module=_M, arity=(-1,), attrs={"axis": 0}, shape=concat_shape,
               real=concat_real, vjp=concat_vjp, jvp=concat_jvp, samples=_concat_samples,
               interval=_movement("concat", concat_real), error=er.structural(concat_real), linear=True, doc=__doc__))
register(OpDef(name="slice", binary32=_exact32("slice", slice_real), module=_M, arity=(1,),
               attrs={"starts": REQUIRED, "ends": REQUIRED, "axes": None, "steps": None},
               shape=slice_shape, real=slice_real, vjp=slice_vjp, jvp=slice_jvp, samples=_slice_samples,
               interval=_movement("slice", slice_real), error=er.structural(slice_real), linear=True, doc=__doc__))
register(OpDef(name="pad", binary32=_exact32("pad", pad_real), module=_M, arity=(1,), attrs={"pads": REQUIRED, "value": 0.0}, shape=pad_shape,
               real=pad_real, vjp=pad_vjp, jvp=pad_jvp, samples=_pad_samples,
               interval=pad_interval, error=pad_error, linear=False, doc=__doc__))
