"""CROWN rows of single neurons of a convolutional map, on windows ("patches").

A row that bounds one neuron at position (i, j) of a C x H x W map has nonzero
coefficients only inside the neuron's receptive field on every earlier map.
Carrying each row as a small window with its own offset, instead of a whole
map, cuts the backward substitution of a layer of single-neuron rows by the
ratio of map to receptive field (auto_LiRPA's "patches" mode does the same).

The windows are planned once per target from the graph: along every path a
row's window on a node sits at ``scale * i + shift`` (per axis) with a fixed
size. A convolution (stride s, padding p, kernel k, dilation d) maps a window
``(scale, shift, size)`` on its output to ``(s scale, s shift - p,
(size - 1) s + (k - 1) d + 1)`` on its input; relaxed elementwise ops and
per-channel affine ops (BatchNorm, add, sub, neg) keep it; where paths join
(a residual addition) the windows are united, which needs equal scales. Any
other op on the way (or a plan whose windows are no smaller than the maps)
sends the target back to the dense sweep.

Positions of a window outside its map (virtual padding) carry coefficient 0:
windows are masked when popped, relaxation lines, constants and the input box
are gathered with zero padding. Only plain CROWN (the default slopes) and box
regions take this path; the numbers equal the dense sweep's up to float
summation order.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops import get_op
from .net import Net, conv_transpose

POINTWISE = ("batch_norm", "add", "sub", "neg")


def plan(net: Net, target: str):
    """{node: ((scale_y, shift_y, size_y), (scale_x, shift_x, size_x))} for the rows
    of ``target``'s single neurons, with the per-channel diagonal of each pointwise
    affine node ({node: [diag per variable input]}), or None when the dense
    sweep is needed (or cheaper)."""
    if len(net.shape(target)) != 3:
        return None
    win = {target: ((1, 0, 1), (1, 0, 1))}
    diag = {}
    idx = net.order.index(target)
    for nid in reversed(net.order[:idx + 1]):
        if nid not in win or nid == net.input:
            continue
        n, kind = net.nodes[nid], net.kind[nid]
        w = win[nid]
        if kind == "relax":
            targets = [(n.inputs[0], w)]
        elif kind == "affine" and n.op == "conv2d" and net.var_inputs(nid) == [0]:
            (kh, kw) = net.const(n.inputs[1]).shape[2:]
            a = n.attrs
            new = tuple((s * sc, s * sh - p, (sz - 1) * s + (k - 1) * d + 1)
                        for (sc, sh, sz), s, p, k, d in zip(w, a["stride"], a["padding"], (kh, kw), a["dilation"]))
            targets = [(n.inputs[0], new)]
        elif kind == "affine" and n.op in POINTWISE and all(
                net.shape(n.inputs[p]) == net.shape(nid) for p in net.var_inputs(nid)):
            d = _pointwise_diag(net, nid)
            if d is None:
                return None
            diag[nid] = d
            targets = [(n.inputs[p], w) for p in net.var_inputs(nid)]
        else:
            return None
        for i, wi in targets:
            if len(net.shape(i)) != 3:
                return None
            if i in win:
                wi = _union(win[i], wi)
                if wi is None:
                    return None
            win[i] = wi
    if net.input not in win:
        return None
    # worth it only when the windows are clearly smaller than the maps
    area = sum(np.prod([a[2] for a in w]) * net.shape(k)[0] for k, w in win.items())
    full = sum(net.size(k) for k in win)
    return (win, diag) if area < 0.5 * full else None


def _union(a, b):
    out = []
    for (sa, ha, za), (sb, hb, zb) in zip(a, b):
        if sa != sb:
            return None
        lo = min(ha, hb)
        out.append((sa, lo, max(ha + za, hb + zb) - lo))
    return tuple(out)


def _pointwise_diag(net: Net, nid: str):
    """Per variable input, the (1, C, 1, 1) diagonal of a per-channel affine node
    (its vjp on a one-pixel map), or None when its constants vary over positions."""
    n = net.nodes[nid]
    C = net.shape(nid)[0]
    args = []
    for i in n.inputs:
        if i in net.var:
            args.append(np.zeros((1, C, 1, 1)))
        else:
            c = net.const(i)
            if c.ndim >= 2 and c.shape[-2:] != (1, 1):
                return None
            args.append(c)
    op = get_op(n.op)
    extra = {"needs": tuple(i in net.var for i in n.inputs)} if op.vjp_needs else {}
    try:
        cts = op.vjp(np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), *args, **n.attrs, **extra)
    except (ValueError, TypeError):
        return None
    out = []
    for i, c in zip(n.inputs, cts):
        if i in net.var:
            c = np.asarray(c, np.float64)
            if c.size != C:
                return None
            out.append(c.reshape(1, 1, C, 1, 1))
    return out


def _gather(m: np.ndarray, oy: np.ndarray, ox: np.ndarray, h: int, w: int, inv: np.ndarray) -> np.ndarray:
    """Windows (N, R, C, h, w) of maps ``m`` (N, C, H, W) at the distinct offsets
    (oy, ox) (P,), row r taking window ``inv[r]``; zero outside the maps. Rows share
    windows (every channel at a position, both signs): each is cut once, then
    copied whole to its rows."""
    H, W = m.shape[-2:]
    pt, pb = max(0, -int(oy.min())), max(0, int(oy.max()) + h - H)
    pl, pr = max(0, -int(ox.min())), max(0, int(ox.max()) + w - W)
    if pt or pb or pl or pr:
        m = np.pad(m, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    v = sliding_window_view(m, (h, w), axis=(2, 3))            # (N, C, H', W', h, w)
    return np.ascontiguousarray(np.moveaxis(v[:, :, oy + pt, ox + pl], 2, 1))[:, inv]


def _mask(oy, ox, h, w, H, W):
    my = ((oy[:, None] + np.arange(h)) >= 0) & ((oy[:, None] + np.arange(h)) < H)
    mx = ((ox[:, None] + np.arange(w)) >= 0) & ((ox[:, None] + np.arange(w)) < W)
    return (my[:, None, :, None] & mx[:, None, None, :]).astype(np.float64)        # (R, 1, h, w)


def window_lower(net: Net, target: str, rows: np.ndarray, signs: np.ndarray, bounds: dict, region, relaxation,
                 planned) -> np.ndarray:
    """Lower bounds (N, R) of ``signs[r] * target[rows[r]]`` over the box region,
    by CROWN on windows. ``relaxation(nid)`` gives a relaxed node's lines
    (lw, lb, uw, ub), each (N|1, 1, *shape)."""
    win, diag = planned
    N = region.n
    shape = net.shape(target)
    H, W = shape[1:]
    c, pos = np.divmod(rows, H * W)
    iy, ix = np.divmod(pos, W)
    R = rows.size
    A0 = np.zeros((N, R, shape[0], 1, 1))
    A0[:, np.arange(R), c, 0, 0] = signs
    acc = {target: A0}
    bias = np.zeros((N, R))
    idx = net.order.index(target)

    upos, inv = np.unique(pos, return_inverse=True)          # the rows' distinct positions
    inv = inv.ravel()
    uy, ux = np.divmod(upos, W)

    def offsets(nid):
        """The window corners of the distinct positions (P,) and the window size."""
        (sy, hy, zy), (sx, hx, zx) = win[nid]
        return sy * uy + hy, sx * ux + hx, zy, zx

    def push(i, a, hy, hx):
        """Add window coefficients ``a`` whose shifts are (hy, hx) into node i's planned window."""
        (_, hy0, zy), (_, hx0, zx) = win[i]
        dy, dx = hy - hy0, hx - hx0
        if i not in acc and (dy, dx) == (0, 0) and a.shape[3:] == (zy, zx):
            acc[i] = a if a.flags.writeable else a.copy()       # a fresh array: taken as it is
            return
        if i not in acc:
            acc[i] = np.zeros(a.shape[:3] + (zy, zx))
        acc[i][..., dy:dy + a.shape[3], dx:dx + a.shape[4]] += a

    for nid in reversed(net.order[:idx + 1]):
        if nid not in acc:
            continue
        a = acc.pop(nid)
        oy, ox, h, w = offsets(nid)
        n, kind = net.nodes[nid], net.kind.get(nid)
        if nid != net.input and kind != "relax":
            # coefficients at virtual positions are dropped; at the input and at relaxed
            # nodes the zero-padded box and lines drop them anyway
            a = a * _mask(oy, ox, h, w, *net.shape(nid)[1:])[inv]
        if nid == net.input:
            lo, hi = _gather(region.lo, oy, ox, h, w, inv), _gather(region.hi, oy, ox, h, w, inv)
            return bias + np.sum(np.maximum(a, 0) * lo + np.minimum(a, 0) * hi, axis=(2, 3, 4))
        if kind == "relax":
            lines = np.stack(np.broadcast_arrays(*(x[:, 0] for x in relaxation(nid))))     # (4, N|1, C, H, W)
            lw, lb, uw, ub = _gather(lines.reshape((-1,) + lines.shape[2:]), oy, ox, h, w, inv).reshape(
                (4, -1) + a.shape[1:])
            ap, am = np.maximum(a, 0), np.minimum(a, 0)
            bias += np.sum(ap * lb + am * ub, axis=(2, 3, 4))
            push(n.inputs[0], ap * lw + am * uw, win[nid][0][1], win[nid][1][1])
            continue
        f0 = net.f0(nid)
        at = n.attrs
        if n.op == "conv2d" and nid == target and at["groups"] == 1 and tuple(at["dilation"]) == (1, 1):
            # the rows are signed single neurons: a row's transpose is its kernel
            # slice, its constant the neuron's own (what the general step computes)
            kernel = net.const(n.inputs[1])
            bias += signs * f0[0, c, iy, ix]
            t = np.broadcast_to(signs[:, None, None, None] * kernel[c], (N, R) + kernel.shape[1:])
        elif n.op == "conv2d":
            bias += np.sum(a * _gather(f0, oy, ox, h, w, inv), axis=(2, 3, 4))
            x_c = net.shape(n.inputs[0])[0]
            (kh, kw) = net.const(n.inputs[1]).shape[2:]
            hi_ = (h - 1) * at["stride"][0] + (kh - 1) * at["dilation"][0] + 1
            wi_ = (w - 1) * at["stride"][1] + (kw - 1) * at["dilation"][1] + 1
            flat = a.reshape((N * R,) + a.shape[2:])
            t = conv_transpose(flat, net.const(n.inputs[1]), (x_c, hi_, wi_), stride=at["stride"], padding=(0, 0),
                               dilation=at["dilation"], groups=at["groups"])
            t = t.reshape((N, R) + t.shape[1:])
        if n.op == "conv2d":
            (_, hy, _), (_, hx, _) = win[nid]
            push(n.inputs[0], t, at["stride"][0] * hy - at["padding"][0], at["stride"][1] * hx - at["padding"][1])
        else:
            bias += np.sum(a * _gather(f0, oy, ox, h, w, inv), axis=(2, 3, 4))
            for p, dg in zip(net.var_inputs(nid), diag[nid]):
                push(n.inputs[p], a * dg, win[nid][0][1], win[nid][1][1])
    raise AssertionError("the planned windows do not reach the input")  # pragma: no cover
