"""What bound propagation needs to know about a graph, computed once.

The graph is unfused (one op per node). ``var`` nodes depend on the single
graph input; every other node is a constant (parameters, consts, and anything
computed from them only). Each var node gets a *kind*:

* ``affine``: the op's ``relax`` rule is :data:`certnn.ops.relax.AFFINE` and its
  variable inputs sit where the op is affine in them;
* ``relax``: an elementwise unary op with a linear relaxation rule;
* ``planes``: an op relaxed by two linear functions of all its variable inputs
  (a ``multivariate`` relax rule: softmax's tangent planes; McCormick planes for
  a product of two variable inputs, ``relax.BILINEAR``);
* ``interval``: anything else with an ``interval`` rule, relaxed by the
  constant bounds of its output (IBP inside CROWN; recorded in results);
* no interval rule either: :class:`~certnn.errors.UnsupportedOp`.

``prefix`` nodes are affine functions of the input (only affine ops on the
way); CROWN bounds them exactly from their Jacobian, computed once per graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..errors import CertnnError, GraphError, UnsupportedOp
from ..floats import interval as iv
from ..ir.graph import Graph
from ..ir.interpret import evaluate
from ..ir.passes import unfuse
from ..ops import get_op
from ..ops._common import unbroadcast
from ..ops.relax import AFFINE, AFFINE_OPS, BILINEAR
from ..spec.region import Region


@dataclass
class Net:
    graph: Graph                      # unfused
    input: str
    output: str
    var: set
    kind: dict                        # var node id -> "affine" | "relax" | "interval"
    order: list                       # var node ids (incl. input) in topological order
    nodes: dict
    need: list                        # var nodes whose bounds CROWN needs, topological order
    prefix: set
    _f0: dict = field(default_factory=dict)
    _jac: dict = field(default_factory=dict)
    _abs_jac: dict = field(default_factory=dict)
    _consts: dict | None = None
    plans: dict = field(default_factory=dict)     # target -> window plan (certnn.bounds.window) or None
    dtype: type = np.float64          # what apply/transpose compute in (see ``working``)
    _working: dict = field(default_factory=dict)
    _forms: dict = field(default_factory=dict)    # conv node -> its faster form, or None: see _conv_form

    def working(self, dtype) -> "Net":
        """This net with its affine steps (``f0``, ``apply``, ``transpose``) in
        ``dtype``. float32 is for the optimization steps of a search, whose
        bounds are then re-derived by a float64 sweep (:func:`certnn.bounds.split.split_bounds`):
        about twice the speed, and nothing computed in it is reported."""
        dtype = np.dtype(dtype).type
        if dtype is self.dtype:
            return self
        if dtype not in self._working:
            consts = {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in self.constants().items()}
            self._working[dtype] = Net(self.graph, self.input, self.output, self.var, self.kind, self.order,
                                       self.nodes, self.need, self.prefix, _consts=consts, dtype=dtype)
        return self._working[dtype]

    # ---- shapes ----------------------------------------------------------------------------
    def shape(self, nid: str) -> tuple:
        return tuple(self.nodes[nid].shape[1:])

    def size(self, nid: str) -> int:
        return int(np.prod(self.shape(nid), dtype=np.int64))

    # ---- affine steps --------------------------------------------------------------------
    def var_inputs(self, nid: str) -> list[int]:
        return [p for p, i in enumerate(self.nodes[nid].inputs) if i in self.var]

    def f0(self, nid: str) -> np.ndarray:
        """The constant term of an affine node: f with its variable inputs 0 (batch 1)."""
        if nid not in self._f0:
            n = self.nodes[nid]
            args = [np.zeros((1,) + self.shape(i), self.dtype) if i in self.var else self.const(i) for i in n.inputs]
            self._f0[nid] = np.asarray(get_op(n.op).real(*args, **n.attrs), self.dtype)
        return self._f0[nid]

    def apply(self, nid: str, xs: list) -> np.ndarray:
        """The node's real rule on given values of its variable inputs (in ``dtype``)."""
        n = self.nodes[nid]
        form = self._conv_form(nid)
        if form is not None and form[0] == "dense":
            x = xs[0]
            return (x.reshape(x.shape[0], -1) @ form[1].T).reshape((x.shape[0],) + self.shape(nid)) + self.f0(nid)
        if form is not None:
            return conv_shifted(xs[0], form[1], form[2]) + self.f0(nid)
        it = iter(xs)
        args = [next(it) if i in self.var else self.const(i) for i in n.inputs]
        return np.asarray(get_op(n.op).real(*args, **n.attrs), self.dtype)

    def transpose(self, nid: str, a: np.ndarray) -> list:
        """Backward step of an affine node: coefficients ``a`` (M, *out_shape) on its
        output become coefficients on each variable input, via the op's vjp rule
        (a convolution in the variable input alone: its transposed convolution on
        the coefficient tensor, see :func:`conv_transpose`, or the faster form
        :meth:`_conv_form` chose)."""
        n = self.nodes[nid]
        form = self._conv_form(nid)
        if form is not None and form[0] == "dense":
            return [(a.reshape(a.shape[0], -1) @ form[1]).reshape((a.shape[0],) + self.shape(n.inputs[0]))]
        if form is not None:
            return [conv_shifted(a, form[3], form[4])]
        if n.op == "conv2d" and self.var_inputs(nid) == [0]:
            x = self.shape(n.inputs[0])
            return [conv_transpose(a, self.const(n.inputs[1]), x, **n.attrs)]
        return self._vjp(nid, a)

    def _conv_form(self, nid: str):
        """How ``apply``/``transpose`` compute a convolution in its first input alone
        faster than im2col and col2im, decided and prepared once per node:

        * ``("dense", D)``: its matrix (out size, in size), when that has no more
          entries than the convolution has multiply-adds: on small maps most kernel
          taps fall in the padding (a ResNet's 3x3 convolution on 2x2 maps: one GEMM
          is about 3x faster than im2col, 4x than col2im);
        * ``("shifted", w, padding, w_adj, padding_adj)``: stride 1, no dilation or
          groups, padding within the kernel, an output map of at least
          ``SHIFTED_MIN_MAP`` positions (on smaller maps the padded columns cost more
          than the copy they save): :func:`conv_shifted`, and for the adjoint the
          convolution with the kernel flipped and its channels swapped, padded by
          k - 1 - p;
        * None: the op's own rules."""
        if nid not in self._forms:
            n = self.nodes[nid]
            form = None
            if n.op == "conv2d" and self.var_inputs(nid) == [0]:
                w, a = self.const(n.inputs[1]), n.attrs
                out, inp = self.size(nid), self.size(n.inputs[0])
                (kh, kw), (ph, pw) = w.shape[2:], a["padding"]
                if out * inp <= DENSE_CONV_MAX and out * inp <= DENSE_CONV_RATIO * out * int(np.prod(w.shape[1:])):
                    eye = np.eye(inp, dtype=self.dtype).reshape((inp,) + self.shape(n.inputs[0]))
                    form = ("dense", np.ascontiguousarray(
                        np.asarray(get_op("conv2d").real(eye, w, **a), self.dtype).reshape(inp, out).T))
                elif (tuple(a["stride"]) == (1, 1) and tuple(a.get("dilation", (1, 1))) == (1, 1)
                      and a.get("groups", 1) == 1 and ph < kh and pw < kw
                      and int(np.prod(self.shape(nid)[1:])) >= SHIFTED_MIN_MAP):
                    form = ("shifted", w, (ph, pw), np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)),
                            (kh - 1 - ph, kw - 1 - pw))
            self._forms[nid] = form
        return self._forms[nid]

    def _vjp(self, nid: str, a: np.ndarray) -> list:
        n = self.nodes[nid]
        op = get_op(n.op)
        m = a.shape[0]
        args = [np.broadcast_to(np.zeros((), self.dtype), (m,) + self.shape(i)) if i in self.var
                else self.const(i) for i in n.inputs]
        extra = {}
        if op.vjp_needs:
            extra["needs"] = tuple(i in self.var for i in n.inputs)
        out = np.broadcast_to(np.zeros((), self.dtype), a.shape)
        cts = op.vjp(a, out, *args, **n.attrs, **extra)
        res = []
        for i, c in zip(n.inputs, cts):
            if i in self.var:
                res.append(unbroadcast(np.asarray(c, self.dtype), (m,) + self.shape(i)))
        return res

    def constants(self) -> dict:
        """The values of the nodes that do not depend on the input, frozen
        (:func:`evaluate_consts`), evaluated on first use."""
        if self._consts is None:
            self._consts = evaluate_consts(self.graph)
        return self._consts

    def const(self, nid: str) -> np.ndarray:
        return self.constants()[nid]

    # ---- exact bounds of prefix nodes ----------------------------------------------------
    def jacobian(self, nid: str) -> np.ndarray:
        """(size(nid), size(input)) matrix of a prefix node's linear part."""
        if nid not in self._jac:
            k = self.size(nid)
            a = np.eye(k).reshape((k,) + self.shape(nid))
            acc = {nid: a}
            for m in reversed(self.order):
                if m not in acc or m == self.input:
                    continue
                am = acc.pop(m)
                for i, c in zip([self.nodes[m].inputs[p] for p in self.var_inputs(m)], self.transpose(m, am)):
                    acc[i] = c if i not in acc else acc[i] + c
            self._jac[nid] = acc[self.input].reshape(k, -1)
        return self._jac[nid]

    def box_radius(self, nid: str, r: np.ndarray) -> np.ndarray:
        """``|J| r`` for radii ``r`` (N, size(input)): (N, size(nid)), the radius of a
        prefix node over a box. ``|J|`` is kept with the Jacobian, as a sparse matrix
        where it is mostly zeros (a convolution's: a row has a kernel's entries), so
        a call costs the nonzeros, not the map times the input."""
        if nid not in self._abs_jac:
            J = np.abs(self.jacobian(nid))
            nnz = np.count_nonzero(J)
            self._abs_jac[nid] = sparse.csr_array(J) if nnz < SPARSE_JACOBIAN * J.size else np.ascontiguousarray(J)
        return (self._abs_jac[nid] @ r.T).T


SPARSE_JACOBIAN = 0.1      # density below which |J| is kept sparse
JACOBIAN_MAX = 1 << 20      # entries of a prefix node's Jacobian above which a box is bounded by intervals
#                             (building it would cost more than many calls of the interval rule)
DENSE_CONV_MAX = 1 << 20    # entries of a convolution's matrix that _conv_form may build ...
DENSE_CONV_RATIO = 1        # ... when at most as many as the convolution's multiply-adds
SHIFTED_MIN_MAP = 64        # output positions from which a stride-1 convolution runs as shifted GEMMs
SHIFTED_CHUNK = 1 << 22     # elements of its padded input (and output) buffer per chunk of rows
TRANSPOSE_CHUNK = 1 << 18  # elements of a transposed convolution's column buffer per chunk of rows


def conv_transpose(a: np.ndarray, w: np.ndarray, x_shape: tuple, *, stride, padding, dilation, groups) -> np.ndarray:
    """The adjoint of ``x -> conv2d(x, w)`` applied to coefficient rows ``a``
    (M, O, Ho, Wo): (M, C, H, W). Per chunk of rows and group one GEMM of the
    transposed kernel (cg kH kW, og) against all rows' positions side by side, then
    a col2im over the kH kW kernel positions (one large GEMM instead of m small
    ones: the maps of deep layers have few positions). The col2im's strided adds
    run along the longer of the rows axis and the map's width (the innermost axis
    of the buffer), so numpy's inner loops stay long."""
    M, O, Ho, Wo = a.shape
    C, H, Wd = x_shape
    _, cg, kh, kw = w.shape
    og = O // groups
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    dt = np.result_type(a, w)
    wt = np.ascontiguousarray(w.reshape(groups, og, cg * kh * kw).transpose(0, 2, 1), dt)   # (G, cg kk, og)
    Hp = max(H + 2 * ph, (Ho - 1) * sh + (kh - 1) * dh + 1)
    Wp = max(Wd + 2 * pw, (Wo - 1) * sw + (kw - 1) * dw + 1)
    out = np.empty((M, C, H, Wd), dt)
    step = max(1, TRANSPOSE_CHUNK // max(1, cg * kh * kw * Ho * Wo * groups))
    for s in range(0, M, step):
        m = min(step, M - s)
        rows_last = m > Wo                      # buffer (C, Hp, Wp, m), else (C, m, Hp, Wp)
        buf = np.zeros((C, Hp, Wp, m) if rows_last else (C, m, Hp, Wp), dt)
        for g in range(groups):
            ag = a[s:s + m, g * og:(g + 1) * og]
            if rows_last:
                cols = (wt[g] @ ag.transpose(1, 2, 3, 0).reshape(og, -1)).reshape(cg, kh, kw, Ho, Wo, m)
            else:
                cols = (wt[g] @ ag.reshape(m, og, Ho * Wo).transpose(1, 0, 2).reshape(og, -1))
                cols = cols.reshape(cg, kh, kw, m, Ho, Wo)
            bg = buf[g * cg:(g + 1) * cg]
            for p in range(kh):
                hs = slice(p * dh, p * dh + sh * (Ho - 1) + 1, sh)
                for q in range(kw):
                    ws = slice(q * dw, q * dw + sw * (Wo - 1) + 1, sw)
                    if rows_last:
                        bg[:, hs, ws] += cols[:, p, q]
                    else:
                        bg[:, :, hs, ws] += cols[:, p, q]
        if rows_last:
            out[s:s + m] = buf[:, ph:ph + H, pw:pw + Wd].transpose(3, 0, 1, 2)
        else:
            out[s:s + m] = buf[:, :, ph:ph + H, pw:pw + Wd].transpose(1, 0, 2, 3)
    return out


def conv_shifted(x: np.ndarray, w: np.ndarray, padding) -> np.ndarray:
    """A stride-1 convolution (N, C, H, W) * (O, C, kH, kW) -> (N, O, Ho, Wo), no
    bias, as one GEMM per kernel tap on shifted views, without im2col's copy. In
    the zero-padded layout (C, Hp, Wp, N) flattened per channel, the input under
    tap (p, q) for every output position of a padded-width row is one contiguous
    run starting (p Wp + q) N further on, so each tap is ``w[:, :, p, q] @`` a
    strided view (BLAS reads it in place); the Wp - Wo columns per row that run
    into the next row are computed and dropped."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    ph, pw = padding
    Hp, Wp = H + 2 * ph, W + 2 * pw
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    dt = np.result_type(x, w)
    step = max(1, SHIFTED_CHUNK // max(1, max(C, O) * (Hp + 1) * Wp))
    if N > step:                                  # many rows (intermediate bounds): bounded buffers
        out = np.empty((N, O, Ho, Wo), dt)
        for s in range(0, N, step):
            out[s:s + step] = conv_shifted(x[s:s + step], w, padding)
        return out
    g = np.zeros((C, Hp + 1, Wp, N), dt)          # one spare row: the last tap's run ends past Hp
    g[:, ph:ph + H, pw:pw + W] = x.transpose(1, 2, 3, 0)
    g = g.reshape(C, -1)
    L = Ho * Wp * N
    out = np.zeros((O, L), dt)
    wt = np.ascontiguousarray(w.transpose(2, 3, 0, 1), dt)          # (kH, kW, O, C)
    for p in range(kh):
        for q in range(kw):
            off = (p * Wp + q) * N
            out += wt[p, q] @ g[:, off:off + L]
    return np.ascontiguousarray(out.reshape(O, Ho, Wp, N)[:, :, :Wo].transpose(3, 0, 1, 2))


def evaluate_consts(g: Graph) -> dict:
    """Values of every node that does not depend on the input, as frozen float64 copies
    (:func:`certnn.floats.interval.freeze`: read-only, so a graph changed later cannot
    change them, and interval rules need not re-check them on every call)."""
    vals = {}
    for n in g.nodes:
        if n.op in ("param", "const"):
            vals[n.id] = iv.freeze(g.arrays[n.id])
        elif n.op != "input" and all(i in vals for i in n.inputs):
            vals[n.id] = iv.freeze(get_op(n.op).real(*[vals[i] for i in n.inputs], **n.attrs))
    return vals


def planes_rule(op_name: str):
    """The multivariate relax rule of an op that is not affine in its variable inputs."""
    rule = get_op(op_name).relax
    if getattr(rule, "multivariate", False):
        return rule
    return BILINEAR.get(op_name)


def _affine_ok(op_name: str, var_pos: list[int], arity: int) -> bool:
    rule = AFFINE_OPS.get(op_name)
    if rule == "any":
        return True
    if rule == "one":
        return len(var_pos) == 1
    return rule is not None and set(var_pos) <= set(rule)


def analyze(graph: Graph) -> Net:
    g = unfuse(graph)
    inputs = [n.id for n in g.nodes if n.op == "input"]
    if len(inputs) != 1:
        raise GraphError(f"bound propagation needs a graph with one input, this one has {len(inputs)}")
    if len(g.outputs) != 1:
        raise GraphError(f"bound propagation needs a graph with one output, this one has {len(g.outputs)}")
    for k, a in g.arrays.items():  # a NaN weight would give NaN bounds that compare False
        a = np.asarray(a)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise CertnnError(f"the model's array '{k}' contains NaN or infinite values; cannot bound it")
    nodes = {n.id: n for n in g.nodes}
    var, kind, order = {inputs[0]}, {}, [inputs[0]]
    for n in g.nodes:
        if n.is_source or not any(i in var for i in n.inputs):
            continue
        var.add(n.id)
        order.append(n.id)
        op = get_op(n.op)
        pos = [p for p, i in enumerate(n.inputs) if i in var]
        if op.relax == AFFINE and _affine_ok(n.op, pos, len(n.inputs)):
            kind[n.id] = "affine"
        elif planes_rule(n.op) is not None:
            kind[n.id] = "planes"
        elif callable(op.relax) and op.elementwise and len(n.inputs) == 1:
            kind[n.id] = "relax"
        elif op.interval is not None:
            kind[n.id] = "interval"
        else:
            raise UnsupportedOp(n.op, "relax/interval", f"node '{n.id}' cannot be bounded")
    out = g.outputs[0]
    if out not in var:
        raise CertnnError(f"the graph output '{out}' does not depend on the input")
    need_set = set()
    for nid, k in kind.items():
        if k in ("relax", "interval", "planes"):
            need_set.update(i for i in nodes[nid].inputs if i in var)
        if k == "interval":
            need_set.add(nid)
    prefix = {inputs[0]}
    for nid in order[1:]:
        if kind[nid] == "affine" and all(i in prefix or i not in var for i in nodes[nid].inputs):
            prefix.add(nid)
    need = [nid for nid in order if nid in need_set and nid != inputs[0]]
    return Net(g, inputs[0], out, var, kind, order, nodes, need, prefix)


def check_region(net: Net, region: Region) -> None:
    want = net.shape(net.input)
    if tuple(region.shape) != want:
        raise CertnnError(f"the region has input shape {region.shape} but the model expects {want}")


def prefix_bounds(net: Net, nid: str, region: Region, channel_max: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact bounds of an affine function of the input over the region: the
    centre's image plus the dual norm (ball) or |J| times the radius (box).
    ``channel_max`` replaces each row norm by the largest in its channel (the
    whole-kernel norm auto_LiRPA uses; looser, still sound)."""
    chain = exact_chain(net, nid, {net.input}, affine_ops=1)
    if region.norm in ("box", "inf") and chain is not None and net.size(nid) * net.size(net.input) > JACOBIAN_MAX:
        # one affine map of the box (reshapes around it, as a 1-D convolution's import
        # has): its interval image is exact up to outward rounding, without the
        # Jacobian (large for a convolution of an image)
        return chain_image(net, chain, {net.input: (region.lo, region.hi)})
    J = net.jacobian(nid)
    c = (region.lo + region.hi) / 2
    r = (region.hi - region.lo) / 2
    n = region.n
    mid = _forward_prefix(net, nid, c).reshape(n, -1)
    rad = net.box_radius(nid, r.reshape(n, -1))
    lo, hi = mid - rad, mid + rad
    if region.norm in ("2", "1"):
        q = {"2": 2, "1": np.inf}[region.norm]
        ctr = _forward_prefix(net, nid, region.center).reshape(n, -1)
        dev = region.eps * np.linalg.norm(J, ord=q, axis=1)
        shp = net.shape(nid)
        if channel_max and len(shp) >= 2:
            dev = np.broadcast_to(dev.reshape(shp[0], -1).max(axis=1, keepdims=True), (shp[0], dev.size // shp[0])).ravel()
        lo, hi = np.maximum(lo, ctr - dev), np.minimum(hi, ctr + dev)
    shp = (n,) + net.shape(nid)
    return lo.reshape(shp), hi.reshape(shp)


REARRANGE = ("reshape", "flatten")     # exact: every output element is one input element


def exact_chain(net: Net, nid: str, known, affine_ops: int = 0) -> list | None:
    """The nodes after a node of ``known`` up to ``nid`` (in order) when that path is a
    chain (one variable input each) whose interval image is the exact range up to
    rounding: rearrangements, relus (the exact elementwise range) and at most
    ``affine_ops`` other affine ops, each of whose outputs is one affine function of
    its input, exact over a box only when that input is one; None otherwise."""
    chain, cur = [], nid
    while cur not in known:
        n = net.nodes[cur]
        var = [i for i in n.inputs if i in net.var]
        if len(var) != 1:
            return None
        if n.op not in REARRANGE + ("relu",):
            if affine_ops < 1 or net.kind.get(cur) != "affine":
                return None
            affine_ops -= 1
        chain.append(cur)
        cur = var[0]
    return chain[::-1]


def chain_image(net: Net, chain: list, known: dict) -> tuple[np.ndarray, np.ndarray]:
    """The op table's interval rules along ``chain`` from the ``known`` bounds."""
    b = dict(known)
    for m in chain:
        n = net.nodes[m]
        los = [b[i][0] if i in net.var else net.const(i) for i in n.inputs]
        his = [b[i][1] if i in net.var else net.const(i) for i in n.inputs]
        b[m] = get_op(n.op).interval(los, his, **n.attrs)
    lo, hi = b[chain[-1]]
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


def _forward_prefix(net: Net, nid: str, x: np.ndarray) -> np.ndarray:
    vals = {net.input: x}
    for m in net.order[1:]:
        if m not in net.prefix:
            continue
        vals[m] = net.apply(m, [vals[i] for i in net.nodes[m].inputs if i in net.var])
        if m == nid:
            break
    return vals[nid]


__all__ = ["Net", "analyze", "check_region", "prefix_bounds", "exact_chain", "chain_image", "evaluate_consts",
           "evaluate"]
